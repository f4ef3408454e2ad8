"""The pytest fixtures and the docs engine's per-page hook built on the sandbox."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import psycopg
import pytest

from runbook_helpers.sandbox import SandboxError, sandbox_environment
from runbook_helpers.sandbox.postgres import PostgresServer
from runbook_helpers.sandbox.r2 import R2Mock
from tests.fixtures import page_data
from tests.fixtures.page_state import PROXY_HOST
from tests.fixtures.plugin import pytest_runbook_page_env
from tests.fixtures.registry import Sandbox

_seen_urls: list[str] = []


def test_pg_url_is_a_fresh_empty_database(pg_url: str, pg_server: PostgresServer) -> None:
    with psycopg.connect(pg_url) as conn:
        row = conn.execute(
            "select current_database(), count(*) from pg_tables"
            " where schemaname not in ('pg_catalog', 'information_schema')"
        ).fetchone()
        conn.execute("create table t (id int)")
    assert row is not None
    assert row[0].startswith("t_") and row[1] == 0
    assert row[0] in pg_server.list_databases()
    _seen_urls.append(row[0])


def test_pg_url_database_is_dropped_after_the_test(pg_server: PostgresServer) -> None:
    if not _seen_urls:
        pytest.skip("runs after test_pg_url_is_a_fresh_empty_database")
    assert _seen_urls[0] not in pg_server.list_databases()


def test_session_servers_are_shared(
    sandbox: Sandbox, pg_server: PostgresServer, r2: R2Mock
) -> None:
    assert sandbox.pg() is pg_server
    assert sandbox.r2() is r2


def test_sandbox_env_runs_the_cli_tools(
    sandbox_env: dict[str, str], pg_server: PostgresServer
) -> None:
    assert pg_server.bin_dir is not None
    assert sandbox_env["PATH"].split(":")[0] == str(pg_server.bin_dir)
    assert sandbox_env["PGPORT"] == str(pg_server.port)
    assert "AWS_PROFILE" not in sandbox_env and "AWS_SECRET_ACCESS_KEY" not in sandbox_env
    psql = subprocess.run(
        ["psql", "-AtX", "-d", "postgres", "-c", "show server_version_num"],
        env=sandbox_env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert psql.returncode == 0, psql.stderr
    assert int(psql.stdout) // 10000 == pg_server.major
    aws = shutil.which("aws", path=sandbox_env["PATH"])
    if aws:
        ls = subprocess.run(
            [aws, "--profile", "r2-vlvt", "s3", "ls", "s3://vlvt-backups"],
            env=sandbox_env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert ls.returncode == 0, ls.stderr


def test_r2_clean_starts_empty(r2_clean: R2Mock) -> None:
    s3 = r2_clean.client()
    assert s3.list_objects_v2(Bucket=r2_clean.bucket)["KeyCount"] == 0
    s3.put_object(Bucket=r2_clean.bucket, Key="left-behind", Body=b"x")


def test_r2_clean_empties_what_the_last_test_left(r2_clean: R2Mock) -> None:
    assert r2_clean.client().list_objects_v2(Bucket=r2_clean.bucket)["KeyCount"] == 0


def test_page_env_gives_each_page_a_clean_sandbox(
    pytestconfig: pytest.Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[page_data.PageContext] = []

    def populate(ctx: page_data.PageContext) -> None:
        calls.append(ctx)
        ctx.placeholders["SEEDED"] = "yes"

    monkeypatch.setattr("tests.fixtures.plugin.populate_page", populate)
    # setup.md starts from nothing (no page runs before it: see tests/fixtures/page_state.py)
    first = pytest_runbook_page_env(Path("docs/setup.md"), pytestconfig)
    pg, r2 = calls[0].pg, calls[0].r2
    try:
        assert calls[0].page == Path("docs/setup.md")
        assert first.cwd.is_dir() and list(first.cwd.iterdir()) == []
        home = Path(first.env["HOME"])
        assert home != first.cwd and not home.is_relative_to(first.cwd)
        assert list(home.iterdir()) == []  # no profile: the page's own lines write it
        assert "AWS_CONFIG_FILE" not in first.env
        assert first.env["R2_ENDPOINT"] == r2.endpoint
        assert first.env["R2_ACCESS_KEY_ID"] == r2.read_key.access_key_id
        assert "R2_WRITE_ACCESS_KEY_ID" not in first.env  # the writer is typed only where used
        assert r2.write_key.secret_access_key in first.secrets
        assert pg.major == page_data.PRODUCTION_MAJOR == 16  # Railway's postgres-ssl:16
        assert first.env["PATH"].startswith(str(pg.bin_dir))
        assert first.placeholders == {
            "BUCKET": "vlvt-backups",
            "ENDPOINT": r2.endpoint,
            "PGPORT": str(pg.port),
            "PGHOST": PROXY_HOST,
            "SEEDED": "yes",
        }
        assert r2.secret_access_key in first.secrets
        assert "AWS_SECRET_ACCESS_KEY" not in first.env and "AWS_PROFILE" not in first.env
        ls = subprocess.run(
            ["aws", "--profile", "r2-vlvt", "s3", "ls", "s3://vlvt-backups"],
            env=first.env,
            cwd=first.cwd,
            capture_output=True,
            text=True,
            check=False,
        )
        assert ls.returncode != 0 and "r2-vlvt" in ls.stderr, ls.stderr  # no such profile yet
        # the page makes a mess: a database, an object, a file
        pg.create_database("vlvt_restore_1")
        r2.client().put_object(Bucket=r2.bucket, Key="junk", Body=b"x")
        (first.cwd / "backup.tar.gz").write_bytes(b"x")
    finally:
        first.close()
    assert "vlvt_restore_1" not in pg.list_databases()
    assert r2.client().list_objects_v2(Bucket=r2.bucket)["KeyCount"] == 0
    assert not first.cwd.exists() and not home.exists()

    # a page that did not clean up (close never called) does not leak into the next one
    second = pytest_runbook_page_env(Path("docs/setup.md"), pytestconfig)
    try:
        pg.create_database("vlvt_left_behind")
        r2.client().put_object(Bucket=r2.bucket, Key="junk", Body=b"x")
        third = pytest_runbook_page_env(Path("docs/setup.md"), pytestconfig)
        try:
            assert "vlvt_left_behind" not in pg.list_databases()
            assert "postgres" in pg.list_databases()
            assert r2.client().list_objects_v2(Bucket=r2.bucket)["KeyCount"] == 0
            assert third.cwd != second.cwd
        finally:
            third.close()
    finally:
        second.close()
    assert len(calls) == 3


def test_populate_page_is_a_no_op_for_now() -> None:
    assert page_data.populate_page.__doc__


@pytest.mark.parametrize(("setting", "archive_version"), [("", "1.15"), ("18", "1.16")])
def test_template_backups_are_written_by_the_service_pg_dump(
    sandbox: Sandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    setting: str,
    archive_version: str,
) -> None:
    """pg_dump 16 by default (archive 1.15, what `runbook inspect` shows); RUNBOOK_BACKUP_PG=18."""
    monkeypatch.setenv("RUNBOOK_BACKUP_PG", setting)
    major = page_data.backup_major()
    if page_data.client_bin_dir(major) is None:
        pytest.skip(f"no pg_dump {major} here")
    pg = page_data.page_server(sandbox)
    name = f"tb_{uuid.uuid4().hex[:8]}"
    pg.create_database(name)
    try:
        out = tmp_path / "vlvt_backup_-2026-01-25T03-00-00-123Z.tar.gz"
        env = sandbox_environment(pg, None)
        page_data.template_backup(pg, env, name, out)
        env["PATH"] = os.pathsep.join([str(page_data.backup_bin_dir(major)), env["PATH"]])
        inspected = subprocess.run(
            ["runbook", "inspect", str(out)], env=env, capture_output=True, text=True, check=False
        )
    finally:
        pg.drop_database(name)
    assert inspected.returncode == 0, inspected.stderr
    lines = inspected.stdout.splitlines()
    assert f"archive version   {archive_version}" in lines
    assert any(ln.startswith(f"pg_dump version   {major}.") for ln in lines), lines
    assert any(ln.startswith("server version    16.") for ln in lines), lines


def test_backup_major_setting_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNBOOK_BACKUP_PG", "sixteen")
    with pytest.raises(SandboxError, match="not a PostgreSQL major") as info:
        page_data.backup_major()
    assert "16" in info.value.hint
    monkeypatch.setenv("RUNBOOK_BACKUP_PG", "99")
    with pytest.raises(SandboxError, match="no pg_dump 99"):
        page_data.backup_bin_dir(99)


def test_the_default_server_does_not_depend_on_which_major_was_asked_for_first() -> None:
    """``pg_server`` (RUNBOOK_PG, no major) is what that kind picks, even after a test asked
    for PostgreSQL 16 (the pages' server) on the same worker; a later ask of 16 reuses it."""
    alone, after = Sandbox(), Sandbox()
    try:
        chosen = alone.pg()
        sixteen = after.pg("pgserver", major=16)
        default = after.pg()
        assert default.major == chosen.major and default.kind == chosen.kind
        assert after.pg() is default and after.pg("auto", major=16) is sixteen
    finally:
        alone.close()
        after.close()
