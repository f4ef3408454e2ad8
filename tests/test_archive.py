"""Format detection (by magic bytes), archive headers and ``runbook inspect``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from runbook_helpers.archive import (
    detect_format,
    inspect,
    max_archive_version,
    parse_header,
    required_pg_restore_major,
)
from runbook_helpers.errors import ExitStatus, Incompatible
from runbook_helpers.sandbox.postgres import PostgresServer, pgserver_bin_dir
from runbook_helpers.sandbox.r2 import R2Mock
from tests.test_archive_support import DUMP_FORMATS, pg_dump, seed_database
from tests.test_storage_support import run_cli


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
    info = inspect(str(dumps[fmt]))
    assert info.format == fmt
    assert info.archive_version == "1.14"
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
    assert info.compatible and info.required_pg_restore_major == 12


def test_inspect_plain_reports_versions_from_comments(dumps: dict[str, Path]) -> None:
    info = inspect(str(dumps["plain.gz"]))
    assert info.format == "plain.gz" and info.archive_version is None
    assert info.pg_dump_version and info.server_version


def test_inspect_cli_json_and_text(dumps: dict[str, Path], sandbox_env: dict[str, str]) -> None:
    res = run_cli(["inspect", str(dumps["tar.gz"]), "--json"], sandbox_env)
    assert res.status == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["format"] == "tar.gz" and data["archive_version"] == "1.14"
    assert data["table_count"] == 4
    res = run_cli(["inspect", str(dumps["custom"])], sandbox_env)
    assert res.status == 0
    assert "archive version   1.14" in res.stdout and "compatible        yes" in res.stdout


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


def test_parse_header_of_custom_archive(dumps: dict[str, Path]) -> None:
    header = parse_header(dumps["custom"].read_bytes()[:4096])
    assert header.version == "1.14" and header.archive_format == "custom"
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


def test_archive_newer_than_local_pg_restore(
    pg_server: PostgresServer, tmp_path: Path, sandbox_env: dict[str, str]
) -> None:
    """pg_dump 16 (pgserver wheel) dumping the PG15 server -> archive 1.15 -> exit 7, needs 16."""
    if pg_server.major >= 16:
        pytest.skip("the session server is already PostgreSQL 16+")
    try:
        pg16_bin = pgserver_bin_dir()
    except Exception as exc:
        pytest.skip(f"pgserver wheel unavailable: {exc}")
    seed_database(pg_server, "archive_src16", 0.01)
    try:
        dump = pg_dump(
            pg_server, "archive_src16", "custom", tmp_path, pg_dump_bin=pg16_bin / "pg_dump"
        )
    finally:
        pg_server.drop_database("archive_src16")
    info = inspect(str(dump))
    assert info.archive_version == "1.15" and info.pg_dump_version == "16.2"
    assert not info.compatible and info.required_pg_restore_major == 16
    res = run_cli(["inspect", str(dump)], sandbox_env)
    assert res.status == ExitStatus.INCOMPATIBLE
    assert "archive version   1.15" in res.stdout  # the header is still reported
    assert "needs pg_restore 16" in res.error_line
    assert "postgresql-client-16" in res.stderr and "pip install pgserver" in res.stderr


def test_iter_gunzip_bounds_chunks_and_joins_members() -> None:
    """Highly compressible data never comes out in one huge piece; members are concatenated."""
    import gzip as _gzip

    from runbook_helpers.archive import CHUNK, iter_gunzip

    raw = b"a" * (40 * CHUNK)
    stream = _gzip.compress(raw) + _gzip.compress(b"tail")
    pieces = list(iter_gunzip(iter([stream[: len(stream) // 2], stream[len(stream) // 2 :]])))
    assert max(len(p) for p in pieces) <= CHUNK
    assert b"".join(pieces) == raw + b"tail"
