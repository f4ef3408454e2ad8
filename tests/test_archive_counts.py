"""Row counts read out of an archive itself, and ``runbook verify --archive``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from runbook_helpers.archive.copy_blocks import count_copy_blocks, parse_timestamp
from runbook_helpers.archive.counts import archive_table_stats
from runbook_helpers.archive.manifest import TableStats, table_stats
from runbook_helpers.errors import ExitStatus
from runbook_helpers.sandbox.postgres import PostgresServer
from runbook_helpers.sandbox.r2 import R2Mock
from tests.support.cli_runs import run_cli
from tests.support.pg_dumps import DUMP_FORMATS, pg_dump, seed_database

SCRIPT = """\
SET statement_timeout = 0;
COPY public.users (id, email, created_at) FROM stdin;
1\ta@example.com\t2026-01-02 03:04:05.5+00
2\tb@example.com\t2026-01-03 00:00:00+01
3\tc@example.com\t\\N
\\.
COPY "Odd Schema"."T""q" ("a, b", id) FROM stdin;
\\.
COPY public.no_columns  FROM stdin;
\\.
COPY public.notes (id, body, created_at) FROM stdin;
1\tline one\\nstill row one\t2025-12-31 23:00:00-02
\\.
"""


def test_count_copy_blocks_table() -> None:
    stats = count_copy_blocks(SCRIPT.splitlines(keepends=True))
    assert stats == {
        "public.users": TableStats(3, "2026-01-02T23:00:00+00:00"),
        'Odd Schema.T"q': TableStats(0, None),
        "public.no_columns": TableStats(0, None),
        "public.notes": TableStats(1, "2026-01-01T01:00:00+00:00"),
    }


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("2026-01-02 03:04:05.5+00", "2026-01-02T03:04:05.500000+00:00"),
        ("2026-01-02 03:04:05+05:30", "2026-01-02T03:04:05+05:30"),
        ("2026-01-02 03:04:05", "2026-01-02T03:04:05+00:00"),
    ],
)
def test_parse_timestamp(text: str, iso: str) -> None:
    parsed = parse_timestamp(text)
    assert parsed is not None and parsed.isoformat() == iso
    assert parse_timestamp("\\N") is None


@dataclass(frozen=True)
class Dumps:
    files: dict[str, Path]  # format -> file
    stats: dict[str, TableStats]  # what the database held when dumped


@pytest.fixture(scope="module")
def dumps(pg_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> Dumps:
    """The same small VLVT-like database dumped in every format."""
    url = seed_database(pg_server, "counts_src", scale=0.05)
    out = tmp_path_factory.mktemp("counts")
    try:
        files = {fmt: pg_dump(pg_server, "counts_src", fmt, out) for fmt in DUMP_FORMATS}
        with psycopg.connect(url) as conn:
            return Dumps(files, table_stats(conn))
    finally:
        pg_server.drop_database("counts_src")


@pytest.mark.parametrize("fmt", sorted(DUMP_FORMATS))
def test_archive_counts_equal_database_counts(fmt: str, dumps: Dumps) -> None:
    assert archive_table_stats(str(dumps.files[fmt])) == dumps.stats


def test_verify_archive_local_and_s3(
    dumps: Dumps, pg_url: str, r2_clean: R2Mock, sandbox_env: dict[str, str]
) -> None:
    archive = dumps.files["tar.gz"]
    assert run_cli(["restore", str(archive), "--target", pg_url], sandbox_env).status == 0
    res = run_cli(["verify", "--target", pg_url, "--archive", str(archive)], sandbox_env)
    assert res.status == 0, res.stderr
    assert f"compared with archive {archive}: OK" in res.stdout
    r2_clean.client().upload_file(str(archive), r2_clean.bucket, "vlvt_backup_-x.tar.gz")
    uri = f"s3://{r2_clean.bucket}/vlvt_backup_-x.tar.gz"
    env = {**sandbox_env, "AWS_PROFILE": r2_clean.profile}
    assert run_cli(["verify", "--target", pg_url, "--archive", uri], env).status == 0
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("delete from messages where id = (select min(id) from messages)")
    res = run_cli(["verify", "--target", pg_url, "--archive", str(archive)], sandbox_env)
    assert res.status == ExitStatus.VERIFY_MISMATCH
    assert "public.messages (rows differ)" in res.error_line
