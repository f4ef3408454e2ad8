"""``nox -s bench``: every restore path side by side, alternating, at several database sizes.

For each size (``RUNBOOK_BENCH_SIZES_GB``, default ``0.25,1,2``) a VLVT-like database is seeded
deterministically (``runbook seed``, seed 42), one template backup is made (``runbook backup``:
``pg_dump --format=tar | gzip`` to the moto R2 stand-in) and fetched once. Then, for
``RUNBOOK_BENCH_ROUNDS`` rounds (default 3; ``RUNBOOK_BENCH_LARGE_ROUNDS``, default 5, from
1 GB up: the spread between rounds is as large as the differences measured), each step runs
once per round (the scrub, minutes long and not on the incident path, in the first round only
from 1 GB up), the order rotated
every round so that no step always runs on a warmer (or busier) machine:

* ``floor``: ``gzip -cd F | pg_restore -d DB`` + ``ANALYZE`` (no checks at all: the floor);
* ``floor_mwm``: the same with ``PGOPTIONS='-c maintenance_work_mem=256MB'``;
* ``restore_file``: ``runbook restore F --jobs 1`` (serial stream, checks, rows verified);
* ``restore_s3``: ``runbook restore s3://... --jobs 1`` (streamed from the R2 stand-in);
* ``restore_j2``: ``runbook restore F --jobs 2`` (rows into 2 COPY sessions as they stream,
  indexes with ``pg_restore -j 2``, verified);
* ``restore_j2_mwm``: the same with ``--maintenance-work-mem 256MB`` (the index builds'
  sessions only);
* ``verify_archive``: ``runbook verify --archive F`` against a restored copy;
* ``fetch``: ``runbook fetch s3://... --to DIR`` (download + gzip/tar/sha256 checks);
* ``scrub``: ``runbook scrub`` when this tree has it.

Before every timed step the server checkpoints and the machine's dirty pages are written out
(``sync``, untimed): the sandbox runs with ``fsync=off``, so without it the previous step's
gigabytes were still being written back while the next one ran (a floor timed right after the
scrub's database was dropped took 17 s, the others 24 s at 1 GB). Restores go into a new
database and are dropped afterwards (untimed). The
``runbook restore`` process's peak memory (``ru_maxrss`` from ``wait4``) is recorded. Results:
``build/bench.json`` and ``build/bench.svg`` (:mod:`report`), with the test suite's times
(``build/suite.json`` from :mod:`suite`, which ``nox -s bench`` runs first) under ``suite``.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import report

from runbook_helpers.sandbox import sandbox_environment
from runbook_helpers.sandbox.postgres import PostgresServer, postgres_server
from runbook_helpers.sandbox.r2 import r2_mock

SEED = 42
MB_PER_SCALE = 9.0  # database MB per seed scale unit (measured: scale 100 is ~904 MB)
SIZES_GB = [float(x) for x in os.environ.get("RUNBOOK_BENCH_SIZES_GB", "0.25,1,2").split(",")]
ROUNDS = int(os.environ.get("RUNBOOK_BENCH_ROUNDS", "3"))
#: rounds at 1 GB and above (a shared 2-core machine: each round there takes minutes)
LARGE_ROUNDS = int(os.environ.get("RUNBOOK_BENCH_LARGE_ROUNDS", "5"))
#: steps timed in the first round only at 1 GB and above (minutes each, no speed target)
ONCE_WHEN_LARGE = frozenset({"scrub"})
OUT = Path(os.environ.get("RUNBOOK_BENCH_OUT", "build/bench.json"))
SUITE = OUT.with_name("suite.json")  # written by benchmarks/suite.py
MWM_SIZE = "256MB"
MWM = f"-c maintenance_work_mem={MWM_SIZE}"
BACKUP_AT = "2026-01-25T03:00:00Z"


class Session:
    """The sandbox plus timed command runs."""

    def __init__(
        self, pg: PostgresServer, env: dict[str, str], writer_env: dict[str, str], workdir: Path
    ) -> None:
        self.pg = pg
        self.env = env
        self.writer_env = writer_env  # the backup service's writer profile (docs/backups.md)
        self.workdir = workdir

    def run(self, cmd: str | list[str], env: dict[str, str] | None = None) -> tuple[float, int]:
        """Run (shell string or argv) after :meth:`quiesce`, return (seconds, peak RSS KiB of
        the direct child)."""
        self.quiesce()
        started = time.perf_counter()
        proc = subprocess.Popen(
            cmd,
            shell=isinstance(cmd, str),
            env=env or self.env,
            cwd=self.workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        assert proc.stderr is not None
        err = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        if proc.returncode != 0:
            raise RuntimeError(f"{cmd!r} exited {proc.returncode}: {err.decode()[-2000:]}")
        return seconds, int(usage.ru_maxrss)

    def fresh_db(self) -> tuple[str, str]:
        name = f"bench_{uuid.uuid4().hex[:8]}"
        return name, self.pg.url(name)

    def quiesce(self) -> None:
        """CHECKPOINT, then write the machine's dirty pages out: the next step starts with
        nothing of the last one still being written back."""
        with self.pg.connect() as conn:
            conn.execute("CHECKPOINT")
        os.sync()

    def drop(self, name: str) -> None:
        with self.pg.connect() as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')

    def db_bytes(self, name: str) -> int:
        with self.pg.connect() as conn:
            row = conn.execute("select pg_database_size(%s)", (name,)).fetchone()
        return int(row[0]) if row else 0


def _floor(s: Session, archive: Path, env: dict[str, str] | None = None) -> tuple[float, int]:
    name, url = s.fresh_db()
    s.pg.create_database(name)
    try:
        return s.run(
            f"gzip -cd {archive} | pg_restore --no-owner --no-privileges -d '{url}' && "
            f"psql -X -q -d '{url}' -c ANALYZE",
            env,
        )
    finally:
        s.drop(name)


def _restore(s: Session, source: str, jobs: int, *more: str) -> Any:
    name, url = s.fresh_db()
    try:
        return s.run(
            ["runbook", "restore", source, "--target", url, "--create", "-j", str(jobs), *more]
        )
    finally:
        s.drop(name)


def measure_size(s: Session, size_gb: float) -> dict[str, Any]:
    scale = max(1.0, round(size_gb * 1000 / MB_PER_SCALE, 1))
    src = f"bench_src_{str(size_gb).replace('.', '_')}"
    url = s.pg.create_database(src)
    t0 = time.perf_counter()
    subprocess.run(
        ["runbook", "seed", "--target", url, "--scale", f"{scale:g}", "--seed", str(SEED)],
        env=s.env,
        check=True,
        capture_output=True,
    )
    seed_s = time.perf_counter() - t0
    uri = subprocess.run(
        ["runbook", "backup", "--source", url, "--at", BACKUP_AT],
        env=s.writer_env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    local = s.workdir / f"local_{src}"
    local.mkdir()
    archive = Path(
        subprocess.run(
            ["runbook", "fetch", uri, "--to", str(local)],
            env=s.env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    db_bytes = s.db_bytes(src)
    s.pg.drop_database(src)
    verify_db, verify_url = s.fresh_db()
    s.run(["runbook", "restore", str(archive), "--target", verify_url, "--create", "-j", "1"])
    env_mwm = dict(s.env, PGOPTIONS=MWM)
    fetch_dir = s.workdir / "fetch"
    steps: dict[str, Any] = {
        "floor": lambda: _floor(s, archive),
        "floor_mwm": lambda: _floor(s, archive, env_mwm),
        "restore_file": lambda: _restore(s, str(archive), 1),
        "restore_s3": lambda: _restore(s, uri, 1),
        "restore_j2": lambda: _restore(s, str(archive), 2),
        "restore_j2_mwm": lambda: _restore(s, str(archive), 2, "--maintenance-work-mem", MWM_SIZE),
        "verify_archive": lambda: s.run(
            ["runbook", "verify", "--target", verify_url, "--archive", str(archive)]
        ),
        "fetch": lambda: _fetch(s, uri, fetch_dir),
    }
    policy = Path("scrub/vlvt.yml").resolve()
    if policy.is_file() and _has_scrub(s):  # a restored copy (untimed), then the scrub (timed)
        steps["scrub"] = lambda: _scrub(s, str(archive), policy)
    runs: dict[str, list[float]] = {k: [] for k in steps}
    rss: dict[str, list[int]] = {k: [] for k in steps}
    names = list(steps)
    rounds = ROUNDS if size_gb < 1 else LARGE_ROUNDS
    for rnd in range(rounds):
        order = names[rnd % len(names) :] + names[: rnd % len(names)]
        for name in order:
            if rnd and size_gb >= 1 and name in ONCE_WHEN_LARGE:
                continue
            seconds, peak = steps[name]()
            runs[name].append(round(seconds, 3))
            rss[name].append(peak)
            print(f"  {size_gb:g} GB round {rnd + 1}: {name} {seconds:.2f} s", flush=True)
    s.drop(verify_db)
    return {
        "target_gb": size_gb,
        "rounds": rounds,
        "scale": scale,
        "seed": SEED,
        "seed_seconds": round(seed_s, 1),
        "db_bytes": db_bytes,
        "archive_bytes": archive.stat().st_size,
        "tar_bytes": _isize(archive),
        "steps": {
            k: {
                "runs_s": v,
                "median_s": round(statistics.median(v), 3),
                "peak_rss_mb": round(max(rss[k]) / 1024, 1),
            }
            for k, v in runs.items()
        },
    }


def _fetch(s: Session, uri: str, where: Path) -> tuple[float, int]:
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir()
    return s.run(["runbook", "fetch", uri, "--to", str(where)])


def _scrub(s: Session, archive: str, policy: Path) -> tuple[float, int]:
    name, url = s.fresh_db()
    try:
        s.run(["runbook", "restore", archive, "--target", url, "--create", "-j", "2"])
        return s.run(["runbook", "scrub", "--policy", str(policy), "--target", url])
    finally:
        s.drop(name)


def _has_scrub(s: Session) -> bool:
    return (
        subprocess.run(["runbook", "scrub", "--help"], env=s.env, capture_output=True).returncode
        == 0
    )


def _isize(path: Path) -> int:
    with path.open("rb") as f:
        f.seek(-4, os.SEEK_END)
        size = int.from_bytes(f.read(4), "little")
    while size < path.stat().st_size:
        size += 1 << 32
    return size


def machine(pg: PostgresServer) -> dict[str, Any]:
    cpu = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo", encoding="utf-8") as f:
        mem_kb = int(f.readline().split()[1])
    version = pg.server_version_num()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "postgres": f"{version // 10000}.{version % 10000}",
        "python": platform.python_version(),
        "loadavg_1m_at_start": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    kind = os.environ.get("RUNBOOK_PG", "pgserver")  # PostgreSQL 16: what VLVT runs
    with ExitStack() as stack:
        workdir = Path(tempfile.mkdtemp(prefix="runbook-bench-"))
        stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        pg = stack.enter_context(postgres_server(kind, workdir=workdir))
        r2 = stack.enter_context(r2_mock(workdir))
        env = sandbox_environment(pg, r2)
        writer_dir = workdir / "writer"
        writer_dir.mkdir()
        s = Session(pg, env, {**env, **r2.writer_env(writer_dir)}, workdir)
        result: dict[str, Any] = {
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(pg),
            "rounds": ROUNDS,
            "sizes": [],
        }
        if SUITE.is_file():  # benchmarks/suite.py ran first (nox -s bench): the suite's times
            result["suite"] = json.loads(SUITE.read_text())
        for size in SIZES_GB:
            print(f"size {size:g} GB", flush=True)
            result["sizes"].append(measure_size(s, size))
            result["machine"]["loadavg_1m_at_end"] = round(os.getloadavg()[0], 2)
            OUT.parent.mkdir(parents=True, exist_ok=True)
            OUT.write_text(
                json.dumps(result, indent=2) + "\n"
            )  # after each size: partial runs count
            OUT.with_suffix(".svg").write_text(report.svg_chart(result))
    print(f"wrote {OUT} and {OUT.with_suffix('.svg')}")


if __name__ == "__main__":
    main()
