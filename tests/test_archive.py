"""Format detection (by magic bytes), archive headers and ``runbook inspect``."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from runbook_helpers.archive.detect import detect_format
from runbook_helpers.archive.header import (
    max_archive_version,
    parse_header,
    required_pg_restore_major,
)
from runbook_helpers.archive.inspect import inspect
from runbook_helpers.errors import ExitStatus, Incompatible
from runbook_helpers.pg.tools import candidate_bin_dirs, tool_version
from runbook_helpers.sandbox.postgres import PostgresServer, pgserver_bin_dir
from runbook_helpers.sandbox.r2 import R2Mock
from tests.support.cli_runs import run_cli
from tests.support.pg_dumps import (
    DUMP_FORMATS,
    pg_dump,
    seed_database,
    written_archive_version,
)


@pytest.fixture(scope="module")
def dumps(pg_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same small seeded database dumped in all 7 formats."""
    out = tmp_path_factory.mktemp("dumps")
    seed_database(pg_server, "archive_src", 0.05)
    try:
        return {fmt: pg_dump(pg_server, "archive_src", fmt, out) for fmt in DUMP_FORMATS}
    finally:
        pg_server.drop_database("archive_src")


@pytest.mark.parametrize("fmt", list(DUMP_FORMATS))
def test_detects_each_format_by_magic_bytes_not_name(
    dumps: dict[str, Path], fmt: str, tmp_path: Path
) -> None:
    assert detect_format(dumps[fmt]) == fmt
    if fmt != "directory":  # a misleading name changes nothing
        renamed = tmp_path / "vlvt_backup_-2026-01-25T03-00-00-000Z.tar.gz"
        shutil.copy(dumps[fmt], renamed)
        assert detect_format(renamed) == fmt


@pytest.mark.parametrize("fmt", ["tar.gz", "tar", "custom", "custom.gz", "directory"])
def test_inspect_reads_header_and_toc(
    dumps: dict[str, Path], fmt: str, pg_server: PostgresServer
) -> None:
    version = written_archive_version(pg_server.major)
    info = inspect(str(dumps[fmt]))
    assert info.format == fmt
    assert info.archive_version == version
    assert info.pg_dump_version and info.pg_dump_version.startswith(str(pg_server.major))
    assert info.server_version and info.server_version.startswith(str(pg_server.major))
    assert info.table_count == 4
    assert sorted(info.tables) == [
        "public.matches",
        "public.messages",
        "public.profiles",
        "public.users",
    ]
    assert info.toc_entries and info.toc_entries > 10
    assert info.compatible
    assert info.required_pg_restore_major == required_pg_restore_major(version)


def test_inspect_plain_reports_versions_from_comments(dumps: dict[str, Path]) -> None:
    info = inspect(str(dumps["plain.gz"]))
    assert info.format == "plain.gz" and info.archive_version is None
    assert info.pg_dump_version and info.server_version


def test_inspect_cli_json_and_text(
    dumps: dict[str, Path], pg_server: PostgresServer, sandbox_env: dict[str, str]
) -> None:
    version = written_archive_version(pg_server.major)
    res = run_cli(["inspect", str(dumps["tar.gz"]), "--json"], sandbox_env)
    assert res.status == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["format"] == "tar.gz" and data["archive_version"] == version
    assert data["table_count"] == 4
    res = run_cli(["inspect", str(dumps["custom"])], sandbox_env)
    assert res.status == 0
    assert f"archive version   {version}" in res.stdout and "compatible        yes" in res.stdout


def test_inspect_s3_reads_only_the_start(
    dumps: dict[str, Path], r2_clean: R2Mock, sandbox_env: dict[str, str]
) -> None:
    key = "vlvt_backup_-2026-01-25T03-00-00-000Z.tar.gz"
    r2_clean.client().upload_file(str(dumps["tar.gz"]), r2_clean.bucket, key)
    res = run_cli(
        ["inspect", f"s3://{r2_clean.bucket}/{key}", "--profile", r2_clean.profile, "--json"],
        sandbox_env,
    )
    assert res.status == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["format"] == "tar.gz" and data["table_count"] == 4


def test_parse_header_of_custom_archive(dumps: dict[str, Path], pg_server: PostgresServer) -> None:
    header = parse_header(dumps["custom"].read_bytes()[:4096])
    assert header.version == written_archive_version(pg_server.major)
    assert header.archive_format == "custom"
    assert header.dbname == "archive_src"


def test_version_table() -> None:
    assert required_pg_restore_major("1.14") == 12
    assert required_pg_restore_major("1.15") == 16
    assert required_pg_restore_major("1.16") == 17
    assert required_pg_restore_major("1.99") is None
    assert max_archive_version(15) == "1.14" and max_archive_version(18) == "1.16"


def test_not_a_dump_is_refused(tmp_path: Path, sandbox_env: dict[str, str]) -> None:
    junk = tmp_path / "x.tar.gz"
    junk.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(Incompatible):
        detect_format(junk)
    res = run_cli(["inspect", str(junk)], sandbox_env)
    assert res.status == ExitStatus.INCOMPATIBLE
    assert "not a PostgreSQL dump" in res.error_line


def _older_pg_restore_dir(below: int) -> Path | None:
    """A machine install dir whose pg_restore major is older than ``below``."""
    for bin_dir in candidate_bin_dirs():
        tool = bin_dir / "pg_restore"
        if tool.exists() and tool_version(tool)[0] < below:
            return bin_dir
    return None


def test_archive_newer_than_local_pg_restore(
    pg_server: PostgresServer,
    tmp_path: Path,
    sandbox_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A PG16+ pg_dump's archive (1.15+) read with an older pg_restore -> exit 7, needs 16+.

    The dump comes from the server's own pg_dump when the server is 16+ (pgserver backend),
    else from the pgserver wheel's pg_dump 16 against the older server. The older pg_restore
    (the machine's, e.g. 15) is put first on PATH explicitly, in-process and for the CLI.
    """
    if pg_server.major >= 16 and pg_server.bin_dir is not None:
        new_bin = pg_server.bin_dir
    else:
        try:
            new_bin = pgserver_bin_dir()
        except Exception as exc:
            pytest.skip(f"pgserver wheel unavailable: {exc}")
    dump_major = tool_version(new_bin / "pg_dump")[0]
    version = written_archive_version(dump_major)
    need = required_pg_restore_major(version)
    assert need is not None and need >= 16
    old_bin = _older_pg_restore_dir(need)
    if old_bin is None:
        pytest.skip(f"no pg_restore older than {need} on this machine")
    newer = [d for d in candidate_bin_dirs() if (d / "pg_restore").exists()]
    if any(tool_version(d / "pg_restore")[0] >= need for d in newer):
        pytest.skip(f"this machine has a pg_restore {need}+ install the library would rightly use")
    new_dirs = {str(new_bin), str(pg_server.bin_dir)}
    rest = [p for p in os.environ["PATH"].split(os.pathsep) if p and p not in new_dirs]
    path = os.pathsep.join([str(old_bin), *rest])
    seed_database(pg_server, "archive_src16", 0.01)
    try:
        dump = pg_dump(
            pg_server, "archive_src16", "custom", tmp_path, pg_dump_bin=new_bin / "pg_dump"
        )
    finally:
        pg_server.drop_database("archive_src16")
    monkeypatch.setenv("PATH", path)
    info = inspect(str(dump))
    assert info.archive_version == version
    assert info.pg_dump_version and info.pg_dump_version.startswith(f"{dump_major}.")
    assert not info.compatible and info.required_pg_restore_major == need
    assert info.local_pg_restore == str(old_bin / "pg_restore")
    res = run_cli(["inspect", str(dump)], {**sandbox_env, "PATH": path})
    assert res.status == ExitStatus.INCOMPATIBLE
    assert f"archive version   {version}" in res.stdout  # the header is still reported
    assert f"needs pg_restore {need}" in res.error_line
    assert f"postgresql-client-{need}" in res.stderr
    if need == 16:  # a client whose psql has \restrict; not the pgserver wheel's 16.2
        assert "16.10 or newer" in res.stderr and "pgserver" not in res.stderr
