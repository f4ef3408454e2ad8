"""The newest ``created_at`` of a local tar backup, read a second time while the indexes build.

Picking the ``created_at`` column out of every row costs Python about 1.5 s of CPU per GB of
data. During the load of a parallel restore that CPU is taken from the COPY sessions, which keep
every core busy. The index and constraint builds that follow leave a core idle for seconds,
while the largest table's foreign keys are checked one after the other. So when the backup is a
local file, the load only counts rows (``bytes.count``, in C), and a child process re-reads the
file at the lowest CPU priority (``nice 19``) once the load has finished. It reports the SHA-256
of the bytes it read, and the rows and newest ``created_at`` of every table. The restore then
checks that it read the same file (the SHA-256 of the load) and that the rows agree with the
load's, and uses its newest ``created_at``. A backup from R2 is not downloaded twice: its
``created_at`` column is read during the load, as before.

A separate process, not a thread: a thread at low priority that holds the GIL would stall the
restore's own threads whenever the cores are busy.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO

from runbook_helpers import child_lifetime
from runbook_helpers.archive.counts import count_tar
from runbook_helpers.archive.manifest import TableStats
from runbook_helpers.archive.stream import iter_file, iter_gunzip, tap
from runbook_helpers.errors import IntegrityError
from runbook_helpers.redact import redact_text

_NICE = 19


class Reread:
    """The child reading ``path`` again; :meth:`result` waits for it, :meth:`close` stops it."""

    def __init__(self, path: Path, gzipped: bool) -> None:
        self._err: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        self._proc = child_lifetime.start(
            [sys.executable, "-m", "runbook_helpers.archive.reread", str(path), str(int(gzipped))],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._err,
            start_new_session=True,  # its own scheduling group (autogroup), niced below
            env=_child_env(),
        )

    def result(self, sha256: str, counted: dict[str, TableStats]) -> dict[str, TableStats]:
        """Every table's rows and newest ``created_at``; IntegrityError unless the child read
        the bytes whose SHA-256 is ``sha256`` and counted the rows of ``counted``."""
        out, _ = self._proc.communicate()
        if self._proc.returncode != 0:
            self._err.seek(0)
            lines = self._err.read().decode("utf-8", "replace").strip().splitlines()
            reason = redact_text(lines[-1] if lines else f"exit {self._proc.returncode}")
            raise IntegrityError(
                f"reading the backup a second time failed: {reason}",
                hint="the file changed or became unreadable during the restore: restore it again",
            )
        report = json.loads(out)
        tables = {t: TableStats(rows, newest) for t, (rows, newest) in report["tables"].items()}
        rows = {t: s.rows for t, s in tables.items()}
        if report["sha256"] != sha256 or rows != {t: s.rows for t, s in counted.items()}:
            raise IntegrityError(
                "the backup file changed while it was being restored (its second read differs)",
                hint="copy the backup somewhere nothing writes to, then restore it again",
            )
        return tables

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        self._err.close()


def _child_env() -> dict[str, str]:
    """This environment, with the ``runbook_helpers`` this process runs first on the path."""
    here = str(Path(__file__).resolve().parent.parent)
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": f"{here}{os.pathsep}{path}" if path else here}


def read(path: Path, gzipped: bool) -> tuple[str, dict[str, TableStats]]:
    """SHA-256 of the file's bytes, and the rows and newest ``created_at`` of every table."""
    hasher = hashlib.sha256()
    with path.open("rb") as f:
        raw = iter_file(f)
        stats = count_tar(
            iter_gunzip(raw, on_raw=hasher.update) if gzipped else tap(raw, hasher.update)
        )
    return hasher.hexdigest(), stats


def _lowest_priority() -> None:
    """``nice 19``, for this process and for its session's scheduling group: with Linux's
    autogroups, nice only orders the processes of one session, and PostgreSQL runs in another."""
    os.nice(_NICE)
    with contextlib.suppress(OSError):
        Path("/proc/self/autogroup").write_text(str(_NICE))


def main() -> None:
    _lowest_priority()
    path, gzipped = Path(sys.argv[1]), sys.argv[2] == "1"
    try:
        sha256, stats = read(path, gzipped)
    except Exception as exc:  # one line for the restore's error (it is read back by result())
        print(f"{type(exc).__name__}: {exc}".splitlines()[0], file=sys.stderr)
        sys.exit(1)
    tables = {t: [s.rows, s.newest_created_at] for t, s in stats.items()}
    json.dump({"sha256": sha256, "tables": tables}, sys.stdout)


if __name__ == "__main__":
    main()
