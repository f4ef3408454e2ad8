"""Shared pieces of the benchmarks: settings, the session sandbox object, extra_info helpers.

Settings (environment variables):

* ``RUNBOOK_BENCH_SCALE``  seed scale of the source database (default 20: ~200 MB database,
  ~28 MB tar.gz; scale 1 is ~2,000 users / 40,000 messages, sizes grow linearly);
* ``RUNBOOK_BENCH_ROUNDS`` rounds per timed benchmark (default 3);
* ``RUNBOOK_BENCH_MAX_RSS_MB`` peak-RSS target of a streaming ``runbook restore`` (default 200);
* ``RUNBOOK_BENCH_BUDGET_S`` target for the whole incident path at this size (default 600);
* ``RUNBOOK_PG`` PostgreSQL backend of the sandbox (default ``local``).
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from runbook_helpers.sandbox.postgres import PostgresServer
from runbook_helpers.sandbox.r2 import R2Mock

SCALE = float(os.environ.get("RUNBOOK_BENCH_SCALE", "20"))
ROUNDS = int(os.environ.get("RUNBOOK_BENCH_ROUNDS", "3"))
MAX_RSS_MB = float(os.environ.get("RUNBOOK_BENCH_MAX_RSS_MB", "200"))
BUDGET_S = float(os.environ.get("RUNBOOK_BENCH_BUDGET_S", "600"))
DEP04_S = 3600.0  # the requirement: a full restore within one hour
SOURCE_DB = "bench_source"
BACKUP_AT = "2026-01-25T03:00:00Z"  # fixed key time: the session backup is always the latest
MB = 1_000_000  # throughput is reported in decimal MB/s, like network and disk vendors do


@dataclass
class Bench:
    """The session sandbox plus helpers to run ``runbook`` and make throw-away databases."""

    pg: PostgresServer
    r2: R2Mock
    env: dict[str, str]
    workdir: Path
    source_url: str = ""
    source_db_bytes: int = 0
    seed_seconds: float = 0.0
    rows: dict[str, int] = field(default_factory=dict)
    backup_uri: str = ""
    archive_bytes: int = 0
    _created: list[str] = field(default_factory=list)

    # ------------------------------------------------------------------ commands

    def run(
        self, args: Sequence[str], *, timeout: float = 900, ok: Sequence[int] = (0,)
    ) -> subprocess.CompletedProcess[str]:
        """Run a command in the sandbox env; fail with its stderr when the exit code is not ok."""
        proc = subprocess.run(
            list(args),
            env=self.env,
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if proc.returncode not in ok:
            pytest.fail(
                f"{' '.join(args[:3])} ... exited {proc.returncode}\n"
                f"stdout: {proc.stdout[-2000:]}\nstderr: {proc.stderr[-3000:]}",
                pytrace=False,
            )
        return proc

    def runbook(self, *args: str, timeout: float = 900) -> str:
        """``runbook ARGS`` (the venv's entry point); returns stdout, stripped."""
        return self.run(["runbook", *args], timeout=timeout).stdout.strip()

    # ------------------------------------------------------------------ databases

    def fresh_db(self, prefix: str = "bench_restore") -> tuple[str, str]:
        """A new empty database ``(name, url)``, after a CHECKPOINT (rounds start alike)."""
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        with self.pg.connect() as conn:
            conn.execute("CHECKPOINT")
        url = self.pg.create_database(name)
        self._created.append(name)
        return name, url

    def drop(self, name: str) -> None:
        self.pg.drop_database(name)
        if name in self._created:
            self._created.remove(name)

    def drop_all(self) -> None:
        for name in list(self._created):
            self.drop(name)

    def database_bytes(self, url_or_name: str) -> int:
        name = url_or_name.rsplit("/", 1)[-1].split("?", 1)[0]
        with self.pg.connect() as conn:
            row = conn.execute("select pg_database_size(%s)", (name,)).fetchone()
        assert row is not None
        return int(row[0])

    # ------------------------------------------------------------------ reporting

    def sizes(self) -> dict[str, Any]:
        return {
            "scale": SCALE,
            "source_db_bytes": self.source_db_bytes,
            "source_db_mb": round(self.source_db_bytes / MB, 1),
            "archive_bytes": self.archive_bytes,
            "archive_mb": round(self.archive_bytes / MB, 1),
        }


def rounds_of(benchmark: Any) -> list[float]:
    """The measured seconds of each round (pytest-benchmark keeps them all)."""
    return [float(x) for x in benchmark.stats.stats.data]


def record(benchmark: Any, bench: Bench, *, bytes_moved: int | None = None, **extra: Any) -> None:
    """Sizes, per-round seconds and (when ``bytes_moved``) MB/s of the mean and best round."""
    data = rounds_of(benchmark)
    benchmark.extra_info.update(bench.sizes())
    benchmark.extra_info["rounds_s"] = [round(x, 3) for x in data]
    if bytes_moved:
        mean = sum(data) / len(data)
        benchmark.extra_info["mb_per_s_mean"] = round(bytes_moved / MB / mean, 1)
        benchmark.extra_info["mb_per_s_best"] = round(bytes_moved / MB / min(data), 1)
    benchmark.extra_info.update(extra)
    # other work on the machine skews every number: keep the load next to them
    benchmark.extra_info["loadavg_1m_at_end"] = round(os.getloadavg()[0], 2)
