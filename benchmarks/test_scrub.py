"""``runbook scrub`` wall-clock time on the session's seeded source (default scale: see benchlib).

Each round scrubs a fresh copy (``CREATE DATABASE ... TEMPLATE bench_source``, untimed) with the
repository's ``scrub/vlvt.yml``: coverage check, one-transaction scrub, VACUUM FULL, the full
``pg_dump --data-only`` scan, and the rename. The stage seconds are in ``extra_info``. A 1 GB
database is ``RUNBOOK_BENCH_SCALE=100`` (an option: slow to seed, never on a shared machine).
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

from benchlib import ROUNDS, SOURCE_DB, Bench, record

POLICY = Path(__file__).resolve().parents[1] / "scrub" / "vlvt.yml"


def test_scrub_seed_database(benchmark: Any, bench: Bench) -> None:
    summaries: list[str] = []

    def setup() -> tuple[tuple[str, str], dict[str, Any]]:
        name = f"bench_scrub_{uuid.uuid4().hex[:8]}"
        with bench.pg.connect() as conn:
            conn.autocommit = True
            conn.execute(f'create database "{name}" template "{SOURCE_DB}"')
            conn.execute("CHECKPOINT")
        return (name, bench.pg.url(name)), {}

    def run(name: str, url: str) -> None:
        summaries.append(
            bench.runbook("scrub", "--policy", str(POLICY), "--target", url, "--as", name + "_dev")
        )

    def teardown(name: str, url: str) -> None:
        with bench.pg.connect(name + "_dev") as conn:
            row = conn.execute(
                "select count(*) from users where email not like '%@example.invalid'"
            ).fetchone()
            assert row is not None and row[0] == 0
        bench.drop(name + "_dev")

    benchmark.pedantic(run, setup=setup, teardown=teardown, rounds=ROUNDS, iterations=1)
    seconds = re.search(r"in ([0-9.]+) s$", summaries[-1])
    record(
        benchmark,
        bench,
        bytes_moved=bench.source_db_bytes,
        summary=summaries[-1],
        library_seconds=float(seconds.group(1)) if seconds else None,
    )
