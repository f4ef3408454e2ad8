"""The whole incident path of the runbook, timed per step, against the one-hour budget (DEP-04).

The commands of docs/restore.md in order: ``backups list``, ``backups latest``, ``fetch``,
``inspect``, ``restore`` (from the fetched file), ``verify --archive`` (exact counts). Preparing
the target database (a CREATE DATABASE) is outside the timed path. The result is extrapolated
linearly to larger databases: seconds per GB of database and the database size at which the path
would reach one hour. R2 here is moto on loopback: over the internet, add archive size divided by
the real download rate (see benchmarks/README.md).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from benchlib import BUDGET_S, DEP04_S, MB, Bench, record

GB = 1_000_000_000


def test_incident_path(benchmark: Any, bench: Bench) -> None:
    steps: dict[str, float] = {}
    dest = bench.workdir / "incident"
    dest.mkdir(exist_ok=True)

    def timed(name: str, *args: str) -> str:
        started = time.perf_counter()
        out = bench.runbook(*args)
        steps[name] = time.perf_counter() - started
        return out

    def setup() -> tuple[tuple[str, str], dict[str, Any]]:
        for old in dest.iterdir():
            old.unlink()
        return bench.fresh_db("bench_incident"), {}

    def run(name: str, url: str) -> None:
        timed("list", "backups", "list", "--limit", "5")
        backup = timed("latest", "backups", "latest")
        assert backup == bench.backup_uri, (backup, bench.backup_uri)
        file = timed("fetch", "fetch", backup, "--to", str(dest))
        timed("inspect", "inspect", file)
        timed("restore", "restore", file, "--target", url)
        timed("verify", "verify", "--target", url, "--archive", file)
        assert Path(file).stat().st_size == bench.archive_bytes

    def teardown(name: str, url: str) -> None:
        bench.drop(name)

    benchmark.pedantic(run, setup=setup, teardown=teardown, rounds=1, iterations=1)
    total = benchmark.stats.stats.max
    per_gb_db = total / (bench.source_db_bytes / GB)
    record(
        benchmark,
        bench,
        steps_s={k: round(v, 3) for k, v in steps.items()},
        total_s=round(total, 2),
        budget_s=BUDGET_S,
        seconds_per_gb_database=round(per_gb_db, 1),
        seconds_per_gb_archive=round(total / (bench.archive_bytes / GB), 1),
        db_gb_at_one_hour_linear=round(DEP04_S / per_gb_db, 1),
        seed_s=round(bench.seed_seconds, 1),
        archive_mb_per_s_overall=round(bench.archive_bytes / MB / total, 1),
    )
    assert total < BUDGET_S, f"incident path took {total:.0f} s (target < {BUDGET_S:.0f} s)"
