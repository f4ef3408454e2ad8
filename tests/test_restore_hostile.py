"""A backup is hostile input: nothing in it ever runs as a client command (issue 8, item 1).

Plain SQL is run only when asked for with ``--format plain``, and then in psql's restricted mode
(``\\restrict KEY``); an archive whose content does not match its name is refused, saying what
it really is, before anything is written to the target.
"""

from __future__ import annotations

import gzip
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from runbook_helpers.errors import ExitStatus
from runbook_helpers.sandbox.postgres import PostgresServer, pgserver_bin_dir
from tests.support import faults
from tests.support.cli_checks import assert_clean_failure
from tests.support.cli_runs import run_cli
from tests.support.pg_dumps import DUMP_FORMATS, pg_dump, seed_database

KEY = "vlvt_backup_-2026-01-25T03-00-00-000Z.tar.gz"


@pytest.fixture(scope="module")
def dumps(
    pg_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Path]]:
    seed_database(pg_server, "hostile_src", 0.05)
    out = tmp_path_factory.mktemp("hostile")
    try:
        yield {fmt: pg_dump(pg_server, "hostile_src", fmt, out) for fmt in DUMP_FORMATS}
    finally:
        pg_server.drop_database("hostile_src")


@pytest.mark.parametrize("kind", sorted(faults.HOSTILE_META))
def test_plain_sql_named_tar_gz_is_refused_without_running_anything(
    kind: str, tmp_path: Path, pg_url: str, sandbox_env: dict[str, str]
) -> None:
    """``printf -- '--\\n\\\\! touch /tmp/x\\n' | gzip > m.tar.gz``: exit 7, nothing runs."""
    canary = tmp_path / "pwned"
    bad = faults.write(tmp_path / "m.tar.gz", gzip.compress(faults.hostile_sql(kind, canary)))
    res = run_cli(["restore", str(bad), "--target", pg_url, "--jobs", "1"], sandbox_env)
    error = assert_clean_failure(res, ExitStatus.INCOMPATIBLE)
    assert "plain SQL" in error and "not a pg_dump archive" in error
    assert "--format plain" in res.stderr
    assert not canary.exists()
    assert faults.target_state(pg_url) == "untouched"


@pytest.mark.parametrize("kind", sorted(faults.HOSTILE_META))
def test_plain_sql_asked_for_runs_restricted(
    kind: str, tmp_path: Path, pg_url: str, sandbox_env: dict[str, str]
) -> None:
    """With ``--format plain`` the SQL runs, but every meta-command is refused: exit 6."""
    canary = tmp_path / "pwned"
    bad = faults.write(
        tmp_path / "m.sql.gz", gzip.compress(faults.hostile_sql(kind, canary, complete=True))
    )
    res = run_cli(["restore", str(bad), "--target", pg_url, "--format", "plain"], sandbox_env)
    error = assert_clean_failure(res, ExitStatus.INTEGRITY)
    assert "meta-command" in error and "nothing was restored" in error
    assert not canary.exists()
    assert faults.target_state(pg_url) in ("untouched", "empty (FAILED)")


def test_meta_command_after_copy_data_is_refused(
    dumps: dict[str, Path], tmp_path: Path, pg_url: str, sandbox_env: dict[str, str]
) -> None:
    canary = tmp_path / "pwned"
    sql = faults.after_copy_data(dumps["plain"].read_bytes(), canary)
    bad = faults.write(tmp_path / "x.sql", sql)
    res = run_cli(["restore", str(bad), "--target", pg_url, "--format", "plain"], sandbox_env)
    assert_clean_failure(res, ExitStatus.INTEGRITY)
    assert not canary.exists()
    assert faults.target_state(pg_url) == "empty (FAILED)"


@pytest.mark.parametrize("fmt", ["plain", "plain.gz"])
def test_real_plain_dump_restores_with_format_plain(
    fmt: str, dumps: dict[str, Path], pg_url: str, sandbox_env: dict[str, str]
) -> None:
    res = run_cli(
        ["restore", str(dumps[fmt]), "--target", pg_url, "--format", "plain"], sandbox_env
    )
    assert res.status == 0, res.stderr
    assert "restricted" in res.stdout
    assert faults.target_state(pg_url) == "4 tables (DONE)"


def test_real_plain_dump_without_format_plain_is_refused(
    dumps: dict[str, Path], pg_url: str, sandbox_env: dict[str, str]
) -> None:
    res = run_cli(["restore", str(dumps["plain.gz"]), "--target", pg_url], sandbox_env)
    error = assert_clean_failure(res, ExitStatus.INCOMPATIBLE)
    assert "plain SQL" in error
    assert faults.target_state(pg_url) == "untouched"


@pytest.mark.parametrize(
    ("fmt", "name", "what"),
    [
        ("custom", KEY, "custom archive"),
        ("custom.gz", KEY, "gzip'd custom archive"),
        ("tar", KEY, "tar archive"),
        ("tar.gz", "backup.dump", "gzip'd tar archive"),
        ("plain", "backup.dump", "plain SQL"),
    ],
)
def test_content_not_matching_its_name_is_refused_before_any_write(
    fmt: str,
    name: str,
    what: str,
    dumps: dict[str, Path],
    tmp_path: Path,
    pg_server: PostgresServer,
    sandbox_env: dict[str, str],
) -> None:
    src = dumps[fmt]
    wrong = faults.write(tmp_path / name, src.read_bytes())
    missing = f"never_{uuid.uuid4().hex[:8]}"
    res = run_cli(
        ["restore", str(wrong), "--target", pg_server.url(missing), "--create"], sandbox_env
    )
    error = assert_clean_failure(res, ExitStatus.INCOMPATIBLE)
    assert f"is a {what}" in error or f"is {what}" in error, error
    assert "--format" in res.stderr
    assert missing not in pg_server.list_databases()  # --create did not even create it


def test_garbage_gzip_is_refused_as_not_a_dump(
    tmp_path: Path, pg_url: str, sandbox_env: dict[str, str]
) -> None:
    bad = faults.write(tmp_path / KEY, faults.garbage_gz())
    res = run_cli(["restore", str(bad), "--target", pg_url], sandbox_env)
    error = assert_clean_failure(res, ExitStatus.INCOMPATIBLE)
    assert "not a PostgreSQL dump" in error and "gzip" in error
    res = run_cli(["restore", str(bad), "--target", pg_url, "--format", "plain"], sandbox_env)
    assert_clean_failure(res, ExitStatus.INCOMPATIBLE)
    assert faults.target_state(pg_url) == "untouched"


def test_format_option_must_match_content(
    dumps: dict[str, Path], pg_url: str, sandbox_env: dict[str, str]
) -> None:
    res = run_cli(
        ["restore", str(dumps["tar.gz"]), "--target", pg_url, "--format", "custom"], sandbox_env
    )
    error = assert_clean_failure(res, ExitStatus.INCOMPATIBLE)
    assert "gzip'd tar archive" in error and "--format custom" in error
    # a renamed archive is accepted when --format says what it is
    renamed = dumps["custom"].with_name("renamed.tar.gz")
    renamed.write_bytes(dumps["custom"].read_bytes())
    res = run_cli(["restore", str(renamed), "--target", pg_url, "--format", "custom"], sandbox_env)
    assert res.status == 0, res.stderr


def hostile_tar_restore(
    dumps: dict[str, Path], tmp_path: Path, pg_url: str, env: dict[str, str]
) -> None:
    canary = tmp_path / "pwned"
    bad = faults.write(tmp_path / KEY, faults.hostile_tar_gz(dumps["tar.gz"].read_bytes(), canary))
    res = run_cli(["restore", str(bad), "--target", pg_url, "--jobs", "1"], env)
    error = assert_clean_failure(res, ExitStatus.INTEGRITY)
    assert "meta-command" in error and "rolled back" in error
    assert not canary.exists()
    assert faults.target_state(pg_url) == "empty (FAILED)"


def test_meta_command_smuggled_into_a_tar_data_member_is_refused(
    dumps: dict[str, Path], tmp_path: Path, pg_url: str, sandbox_env: dict[str, str]
) -> None:
    hostile_tar_restore(dumps, tmp_path, pg_url, sandbox_env)


def test_meta_command_refused_with_a_pg_restore_without_restrict_key(
    dumps: dict[str, Path],
    tmp_path: Path,
    pg_url: str,
    sandbox_env: dict[str, str],
    pg_server: PostgresServer,
) -> None:
    """pg_restore 16.2 (pgserver wheel) writes no ``\\restrict``: runbook restricts psql itself."""
    try:
        bin_dir = pgserver_bin_dir()
    except Exception as exc:
        pytest.skip(f"pgserver wheel unavailable: {exc}")
    help_text = subprocess.run(
        [str(bin_dir / "pg_restore"), "--help"], capture_output=True, text=True, check=True
    ).stdout
    if "--restrict-key" in help_text:
        pytest.skip("this pgserver's pg_restore already has --restrict-key")
    if pg_server.major > 16:
        pytest.skip(
            f"pg_restore 16 cannot read the archive of this PostgreSQL {pg_server.major} server's "
            "pg_dump, and pg_dump 16 cannot dump a newer server: runs with RUNBOOK_PG at 15 or 16"
        )
    hostile_tar_restore(dumps, tmp_path, pg_url, faults.path_first(sandbox_env, bin_dir))
