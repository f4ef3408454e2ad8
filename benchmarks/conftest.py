"""One sandbox for the whole benchmark run: PostgreSQL + moto R2, a seeded source, one backup.

Everything here is set up once per session and is *not* timed; the benchmarks time only the
``runbook`` commands an operator runs. Settings: see :mod:`benchlib` (``RUNBOOK_BENCH_SCALE``,
``RUNBOOK_BENCH_ROUNDS``, ...). Everything started is stopped on exit (one ExitStack), also when a
benchmark fails or the run is interrupted.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from benchlib import BACKUP_AT, SCALE, SOURCE_DB, Bench

from runbook_helpers.sandbox import sandbox_environment
from runbook_helpers.sandbox.postgres import postgres_server
from runbook_helpers.sandbox.r2 import r2_mock


@pytest.fixture(scope="session")
def bench() -> Iterator[Bench]:
    """PostgreSQL + moto R2, a source seeded at RUNBOOK_BENCH_SCALE, one template backup."""
    with ExitStack() as stack:
        workdir = Path(tempfile.mkdtemp(prefix="runbook-bench-"))
        stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        pg = stack.enter_context(
            postgres_server(os.environ.get("RUNBOOK_PG", "local"), workdir=workdir)
        )
        r2 = stack.enter_context(r2_mock(workdir))
        # the benchmarks upload backups: the writer profile (r2-vlvt is read-only, as on R2)
        env = {**sandbox_environment(pg, r2), **r2.writer_env(workdir / "aws")}
        b = Bench(pg=pg, r2=r2, env=env, workdir=workdir)
        stack.callback(b.drop_all)

        b.source_url = pg.create_database(SOURCE_DB)
        started = time.perf_counter()
        b.runbook("seed", "--target", b.source_url, "--scale", f"{SCALE:g}", timeout=3600)
        b.seed_seconds = time.perf_counter() - started
        b.source_db_bytes = b.database_bytes(SOURCE_DB)
        with pg.connect(SOURCE_DB) as conn:
            for table in ("users", "profiles", "matches", "messages"):
                row = conn.execute(f"select count(*) from {table}").fetchone()
                assert row is not None
                b.rows[table] = int(row[0])
            conn.execute("CHECKPOINT")

        b.backup_uri = b.runbook("backup", "--source", b.source_url, "--at", BACKUP_AT)
        head = r2.client().head_object(Bucket=r2.bucket, Key=b.backup_uri.split("/", 3)[3])
        b.archive_bytes = int(head["ContentLength"])
        yield b


@pytest.fixture(scope="session")
def local_targz(bench: Bench) -> Path:
    """The session backup downloaded once (untimed) with ``runbook fetch``."""
    dest = bench.workdir / "local"
    dest.mkdir(exist_ok=True)
    return Path(bench.runbook("fetch", bench.backup_uri, "--to", str(dest)))


@pytest.fixture(scope="session")
def custom_dump(bench: Bench) -> Path:
    """``pg_dump -Fc`` of the source into a local file (the format that allows ``-j``)."""
    path = bench.workdir / "source.dump"
    bench.run(["pg_dump", "-Fc", "-f", str(path), "-d", bench.source_url], timeout=1800)
    return path


@pytest.fixture(scope="session")
def restored_url(bench: Bench, local_targz: Path) -> str:
    """One restored copy of the backup (untimed), for the verify benchmarks."""
    _, url = bench.fresh_db("bench_verify")
    bench.runbook("restore", str(local_targz), "--target", url)
    return url
