"""``runbook restore`` wall-clock time, from R2 (streamed), from a local tar.gz, custom ``-j 2``.

Each round restores into a new empty database created (untimed) just before it; the timed part
is the whole ``runbook restore`` process: Python start-up, download/decompression, pg_restore,
ANALYZE. After each round (untimed) the restored row counts are checked, then the database is
dropped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchlib import ROUNDS, Bench, record


def _restore_rounds(benchmark: Any, bench: Bench, source: str, *extra_args: str) -> list[str]:
    summaries: list[str] = []

    def setup() -> tuple[tuple[str, str], dict[str, Any]]:
        return bench.fresh_db(), {}

    def run(name: str, url: str) -> None:
        summaries.append(bench.runbook("restore", source, "--target", url, *extra_args))

    def teardown(name: str, url: str) -> None:
        with bench.pg.connect(name) as conn:
            for table, expected in bench.rows.items():
                row = conn.execute(f"select count(*) from {table}").fetchone()
                assert row is not None and row[0] == expected, (table, row, expected)
        bench.drop(name)

    benchmark.pedantic(run, setup=setup, teardown=teardown, rounds=ROUNDS, iterations=1)
    return summaries


def test_restore_streamed_from_r2(benchmark: Any, bench: Bench) -> None:
    """Template tar.gz streamed from (moto) R2 into pg_restore: no local copy, no temp file."""
    summaries = _restore_rounds(benchmark, bench, bench.backup_uri, "--jobs", "1")
    record(
        benchmark,
        bench,
        bytes_moved=bench.archive_bytes,
        source="s3:// (moto on loopback)",
        method=summaries[-1],
        db_mb_per_s_mean=round(
            bench.source_db_bytes / 1e6 / (sum(benchmark.stats.stats.data) / ROUNDS), 1
        ),
    )


def test_restore_local_targz(benchmark: Any, bench: Bench, local_targz: Path) -> None:
    """The same tar.gz from a local file (what the runbook does after ``runbook fetch``), serial."""
    summaries = _restore_rounds(benchmark, bench, str(local_targz), "--jobs", "1")
    record(
        benchmark,
        bench,
        bytes_moved=bench.archive_bytes,
        source="local tar.gz",
        method=summaries[-1],
        db_mb_per_s_mean=round(
            bench.source_db_bytes / 1e6 / (sum(benchmark.stats.stats.data) / ROUNDS), 1
        ),
    )


def test_restore_custom_format_j2(benchmark: Any, bench: Bench, custom_dump: Path) -> None:
    """``pg_dump -Fc`` file restored with ``-j 2`` (not what the backup service writes)."""
    summaries = _restore_rounds(benchmark, bench, str(custom_dump), "--jobs", "2")
    size = custom_dump.stat().st_size
    record(
        benchmark,
        bench,
        bytes_moved=size,
        source="local custom-format file (pg_dump -Fc)",
        custom_dump_bytes=size,
        method=summaries[-1],
        db_mb_per_s_mean=round(
            bench.source_db_bytes / 1e6 / (sum(benchmark.stats.stats.data) / ROUNDS), 1
        ),
    )
