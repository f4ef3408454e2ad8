"""The three ways a restore runs once its plan is made (:mod:`runbook_helpers.restore.dispatch`
picks one).

- :func:`run_stream`: the serial stream, ``pg_restore -f - | psql`` (or psql alone for a plain
  script) in one transaction whose COMMIT waits for ``checks()``
  (:mod:`runbook_helpers.restore.stream`, :mod:`runbook_helpers.restore.plain`).
- :func:`run_file`: ``pg_restore`` from a regular file, ``-j N`` for custom/directory archives.
- :func:`run_parallel`: a tar's tables and rows streamed into ``pg_restore``, then its indexes
  and constraints with ``pg_restore -Fd -j N``
  (:mod:`runbook_helpers.restore.parallel`).
"""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runbook_helpers import child_lifetime
from runbook_helpers.archive.counts import TarStats
from runbook_helpers.archive.inspect import PARALLEL_FORMATS
from runbook_helpers.archive.manifest import TableStats
from runbook_helpers.archive.reread import Reread
from runbook_helpers.archive.source import OpenedSource
from runbook_helpers.pg.psql_restricted import restricted_psql
from runbook_helpers.pg.target import Target
from runbook_helpers.prefetch import prefetch
from runbook_helpers.r2 import storage
from runbook_helpers.restore import memory, parallel, plain, stream
from runbook_helpers.restore.settle import settle
from runbook_helpers.restore.source_bytes import ByteCounter, archive_bytes
from runbook_helpers.restore.tools import raise_for, wait

OnProcess = Callable[[subprocess.Popen[bytes]], None] | None


def is_parallel(fmt: str, jobs: int) -> bool:
    """True when ``pg_restore -j`` runs on a file of this format (no single transaction)."""
    return fmt.removesuffix(".gz") in PARALLEL_FORMATS and jobs > 1


def base_cmd(tool: Path) -> list[str]:
    return [str(tool), "--no-owner", "--no-privileges", "--exit-on-error"]


def _local_file(source: str) -> Path | None:
    """``source`` if it is a regular local file (read a second time for ``created_at``, see
    :mod:`runbook_helpers.archive.reread`); an R2 object or a pipe is read once."""
    if storage.is_s3_uri(source):
        return None
    path = Path(source)
    return path if path.is_file() else None


def run_parallel(
    plan: parallel.Plan,
    opened: OpenedSource,
    consumed: list[bytes],
    hasher: Any,
    counter: ByteCounter,
    checks: Callable[[], None],
    tool: Path,
    conninfo: str,
    target: Target,
    jobs: int,
    stages: dict[str, float],
    stage: Callable[[str], None],
    dbname: str,
    analyze: bool,
    maintenance_work_mem: int | None,
) -> tuple[str, TarStats, float, dict[str, TableStats]]:
    """Stream tables and rows into pg_restore (timed in ``stages``), ``checks()``, then the
    indexes and constraints with ``pg_restore -j`` (``maintenance_work_mem`` raised for them,
    :mod:`runbook_helpers.restore.memory`); then the rows are counted while ANALYZE
    runs on another connection (:mod:`runbook_helpers.restore.settle`).

    Returns (description, the rows read, when the restore started: ``time.perf_counter()``,
    the rows restored).
    """
    t0 = time.perf_counter()
    env = target.tool_env()
    local = _local_file(opened.source)
    with contextlib.ExitStack() as stack:
        directory = stack.enter_context(parallel.workspace(plan.workdir))
        chunks = prefetch(archive_bytes(opened, consumed, hasher, counter))
        tar_stats = parallel.load_streamed(
            tool, chunks, directory, conninfo, env, jobs, newest=local is None
        )
        stages["tables+rows"] = time.perf_counter() - t0
        stage(
            f"tables and rows loaded in {stages['tables+rows']:.1f}s (streamed into {jobs} COPY "
            "sessions)"
        )
        checks()
        reread = None
        if local is not None:  # created_at read again while the indexes build
            reread = Reread(local, gzipped=opened.format.endswith(".gz"))
            stack.callback(reread.close)
        t1 = time.perf_counter()
        have = memory.session_kb(target, dbname)
        post_env, memory_note = memory.post_data_env(env, have, maintenance_work_mem)
        parallel.build_post_data(tool, directory, conninfo, post_env, jobs)
        stages["indexes+constraints"] = time.perf_counter() - t1
        stage(
            f"indexes and constraints built in {stages['indexes+constraints']:.1f}s "
            f"(pg_restore -j {jobs}, {memory_note})"
        )
        t2 = time.perf_counter()
        actual = settle(target, dbname, analyze)
        stages["rows+analyze"] = time.perf_counter() - t2
        also = " while ANALYZE ran" if analyze else ""
        stage(f"rows counted in {stages['rows+analyze']:.1f}s{also}")
        if reread is not None:
            t3 = time.perf_counter()
            tar_stats.stats = reread.result(hasher.hexdigest(), tar_stats.stats)
            stages["created_at"] = time.perf_counter() - t3
            stage(
                f"newest created_at read in a second pass over {opened.source} "
                f"(waited {stages['created_at']:.1f}s for it)"
            )
    return (
        f"rows streamed into {jobs} COPY sessions, then pg_restore -j {jobs} for indexes and "
        "constraints",
        tar_stats,
        t0,
        actual,
    )


def run_file(
    tool: Path,
    fmt: str,
    path: Path,
    conninfo: str,
    target: Target,
    jobs: int,
    on_process: OnProcess,
) -> str:
    """``pg_restore`` from ``path``: ``-j jobs`` when the format allows, else one transaction."""
    if fmt.startswith("plain"):
        raise AssertionError("plain dumps are streamed through psql")
    many_jobs = is_parallel(fmt, jobs)
    cmd = base_cmd(tool) + (["--jobs", str(jobs)] if many_jobs else ["--single-transaction"])
    cmd += ["--dbname", conninfo, str(path)]
    with tempfile.TemporaryFile() as err:
        proc = child_lifetime.start(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=target.tool_env(),
        )
        if on_process:
            on_process(proc)
        code = wait(proc)
        raise_for(code, err, "pg_restore")
    return f"pg_restore -j {jobs} from a file" if many_jobs else "pg_restore --single-transaction"


def run_stream(
    tool: Path,
    fmt: str,
    opened: OpenedSource,
    consumed: list[bytes],
    conninfo: str,
    target: Target,
    hasher: Any,
    counter: ByteCounter,
    on_process: OnProcess,
    checks: Callable[[], None],
    tar_stats: TarStats | None,
) -> str:
    """Stream the source into the target; nothing commits unless ``checks()`` and all else pass."""
    chunks = archive_bytes(opened, consumed, hasher, counter, tar_stats)
    if fmt.startswith("plain"):
        plain.run_plain(
            tool,
            chunks,
            conninfo,
            target.tool_env(),
            checks=checks,
            on_process=on_process,
        )
        return "psql -v ON_ERROR_STOP=1 in restricted mode, committed after the checks (streamed)"
    psql = restricted_psql(tool.with_name("psql"))
    stream.stream_restore(
        tool,
        psql,
        chunks,
        conninfo,
        target.tool_env(),
        checks=checks,
        on_process=on_process,
    )
    return (
        "pg_restore | psql -v ON_ERROR_STOP=1 in restricted mode, committed after the checks "
        "(streamed)"
    )
