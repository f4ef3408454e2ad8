"""The one gzip and tar reader: every byte of a backup read outside pg_restore goes through here.

- :class:`GzipDecoder` / :func:`iter_gunzip` / :func:`gunzip_prefix`: gzip decompression with
  bounded output, concatenated members, and typed errors (:class:`Truncated`, IntegrityError).
- :func:`is_tar_header`, :class:`TarEnd` and :func:`walk_tar`: is the tar pg_dump wrote inside
  complete? The backup template runs ``pg_dump --format=tar | gzip`` without ``pipefail``: when
  pg_dump dies half-way gzip still ends its stream cleanly, so only the tar layer shows the cut.

Used by fetch (:func:`runbook_helpers.fetch.verify_file`), inspect and restore (through
:mod:`runbook_helpers.archive_source`), verify's counts, the backup producer, the restore test
(:mod:`runbook_helpers.tar_check`) and format detection (:mod:`runbook_helpers.archive_format`).
"""

from __future__ import annotations

import io
import tarfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from runbook_helpers.errors import IntegrityError

CHUNK = 1024 * 1024
TAR_BLOCK = 512
TAR_END = 2 * TAR_BLOCK  # tar's end-of-archive marker: two 512-byte zero blocks
_GZIP_WBITS = 31  # gzip header and trailer (not raw deflate, not zlib)
#: What :meth:`GzipDecoder.feed` raises on corrupt data (callers word the error).
GzipError = zlib.error


class Truncated(IntegrityError):
    """The gzip stream ends before its trailer (an upload or download cut short)."""


def iter_file(f: IO[bytes], *, chunk: int = CHUNK) -> Iterator[bytes]:
    """The bytes of an open file, ``chunk`` at a time."""
    while True:
        data = f.read(chunk)
        if not data:
            return
        yield data


class GzipDecoder:
    """Incremental gzip decoding; concatenated gzip members (valid gzip) decode as one stream."""

    def __init__(self) -> None:
        self._dec = zlib.decompressobj(wbits=_GZIP_WBITS)

    @property
    def eof(self) -> bool:
        """True once a member's trailer (CRC32, length) has been read and checked."""
        return self._dec.eof

    def feed(self, data: bytes, limit: int = CHUNK) -> Iterator[bytes]:
        """Decompressed output of ``data``, at most ``limit`` bytes per piece (memory stays flat
        however well the data compresses); :data:`GzipError` on corrupt data."""
        while data:
            out = self._dec.decompress(data, limit)
            if out:
                yield out
            if self._dec.eof:
                data = self._dec.unused_data
                if data:
                    self._dec = zlib.decompressobj(wbits=_GZIP_WBITS)
            else:
                data = self._dec.unconsumed_tail

    def flush(self) -> bytes:
        return self._dec.flush()


def iter_gunzip(
    chunks: Iterator[bytes], *, on_raw: Callable[[bytes], None] | None = None
) -> Iterator[bytes]:
    """Decompress a gzip stream chunk by chunk; IntegrityError on truncation or corruption.

    ``on_raw`` sees every compressed chunk (for a sha256 of the bytes as stored).
    """
    dec = GzipDecoder()
    for chunk in chunks:
        if on_raw:
            on_raw(chunk)
        try:
            yield from dec.feed(chunk)
        except GzipError as exc:
            raise IntegrityError(
                f"the gzip stream is corrupted ({exc})",
                hint="fetch the backup again and compare its sha256; else use an older backup",
            ) from exc
    tail = dec.flush()
    if tail:
        yield tail
    if not dec.eof:
        raise Truncated(
            "the gzip stream ended early: the archive is truncated",
            hint="the upload or download was cut short; use another backup or fetch it again",
        )


def gunzip_prefix(data: bytes, limit: int) -> bytes:
    """Up to ``limit`` decompressed bytes from a gzip prefix (the rest may be missing)."""
    try:
        return next(GzipDecoder().feed(data, limit), b"")
    except GzipError as exc:
        raise IntegrityError(
            f"the gzip stream is corrupted at its start ({exc})",
            hint="fetch the backup again; if it persists, use an older backup",
        ) from exc


def is_tar_header(block: bytes) -> bool:
    """True when ``block`` starts with a POSIX (ustar) tar header, as pg_dump writes."""
    return len(block) >= TAR_BLOCK and block[257:262] == b"ustar"


class TarEnd:
    """Checks that a tar archive (what pg_dump --format=tar writes) ends with two zero blocks.

    Feed it the decompressed bytes in order, then call :meth:`check`; anything not tar passes.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.first = b""
        self.tail = b""
        self.size = 0

    def feed(self, data: bytes) -> None:
        self.size += len(data)
        if len(self.first) < TAR_BLOCK:
            self.first += data[: TAR_BLOCK - len(self.first)]
        self.tail = (self.tail + data[-TAR_END:])[-TAR_END:]

    @property
    def is_tar(self) -> bool:
        return is_tar_header(self.first)

    @property
    def ended(self) -> bool:
        """True when what was fed ends on a block boundary with the end-of-archive marker."""
        return self.size % TAR_BLOCK == 0 and self.tail == bytes(TAR_END)

    def check(self) -> None:
        if not self.is_tar:  # plain SQL or a custom archive
            return
        if not self.ended:
            raise IntegrityError(
                f"{self.name} is truncated: the gzip stream is complete but the tar archive "
                f"inside ({self.size:,} bytes) has no end-of-archive blocks (pg_dump stopped "
                "midway)",
                hint="use another backup (`runbook backups list`); check the backup service's logs",
            )


class _ChunkReader(io.RawIOBase):
    """A read-only file over an iterator of byte chunks, feeding a :class:`TarEnd` as it goes."""

    def __init__(self, chunks: Iterator[bytes], end: TarEnd) -> None:
        self._chunks = chunks
        self._pending = b""
        self.end = end

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = chunk
            self.end.feed(chunk)
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


@dataclass(frozen=True)
class TarWalk:
    """What a walk through a tar archive saw: member names in order, their bytes, its end."""

    names: list[str]
    data_bytes: int
    end: TarEnd


def walk_tar(chunks: Iterator[bytes], name: str) -> TarWalk:
    """Read every member of the tar in ``chunks`` to its end (nothing is extracted to disk).

    tarfile.TarError when a member is cut short; the returned :class:`TarWalk` says whether the
    archive ended with its end-of-archive marker.
    """
    reader = _ChunkReader(chunks, TarEnd(name))
    names: list[str] = []
    size = 0
    try:
        with tarfile.open(fileobj=io.BufferedReader(reader), mode="r|") as tar:
            for member in tar:
                names.append(member.name)
                body = tar.extractfile(member)
                while body is not None and (block := body.read(CHUNK)):
                    size += len(block)
        while reader.readinto(bytearray(1 << 16)):  # the padding after the last member
            pass
    except tarfile.TarError as exc:
        raise TarCut(names, exc) from None
    return TarWalk(names, size, reader.end)


class TarCut(Exception):
    """A tar member is cut short: ``names`` are the members read before the cut."""

    def __init__(self, names: list[str], cause: tarfile.TarError) -> None:
        super().__init__(str(cause))
        self.names = names
