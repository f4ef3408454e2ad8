"""The bytes of a restore's source: read once, hashed and counted as stored, gunzipped if .gz.

:func:`archive_bytes` is the one read of the source during a restore: the stored bytes feed the
sha256 (checked against the sidecar, :mod:`runbook_helpers.restore.checksum`) and the progress
counter; for a tar, the decompressed bytes also feed the same-pass row count
(:func:`counted`). :func:`download` writes them to a file for the
paths that need one (``pg_restore -j`` from a custom archive).
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from runbook_helpers.archive.counts import TarStats
from runbook_helpers.archive.source import OpenedSource
from runbook_helpers.archive.stream import TarWalker, iter_file, iter_gunzip, tap
from runbook_helpers.errors import NoSpace
from runbook_helpers.prefetch import prefetch


class ByteCounter:
    """Counts the stored bytes read and reports the running total to ``on_bytes``."""

    def __init__(self, on_bytes: Callable[[int], None] | None) -> None:
        self.total = 0
        self.on_bytes = on_bytes

    def __call__(self, chunk: bytes) -> None:
        self.total += len(chunk)
        if self.on_bytes:
            self.on_bytes(self.total)


def archive_bytes(
    opened: OpenedSource,
    consumed: list[bytes],
    hasher: Any,
    counter: ByteCounter,
    tar_stats: TarStats | None = None,
) -> Iterator[bytes]:
    """The archive's bytes (gunzipped if .gz); the stored bytes feed ``hasher`` and ``counter``,
    the decompressed ones ``tar_stats`` (rows counted on the way)."""
    if tar_stats is not None:  # read + gunzip in one thread, count + feed in this one
        return counted(prefetch(archive_bytes(opened, consumed, hasher, counter)), tar_stats)

    def on_raw(chunk: bytes) -> None:
        hasher.update(chunk)
        counter(chunk)

    raw = itertools.chain(consumed, opened.rest)
    if opened.format.endswith(".gz"):
        return iter_gunzip(raw, on_raw=on_raw)
    return tap(raw, on_raw)


def counted(chunks: Iterator[bytes], tar_stats: TarStats) -> Iterator[bytes]:
    """``chunks`` unchanged, their rows counted into ``tar_stats`` on the way."""
    walker = TarWalker(tar_stats)
    for chunk in chunks:
        walker.feed(chunk)
        yield chunk
    walker.finish()  # a tar cut short inside a complete gzip: IntegrityError, nothing commits
    tar_stats.check_complete()


def hash_file(path: Path, hasher: Any, counter: ByteCounter) -> None:
    """Feed a local file's bytes to ``hasher`` and ``counter``."""
    with open(path, "rb") as f:
        for chunk in iter_file(f):
            hasher.update(chunk)
            counter(chunk)


def download(
    opened: OpenedSource,
    consumed: list[bytes],
    dest_dir: Path,
    hasher: Any,
    counter: ByteCounter,
) -> Path:
    """Write the archive's bytes (gunzipped) to ``dest_dir``; NoSpace when they cannot fit."""
    size = opened.size or 0
    free = shutil.disk_usage(dest_dir).free
    factor = 4 if opened.format.endswith(".gz") else 1
    if size * factor * 1.05 > free:
        raise NoSpace(
            f"{dest_dir} has {free:,} bytes free; the archive needs about {size * factor:,}",
            hint="free space, or set TMPDIR to a directory on a bigger disk",
        )
    path = dest_dir / "archive.dump"
    try:
        with path.open("wb") as f:
            for data in archive_bytes(opened, consumed, hasher, counter):
                f.write(data)
    except OSError as exc:  # ENOSPC, EFBIG (a quota or file-size limit): nothing restored yet
        raise NoSpace(
            f"could not write the archive to {dest_dir}: {exc.strerror or exc}",
            left="nothing was restored",
            hint="free space, or pass --workdir on a bigger disk",
        ) from None
    return path
