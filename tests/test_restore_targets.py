"""Targets a restore refuses, the production guard, one restore per target, side-db names."""

from __future__ import annotations

import argparse
import ast
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from unittest import mock

import psycopg
import pytest

from runbook_helpers.cli import build_parser
from runbook_helpers.errors import ExitStatus, UnsafeTarget
from runbook_helpers.pg.target import Target, derived_name, is_production
from runbook_helpers.restore.side_database import swap
from runbook_helpers.sandbox.postgres import PostgresServer
from tests.support import faults
from tests.support.cli_checks import assert_clean_failure
from tests.support.cli_runs import run_cli, spawn_runbook

ROOT = Path(__file__).resolve().parent.parent
RUNBOOK = (sys.executable, "-m", "runbook_helpers")


@pytest.mark.parametrize(
    ("url", "env"),
    [
        ("postgresql:///x", {"PGHOST": "db.proxy.rlwy.net"}),
        ("postgresql:///x", {"PGHOST": "DB.Proxy.RLWY.net."}),
        ("postgresql:///x", {"PGHOSTADDR": "10.0.0.5", "RUNBOOK_PRODUCTION_HOSTS": "10.0.0.*"}),
        ("postgresql:///x?host=postgres.railway.internal", {}),
        ("postgresql://u@api-vlvt.up.railway.app:5432/x", {}),
        ("postgresql://u@localhost/x?hostaddr=10.1.2.3", {"RUNBOOK_PRODUCTION_HOSTS": "10.1.*"}),
        ("postgresql://u@h1,roundhouse.proxy.rlwy.net/x", {}),
        ("postgresql:///x?service=prod", {}),
        ("postgresql:///x", {"PGSERVICE": "prod"}),
    ],
)
def test_production_guard_reads_what_libpq_reads(
    url: str, env: dict[str, str], tmp_path: Path
) -> None:
    service = tmp_path / "pg_service.conf"
    service.write_text("[prod]\nhost=shinkansen.proxy.rlwy.net\nport=12345\n")
    clean = {"PGSERVICEFILE": str(service), "PATH": "/usr/bin:/bin", **env}
    with mock.patch.dict("os.environ", clean, clear=True):
        assert is_production(url)
        assert is_production(Target.parse(url))


@pytest.mark.parametrize(
    ("url", "env"),
    [
        ("postgresql:///x", {"PGHOST": "localhost"}),
        ("postgresql://u@localhost/x", {"PGHOST": "db.proxy.rlwy.net"}),  # the URL wins
        ("postgresql://u@rlwy.net.example.com/x", {}),
    ],
)
def test_non_production_hosts(url: str, env: dict[str, str]) -> None:
    with mock.patch.dict("os.environ", {"PATH": "/usr/bin:/bin", **env}, clear=True):
        assert not is_production(url)


def test_pghost_production_is_refused_without_connecting(
    seeded_tar_gz: Path, sandbox_env: dict[str, str]
) -> None:
    """``runbook restore FILE --target postgresql:///x`` with PGHOST=db.proxy.rlwy.net: exit 8.

    PGPORT points at a port nothing listens on: any connection attempt would be exit 5.
    """
    env = {**sandbox_env, "PGHOST": "db.proxy.rlwy.net", "PGPORT": "1"}
    res = run_cli(["restore", str(seeded_tar_gz), "--target", "postgresql:///x"], env)
    error = assert_clean_failure(res, ExitStatus.UNSAFE_TARGET)
    assert "db.proxy.rlwy.net looks like production" in error


@pytest.mark.parametrize("dbname", ["postgres", "template0", "template1", ""])
def test_maintenance_and_template_databases_are_refused(
    dbname: str, seeded_tar_gz: Path, pg_server: PostgresServer, sandbox_env: dict[str, str]
) -> None:
    url = pg_server.url(dbname)
    if not dbname:  # a URL without a database name: libpq falls back to the user, postgres
        url = url.replace(f":{pg_server.port}/", f":{pg_server.port}")
        env = {**sandbox_env, "PGUSER": "postgres"}
    else:
        env = sandbox_env
    res = run_cli(["restore", str(seeded_tar_gz), "--target", url, "--allow-non-empty"], env)
    error = assert_clean_failure(res, ExitStatus.UNSAFE_TARGET)
    assert "never writes into postgres, template0 or template1" in error
    with psycopg.connect(pg_server.url("template1")) as conn:
        rows = conn.execute("select count(*) from pg_tables where schemaname = 'public'")
        assert rows.fetchone() == (0,)


def test_side_db_names_unique_and_within_63_bytes() -> None:
    base = "v" * 50
    name, cut = derived_name(base, "_restore_20260125030000_ab12")
    assert cut and len(name.encode()) <= 63 and name.endswith("_restore_20260125030000_ab12")
    assert derived_name(base, "_restore_20260125030000_ab12") == (name, True)  # deterministic
    other, _ = derived_name("v" * 49 + "w", "_restore_20260125030000_ab12")
    assert other != name
    multibyte, _ = derived_name("é" * 40, "_old_x")
    assert len(multibyte.encode()) <= 63 and multibyte.encode().decode() == multibyte
    assert derived_name("vlvt", "_restore_1") == ("vlvt_restore_1", False)


def test_two_side_db_restores_in_one_second_do_not_collide(
    seeded_tar_gz: Path, pg_server: PostgresServer, sandbox_env: dict[str, str]
) -> None:
    base = f"s{uuid.uuid4().hex[:6]}_" + "x" * 45  # 53 bytes: the side name must be shortened
    pg_server.create_database(base[:63])
    try:
        outs = [
            run_cli(
                ["restore", str(seeded_tar_gz), "--target", pg_server.url(base), "--side-db"],
                sandbox_env,
            )
            for _ in range(2)
        ]
        for res in outs:
            assert res.status == 0, res.stderr
            assert "shortened" in res.stderr
        side = [d for d in pg_server.list_databases() if d.startswith(base[:20]) and d != base]
        assert len(side) == 2 and all(len(d.encode()) <= 63 for d in side)
    finally:
        for db in pg_server.list_databases():
            if db.startswith(base[:20]):
                pg_server.drop_database(db)


def test_too_long_target_name_is_refused(
    seeded_tar_gz: Path, pg_server: PostgresServer, sandbox_env: dict[str, str]
) -> None:
    res = run_cli(["restore", str(seeded_tar_gz), "--target", pg_server.url("n" * 70)], sandbox_env)
    error = assert_clean_failure(res, ExitStatus.USAGE)
    assert "63" in error


def test_concurrent_restores_into_one_target(
    seeded_tar_gz: Path, pg_url: str, sandbox_env: dict[str, str]
) -> None:
    """The second restore exits 8 at once; the first completes and is reported complete."""
    # serial (-j1): the IN PROGRESS mark this test waits for is then on the target itself
    argv = ["restore", str(seeded_tar_gz), "-j1", "--target", pg_url]
    first = spawn_runbook(argv, sandbox_env, capture=True)
    try:
        deadline = time.monotonic() + 60
        while "IN PROGRESS" not in faults.target_state(pg_url):
            assert first.poll() is None and time.monotonic() < deadline, first.communicate()
            time.sleep(0.01)
        first.send_signal(signal.SIGSTOP)  # hold the first one mid-restore, deterministically
        try:  # a separate process with a deadline: without the lock it would wait on the first
            second = subprocess.run(
                [*RUNBOOK, "restore", str(seeded_tar_gz), "--target", pg_url],
                env=sandbox_env,
                capture_output=True,
                text=True,
                timeout=60,
            )
        finally:
            first.send_signal(signal.SIGCONT)
        assert second.returncode == ExitStatus.UNSAFE_TARGET, second.stderr
        errors = [ln for ln in second.stderr.splitlines() if ln.startswith("runbook: error: ")]
        assert len(errors) == 1 and "another restore into" in errors[0], second.stderr
        assert "is running" in errors[0] and "runbook: hint: " in second.stderr
    finally:
        out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert out.startswith("restored ")
    assert faults.target_state(pg_url) == "4 tables (DONE)"


RESTORE_MODULES = (
    "restore/dispatch.py",
    "restore/stream.py",
    "restore/plain.py",
    "restore/lock.py",
    "pg/psql_restricted.py",
    "pg/target.py",
    "pg/production.py",
    "archive/header.py",
    "pg/marker.py",
)
# options of the PostgreSQL tools a hint may quote
PG_TOOL_OPTIONS = {"--no-owner", "--no-privileges", "--single-transaction", "--list"}


def runbook_options() -> dict[str, set[str]]:
    """Every long option of every ``runbook`` sub-command."""
    parser = build_parser()
    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    choices: dict[str, argparse.ArgumentParser] = subs.choices
    return {
        name: {o for act in sub._actions for o in act.option_strings if o.startswith("--")}
        for name, sub in choices.items()
    }


def hint_texts(path: Path) -> list[str]:
    """The literal text of every ``hint=`` argument in ``path`` (f-string parts included)."""
    texts = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.keyword) and node.arg == "hint":
            texts.append(
                " ".join(
                    str(c.value)
                    for c in ast.walk(node.value)
                    if isinstance(c, ast.Constant) and isinstance(c.value, str)
                )
            )
    return texts


def test_every_restore_hint_names_only_real_options() -> None:
    options = runbook_options()
    allowed = options["restore"] | PG_TOOL_OPTIONS
    bad = []
    for module in RESTORE_MODULES:
        for text in hint_texts(ROOT / "runbook_helpers" / module):
            for cmd, rest in re.findall(r"runbook (\w+)([^;]*)", text):
                for opt in re.findall(r"(?<![\w-])--[a-z][a-z-]*", rest):
                    if opt not in options.get(cmd, set()):
                        bad.append(f"{module}: runbook {cmd} {opt}")
            for opt in re.findall(
                r"(?<![\w-])--[a-z][a-z-]*", re.sub(r"runbook \w+[^;]*", "", text)
            ):
                if opt not in allowed:
                    bad.append(f"{module}: {opt} in {text!r}")
    assert not bad, bad


def test_swap_names_the_database_that_has_sessions(pg_server: PostgresServer) -> None:
    """A session on the restored copy (someone inspecting it) blocks the swap too: the error
    names that database, not the target, and the hint's SQL ends the sessions where they are."""
    name = f"sw_{uuid.uuid4().hex[:8]}"
    side = f"{name}_restore_x"
    pg_server.create_database(name)
    pg_server.create_database(side)
    try:
        with psycopg.connect(pg_server.url(side)), pytest.raises(UnsafeTarget) as info:
            swap(Target.parse(pg_server.url(name)), side, "x", wait_s=0.5)
        assert "session(s) are connected (1 to " + side + ")" in str(info.value), info.value
        assert f"WHERE datname IN ('{side}')" in info.value.hint, info.value.hint
        assert {name, side} <= set(pg_server.list_databases())  # nothing renamed
    finally:
        pg_server.drop_database(side)
        pg_server.drop_database(name)


def test_a_session_that_ends_within_the_wait_does_not_block_the_swap(
    pg_server: PostgresServer,
) -> None:
    """One wait policy for the hidden rename and --swap: a short-lived session on the target
    (or the restore's own just-closed ones on the copy) is waited out, then the swap is done."""
    name = f"sw_{uuid.uuid4().hex[:8]}"
    side = f"{name}_restore_x"
    pg_server.create_database(name)
    pg_server.create_database(side)
    held = psycopg.connect(pg_server.url(name))
    closer = threading.Timer(1.0, held.close)
    closer.start()
    try:
        started = time.monotonic()
        assert swap(Target.parse(pg_server.url(name)), side, "x", wait_s=8.0) == f"{name}_old_x"
        assert 0.9 < time.monotonic() - started < 8.0  # it waited, and not to the end
        assert {name, f"{name}_old_x"} <= set(pg_server.list_databases())
        assert side not in pg_server.list_databases()
    finally:
        closer.join()
        for db in (side, name, f"{name}_old_x"):
            if db in pg_server.list_databases():
                pg_server.drop_database(db)


def test_autovacuum_on_the_restored_copy_does_not_block_the_swap(pg_server: PostgresServer) -> None:
    """Seconds after a large restore, autovacuum starts on the copy and runs for a while (18 s
    on 1 GB's largest table): it is not a session to wait for, and the rename stops it."""
    name = f"av_{uuid.uuid4().hex[:8]}"
    side = f"{name}_restore_x"
    pg_server.create_database(name)
    side_url = pg_server.create_database(side)
    try:
        with psycopg.connect(side_url, autocommit=True) as conn:  # slow: still running at swap
            conn.execute(
                "create table t (id int, pad text) with (autovacuum_vacuum_cost_delay = 100)"
            )
            conn.execute(
                "insert into t select g, repeat('x', 100) from generate_series(1, 200000) g"
            )
        with psycopg.connect(pg_server.url("postgres"), autocommit=True) as admin:
            admin.execute("alter system set autovacuum_naptime = 1")
            admin.execute("select pg_reload_conf()")
            try:
                deadline = time.monotonic() + 60
                while not admin.execute(
                    "select 1 from pg_stat_activity"
                    " where datname = %s and backend_type = 'autovacuum worker'",
                    (side,),
                ).fetchone():
                    assert time.monotonic() < deadline, "autovacuum did not start within 60 s"
                    time.sleep(0.05)
            finally:
                admin.execute("alter system reset autovacuum_naptime")
                admin.execute("select pg_reload_conf()")
        assert swap(Target.parse(pg_server.url(name)), side, "x") == f"{name}_old_x"
        assert faults.target_state(pg_server.url(name)).startswith("1 tables")
    finally:
        for db in (side, name, f"{name}_old_x"):
            if db in pg_server.list_databases():
                pg_server.drop_database(db)
