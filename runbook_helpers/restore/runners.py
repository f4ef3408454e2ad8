"""The three ways a restore runs once its plan is made (:mod:`runbook_helpers.restore.dispatch`
picks one).

- :func:`run_stream`: the serial stream, ``pg_restore -f - | psql`` (or psql alone for a plain
  script) in one transaction whose COMMIT waits for the sidecar check
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
from pathlib import Path

from runbook_helpers import child_lifetime
from runbook_helpers.archive.counts import TarStats
from runbook_helpers.archive.inspect import PARALLEL_FORMATS
from runbook_helpers.archive.reread import Reread
from runbook_helpers.pg.psql_restricted import restricted_psql
from runbook_helpers.prefetch import prefetch
from runbook_helpers.restore import memory, parallel, plain, stream
from runbook_helpers.restore.run import Restored, RestoreRun
from runbook_helpers.restore.settle import settle
from runbook_helpers.restore.tools import Into, raise_for, wait


def is_parallel(fmt: str, jobs: int) -> bool:
    """True when ``pg_restore -j`` runs on a file of this format (no single transaction)."""
    return fmt.removesuffix(".gz") in PARALLEL_FORMATS and jobs > 1


def base_cmd(tool: Path) -> list[str]:
    return [str(tool), "--no-owner", "--no-privileges", "--exit-on-error"]


def run_parallel(run: RestoreRun) -> Restored:
    """Stream tables and rows into pg_restore, check the sidecar, then the indexes and
    constraints with ``pg_restore -j`` (``maintenance_work_mem`` raised for them,
    :mod:`runbook_helpers.restore.memory`); then the rows are counted while ANALYZE
    runs on another connection (:mod:`runbook_helpers.restore.settle`). Each part is timed in
    ``run.timings``.
    """
    t0 = time.perf_counter()
    jobs, into = run.jobs, run.into
    local = run.source.regular_file  # created_at read again from it while the indexes build
    with contextlib.ExitStack() as stack:
        directory = stack.enter_context(parallel.workspace(run.workdir))
        chunks = prefetch(run.chunks())
        tar_stats = parallel.load_streamed(
            run.tool, chunks, directory, into, jobs, newest=local is None
        )
        took = run.timings.add("tables+rows", t0)
        run.stage(f"tables and rows loaded in {took:.1f}s (streamed into {jobs} COPY sessions)")
        run.check_sidecar()
        reread = None
        if local is not None:
            reread = Reread(local, gzipped=run.source.format.endswith(".gz"))
            stack.callback(reread.close)
        t1 = time.perf_counter()
        have = memory.session_kb(run.target, run.dbname)
        post_env, memory_note = memory.post_data_env(
            into.env, have, run.options.maintenance_work_mem
        )
        parallel.build_post_data(run.tool, directory, Into(into.conninfo, post_env), jobs)
        took = run.timings.add("indexes+constraints", t1)
        run.stage(
            f"indexes and constraints built in {took:.1f}s (pg_restore -j {jobs}, {memory_note})"
        )
        t2 = time.perf_counter()
        actual = settle(run.target, run.dbname, run.options.analyze)
        took = run.timings.add("rows+analyze", t2)
        also = " while ANALYZE ran" if run.options.analyze else ""
        run.stage(f"rows counted in {took:.1f}s{also}")
        if reread is not None:
            t3 = time.perf_counter()
            tar_stats.stats = reread.result(run.hasher.hexdigest(), tar_stats.stats)
            took = run.timings.add("created_at", t3)
            run.stage(
                f"newest created_at read in a second pass over {run.source.where} "
                f"(waited {took:.1f}s for it)"
            )
    return Restored(
        f"rows streamed into {jobs} COPY sessions, then pg_restore -j {jobs} for indexes and "
        f"constraints (into {run.dbname})",
        tar_stats,
        actual,
    )


def run_file(run: RestoreRun, path: Path) -> Restored:
    """``pg_restore`` from ``path`` (the source, or its checked download): ``-j jobs`` when the
    format allows, else one transaction."""
    fmt = run.source.format.removesuffix(".gz")
    if fmt.startswith("plain"):
        raise AssertionError("plain dumps are streamed through psql")
    many_jobs = is_parallel(fmt, run.jobs)
    into = run.into
    cmd = base_cmd(run.tool) + (
        ["--jobs", str(run.jobs)] if many_jobs else ["--single-transaction"]
    )
    cmd += ["--dbname", into.conninfo, str(path)]
    with tempfile.TemporaryFile() as err:
        proc = child_lifetime.start(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, env=into.env
        )
        if run.options.on_process:
            run.options.on_process(proc)
        code = wait(proc)
        raise_for(code, err, "pg_restore")
    return Restored(
        f"pg_restore -j {run.jobs} from a file" if many_jobs else "pg_restore --single-transaction"
    )


def run_stream(run: RestoreRun) -> Restored:
    """Stream the source into the target; nothing commits unless the sidecar check and all
    else pass. A tar's rows are counted on the way."""
    tar_stats = TarStats() if run.source.format.startswith("tar") else None
    chunks = run.chunks(tar_stats)
    on_process = run.options.on_process
    if run.source.format.startswith("plain"):
        plain.run_plain(run.tool, chunks, run.into, checks=run.check_sidecar, on_process=on_process)
        return Restored(
            "psql -v ON_ERROR_STOP=1 in restricted mode, committed after the checks (streamed)",
            tar_stats,
        )
    psql = restricted_psql(run.tool.with_name("psql"))
    stream.stream_restore(
        run.tool, psql, chunks, run.into, checks=run.check_sidecar, on_process=on_process
    )
    return Restored(
        "pg_restore | psql -v ON_ERROR_STOP=1 in restricted mode, committed after the checks "
        "(streamed)",
        tar_stats,
    )
