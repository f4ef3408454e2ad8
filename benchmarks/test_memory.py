"""Peak memory of ``runbook restore`` while it streams a tar.gz from R2 into pg_restore.

Streaming means the archive is never held in memory (nor written to disk): the restore
process's peak RSS must stay under a fixed target *whatever the archive size*. Two checks:

* absolute: the ``runbook`` process's high-water mark (``VmHWM`` in /proc/PID/status, exact)
  stays under ``RUNBOOK_BENCH_MAX_RSS_MB`` (default 200 MB);
* size-independence: it exceeds the high-water mark of ``runbook inspect`` on the same s3://
  source (same interpreter, boto3 and imports, reads only the first bytes) by less than
  ``BUFFER_ALLOWANCE`` (32 MB of stream buffers: 1 MB reads, and each read's gunzip output in
  one piece - up to ~6 MB for this data, whose tar is 3.7x the tar.gz - plus copies on the way
  into the pipe). Measured: ~2 MB at scale 1 and ~20 MB at scale 20 and 50 (archives of 1.3,
  28 and 70 MB). A restore holding the decompressed tar (~104 MB at the default scale) fails this
  check, and so does one holding the compressed archive from scale ~25 up.

The whole process tree (runbook + pg_restore) is sampled every 20 ms with psutil and its peak
summed RSS is recorded too, as is ``ru_maxrss`` from wait4 (largest single process of the tree).
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import time
from typing import Any

from benchlib import MAX_RSS_MB, MB, Bench, record

try:  # optional: only for the whole-tree figure (the asserted number needs only /proc)
    import psutil
except ImportError:  # pragma: no cover
    psutil = None

POLL_S = 0.02
BUFFER_ALLOWANCE = 32 * MB


def _vm_hwm(pid: int) -> int | None:
    """Peak resident set size of ``pid`` in bytes (kernel's high-water mark), None if gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            text = f.read()
    except OSError:
        return None
    m = re.search(r"^VmHWM:\s+(\d+) kB", text, re.MULTILINE)
    return int(m.group(1)) * 1024 if m else None


def _tree_rss(ps: Any) -> int:
    """Summed RSS of a process and all its descendants right now (psutil)."""
    total = 0
    with contextlib.suppress(psutil.Error):
        for p in [ps, *ps.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                total += p.memory_info().rss
    return total


def measure(bench: Bench, args: list[str]) -> dict[str, Any]:
    """Run ``args``; peak RSS of the process itself, of its whole tree, and wait4's ru_maxrss."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        args,
        env=bench.env,
        cwd=bench.workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    ps = psutil.Process(proc.pid) if psutil is not None else None
    hwm = 0
    tree_peak = 0
    # stdout/stderr are small for these commands (a summary line, progress): no pipe deadlock
    while True:
        own = _vm_hwm(proc.pid)
        if own is not None:
            hwm = max(hwm, own)
        if ps is not None:
            tree_peak = max(tree_peak, _tree_rss(ps))
        # has it exited? (WNOWAIT keeps it a zombie, so /proc/PID/status is still readable)
        info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        if info is not None:
            break
        time.sleep(POLL_S)
    final = _vm_hwm(proc.pid)  # a zombie has no mm; the last live reading stands then
    if final is not None:
        hwm = max(hwm, final)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    out = proc.stdout.read().decode() if proc.stdout else ""
    err = proc.stderr.read().decode() if proc.stderr else ""
    assert proc.returncode == 0, f"{args[:3]} exited {proc.returncode}: {err[-2000:]}"
    return {
        "seconds": seconds,
        "peak_rss_bytes": hwm,
        "tree_peak_rss_bytes": tree_peak,
        "largest_process_maxrss_bytes": usage.ru_maxrss * 1024,  # Linux: kB
        "stdout": out.strip(),
    }


def test_restore_streaming_peak_rss(benchmark: Any, bench: Bench) -> None:
    baseline = measure(bench, ["runbook", "inspect", bench.backup_uri])
    results: list[dict[str, Any]] = []

    def setup() -> tuple[tuple[str, str], dict[str, Any]]:
        return bench.fresh_db("bench_rss"), {}

    def run(name: str, url: str) -> None:
        results.append(
            measure(bench, ["runbook", "restore", bench.backup_uri, "--target", url, "-j", "1"])
        )

    def teardown(name: str, url: str) -> None:
        bench.drop(name)

    benchmark.pedantic(run, setup=setup, teardown=teardown, rounds=1, iterations=1)
    r = results[-1]
    peak, base = r["peak_rss_bytes"], baseline["peak_rss_bytes"]
    growth = peak - base
    record(
        benchmark,
        bench,
        peak_rss_mb=round(peak / MB, 1),
        baseline_inspect_peak_rss_mb=round(base / MB, 1),
        growth_over_baseline_mb=round(growth / MB, 1),
        tree_peak_rss_mb=round(r["tree_peak_rss_bytes"] / MB, 1) if psutil else None,
        largest_process_maxrss_mb=round(r["largest_process_maxrss_bytes"] / MB, 1),
        target_peak_rss_mb=MAX_RSS_MB,
        target_growth_mb=BUFFER_ALLOWANCE / MB,
        method=r["stdout"],
    )
    assert peak < MAX_RSS_MB * MB, (
        f"runbook restore peaked at {peak / MB:.0f} MB RSS (target < {MAX_RSS_MB:.0f} MB)"
    )
    assert growth < BUFFER_ALLOWANCE, (
        f"streaming restore used {growth / MB:.1f} MB more than `runbook inspect` for a "
        f"{bench.archive_bytes / MB:.1f} MB archive (allowance {BUFFER_ALLOWANCE / MB:.0f} MB): "
        "is the archive being buffered?"
    )
