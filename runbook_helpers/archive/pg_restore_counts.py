"""Row counts of a custom or directory archive: ``pg_restore --data-only -f -`` read back.

Those formats keep their table data compressed in pg_restore's own layout, so pg_restore turns
them into COPY blocks, which :func:`runbook_helpers.archive.copy_blocks.count_copy_blocks` counts.
Never hangs: pg_restore is stopped when its input failed or when it has not ended shortly after
the end of its input (a truncated archive can make it spin).
"""

from __future__ import annotations

import contextlib
import subprocess
import threading
from collections.abc import Iterator
from typing import IO

from runbook_helpers.archive.copy_blocks import count_copy_blocks
from runbook_helpers.archive.inspect import local_pg_restore, pg_restore_error
from runbook_helpers.archive.manifest import TableStats
from runbook_helpers.archive.stream import TarEnd
from runbook_helpers.errors import IntegrityError

#: How long pg_restore may take to end once its whole input was written to it.
EOF_GRACE_SECONDS = 15.0


def count_with_pg_restore(
    fmt: str, source: str, data: Iterator[bytes], eof_grace: float = EOF_GRACE_SECONDS
) -> dict[str, TableStats]:
    """Rows per table of the ``fmt`` archive at ``source`` (``data``: its bytes, unless a
    directory), through ``pg_restore --data-only``."""
    pg_restore, _ = local_pg_restore()
    if fmt == "directory":
        cmd = [str(pg_restore), "--data-only", "-f", "-", source]
        stdin = subprocess.DEVNULL
    else:
        cmd = [str(pg_restore), "--data-only", "-f", "-"]
        stdin = subprocess.PIPE
        data = _tar_checked(data, source)
    proc = subprocess.Popen(cmd, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        return _count_from(proc, data, eof_grace)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _tar_checked(chunks: Iterator[bytes], source: str) -> Iterator[bytes]:
    """``chunks``, then IntegrityError if they were a tar archive without its end blocks."""
    tar_end = TarEnd(source)
    for chunk in chunks:
        tar_end.feed(chunk)
        yield chunk
    tar_end.check()


def _feed(chunks: Iterator[bytes], sink: IO[bytes], errors: list[BaseException]) -> None:
    try:
        for chunk in chunks:
            sink.write(chunk)
    except BrokenPipeError:
        pass
    except BaseException as exc:  # reported by the caller after pg_restore ends
        errors.append(exc)
    finally:
        with contextlib.suppress(BrokenPipeError):
            sink.close()


def _watch(
    proc: subprocess.Popen[bytes],
    feeder: threading.Thread,
    errors: list[BaseException],
    grace: float,
) -> None:
    """Stop pg_restore when its input failed, or when it has not ended ``grace`` s after EOF.

    pg_restore reading a truncated tar archive from a pipe spins forever at end of input; it
    has at most a pipe buffer left to process once its input is closed, so a few seconds is
    plenty for an intact archive.
    """
    feeder.join()
    if errors:
        proc.kill()
        return
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        errors.append(
            IntegrityError(
                f"pg_restore did not finish within {grace:g} s after the end of the archive: "
                "the archive is truncated or corrupted",
                hint="fetch the backup again and compare its sha256; else use an older backup",
            )
        )
        proc.kill()


def _count_from(
    proc: subprocess.Popen[bytes], data: Iterator[bytes], eof_grace: float
) -> dict[str, TableStats]:
    errors: list[BaseException] = []
    feeder = watcher = None
    if proc.stdin is not None:
        feeder = threading.Thread(target=_feed, args=(data, proc.stdin, errors), daemon=True)
        feeder.start()
        watcher = threading.Thread(
            target=_watch, args=(proc, feeder, errors, eof_grace), daemon=True
        )
        watcher.start()
    assert proc.stdout is not None and proc.stderr is not None
    stderr_chunks: list[bytes] = []
    drain = threading.Thread(
        target=lambda: stderr_chunks.append(proc.stderr.read() if proc.stderr else b""),
        daemon=True,
    )
    drain.start()
    stats: dict[str, TableStats] = {}
    unreadable: Exception | None = None
    try:
        stats = count_copy_blocks(
            line.decode("utf-8", errors="replace") for line in iter(proc.stdout.readline, b"")
        )
    except (IndexError, ValueError) as exc:  # a row cut short or garbled
        unreadable = exc
        proc.kill()
    status = proc.wait()
    if watcher is not None:
        watcher.join()
    drain.join()
    if errors:  # the input's own fault (truncated gzip, network) explains the rest
        raise errors[0]
    if status != 0 and unreadable is None:
        raise pg_restore_error(b"".join(stderr_chunks).decode("utf-8", errors="replace"))
    if unreadable is not None:
        raise IntegrityError(
            f"the archive's table data is unreadable ({type(unreadable).__name__}: {unreadable})",
            hint="fetch the backup again and compare its sha256; else use an older backup",
        )
    return stats
