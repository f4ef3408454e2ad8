"""Production is known by what it is: its server's system identifier, recorded on first use.

The done-when of issue 26: once runbook has reached the production-like server under its proxy
name, a restore into it through a local TCP forward (``railway connect --tunnel-only`` gives a
reader exactly that: ``localhost:PORT``) exits 8 without ``--production``, and leaves nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from runbook_helpers.errors import ExitStatus, UnsafeTarget
from runbook_helpers.pg.identity import load_records, records_path, remember
from runbook_helpers.pg.target import Target, check_not_production, server_identifier
from runbook_helpers.sandbox import sandbox_environment
from runbook_helpers.sandbox.postgres import PostgresServer
from tests.fixtures.page_state import PROXY_HOST
from tests.support.cli_runs import run_cli
from tests.support.tcp_forward import tcp_forward


@pytest.fixture
def env(pg_server: PostgresServer, tmp_path: Path) -> dict[str, str]:
    """The sandbox's environment with an own, empty record of production's servers."""
    return {**sandbox_environment(pg_server, None), "XDG_CONFIG_HOME": str(tmp_path / "config")}


def proxy_url(pg: PostgresServer, dbname: str) -> str:
    """The production-like server under production's proxy name (hostaddr: the test server)."""
    return f"postgresql://{PROXY_HOST}:{pg.port}/{dbname}?hostaddr={pg.host}"


def exists(pg: PostgresServer, dbname: str) -> bool:
    return dbname in pg.list_databases()


def identifier_of(pg: PostgresServer) -> str:
    with psycopg.connect(
        host=pg.host, port=pg.port, user=pg.user, password=pg.password, dbname="postgres"
    ) as conn:
        row = conn.execute("select system_identifier::text from pg_control_system()").fetchone()
    assert row is not None
    return str(row[0])


@pytest.mark.slow(seconds=12)
def test_a_tunnel_to_production_needs_production(
    pg_server: PostgresServer, env: dict[str, str], seeded_tar_gz: Path, tmp_path: Path
) -> None:
    backup = str(seeded_tar_gz)
    first = run_cli(
        [
            "restore",
            backup,
            "--target",
            proxy_url(pg_server, "vlvt_first"),
            "--production",
            "--create",
        ],
        env,
        secrets=[pg_server.password],
    )
    try:
        assert first.status == 0, first.stderr
        records = json.loads((tmp_path / "config/runbook/production-servers.json").read_text())
        assert [s["system_identifier"] for s in records["servers"]] == [identifier_of(pg_server)]
        assert records["servers"][0]["seen_as"] == f"{PROXY_HOST}:{pg_server.port}"
        with tcp_forward(pg_server.host, pg_server.port) as port:
            for host in ("localhost", "127.0.0.1"):
                url = f"postgresql://{host}:{port}/vlvt_through_tunnel"
                res = run_cli(
                    ["restore", backup, "--target", url, "--create"],
                    env,
                    secrets=[pg_server.password],
                )
                assert res.status == ExitStatus.UNSAFE_TARGET == 8, res.stderr
                assert f"the target server {host}:{port} is production's" in res.error_line
                assert identifier_of(pg_server) in res.error_line
                assert "--production" in res.stderr
                assert not exists(pg_server, "vlvt_through_tunnel")
            # with --production it is a production restore like any other
            url = f"postgresql://localhost:{port}/vlvt_through_tunnel"
            res = run_cli(
                ["restore", backup, "--target", url, "--create", "--production"],
                env,
                secrets=[pg_server.password],
            )
            assert res.status == 0, res.stderr
    finally:
        for name in ("vlvt_first", "vlvt_through_tunnel"):
            if exists(pg_server, name):
                pg_server.drop_database(name)


def test_the_target_itself_from_the_issue(
    pg_server: PostgresServer, env: dict[str, str], seeded_tar_gz: Path
) -> None:
    """`runbook restore FILE --target postgresql://localhost:PORT/x` exits 8 (issue 26)."""
    target = Target.parse(proxy_url(pg_server, "postgres"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CONFIG_HOME", env["XDG_CONFIG_HOME"])
        mp.setenv("PGUSER", pg_server.user)
        mp.setenv("PGPASSWORD", pg_server.password or "")
        check_not_production(target, production=True)  # reached under its name: recorded
        assert [s.system_identifier for s in load_records()] == [identifier_of(pg_server)]
    with tcp_forward(pg_server.host, pg_server.port) as port:
        url = f"postgresql://localhost:{port}/x"
        res = run_cli(["restore", str(seeded_tar_gz), "--target", url], env)
    assert res.status == 8, res.stderr
    assert not exists(pg_server, "x")


def test_an_unrecorded_server_is_not_production(
    pg_server: PostgresServer, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", env["XDG_CONFIG_HOME"])
    monkeypatch.setenv("PGPASSWORD", pg_server.password or "")
    monkeypatch.setenv("PGUSER", pg_server.user)
    with tcp_forward(pg_server.host, pg_server.port) as port:
        target = Target.parse(f"postgresql://localhost:{port}/vlvt_scratch")
        check_not_production(target, production=False)  # nothing recorded: a scratch server
        assert server_identifier(target) == identifier_of(pg_server)
    assert load_records() == []  # looking is not recording


def test_refused_by_name_before_any_connection_records_nothing(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", env["XDG_CONFIG_HOME"])
    with pytest.raises(UnsafeTarget, match="looks like production"):
        check_not_production(
            Target.parse("postgresql://db.proxy.rlwy.net:1/x?hostaddr=192.0.2.1"),
            production=False,
        )
    assert not records_path().exists()


def test_records_only_add(tmp_path: Path) -> None:
    path = tmp_path / "runbook" / "production-servers.json"
    assert load_records(path) == []
    one = remember("7000000000000000001", "a.proxy.rlwy.net:1", path)
    assert remember("7000000000000000001", "localhost:2", path) == one  # kept, not replaced
    remember("7000000000000000002", "b.proxy.rlwy.net:3", path)
    assert [s.system_identifier for s in load_records(path)] == [
        "7000000000000000001",
        "7000000000000000002",
    ]


@pytest.mark.parametrize("content", ["{not json", '{"servers": [{"x": 1}]}', "[]"])
def test_an_unreadable_record_refuses_instead_of_allowing(
    pg_server: PostgresServer, env: dict[str, str], content: str, seeded_tar_gz: Path
) -> None:
    path = Path(env["XDG_CONFIG_HOME"]) / "runbook" / "production-servers.json"
    path.parent.mkdir(parents=True)
    path.write_text(content)
    url = f"postgresql://localhost:{pg_server.port}/vlvt_never"
    res = run_cli(["restore", str(seeded_tar_gz), "--target", url, "--create"], env)
    assert res.status == 8, res.stderr
    assert "cannot read the record of production's servers" in res.error_line
    assert not exists(pg_server, "vlvt_never")
