r"""The one gzip and tar reader: every byte of a backup read outside pg_restore goes through here.

- :class:`GzipDecoder` / :func:`iter_gunzip` / :func:`gunzip_prefix`: gzip decompression with
  bounded output, concatenated members, and typed errors (:class:`Truncated`, IntegrityError).
- :func:`parse_tar_header` and :class:`TarWalker`: the one tar header parser; the walker hands
  each member's bytes to :class:`MemberSink`\ s as they go by (row counts, extraction), no copies.
- :func:`is_tar_header`, :class:`TarEnd` and :func:`walk_tar`: is the tar pg_dump wrote inside
  complete? The backup template runs ``pg_dump --format=tar | gzip`` without ``pipefail``: when
  pg_dump dies half-way gzip still ends its stream cleanly, so only the tar layer shows the cut.

Used by fetch (:func:`runbook_helpers.r2.fetch.verify_file`), inspect and restore (through
:mod:`runbook_helpers.archive.source`), verify's counts, the backup producer, the restore test
(:mod:`runbook_helpers.archive.tar_check`) and format detection
(:mod:`runbook_helpers.archive.header`).
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import IO, Protocol

from runbook_helpers.errors import IntegrityError

CHUNK = 1024 * 1024
TAR_BLOCK = 512
TAR_END = 2 * TAR_BLOCK  # tar's end-of-archive marker: two 512-byte zero blocks
_GZIP_WBITS = 31  # gzip header and trailer (not raw deflate, not zlib)
_inflate: ModuleType = zlib
with contextlib.suppress(ImportError):  # a platform without an isal wheel keeps zlib (slower)
    from isal import isal_zlib  # ISA-L's inflate: the same gzip at 2.5x zlib's speed

    _inflate = isal_zlib
#: What :meth:`GzipDecoder.feed` raises on corrupt data (callers word the error).
GzipError: tuple[type[Exception], ...] = (zlib.error, _inflate.error)


class Truncated(IntegrityError):
    """The gzip stream ends before its trailer (an upload or download cut short)."""


def iter_file(f: IO[bytes], *, chunk: int = CHUNK) -> Iterator[bytes]:
    """The bytes of an open file, ``chunk`` at a time."""
    while True:
        data = f.read(chunk)
        if not data:
            return
        yield data


def tap(chunks: Iterator[bytes], fn: Callable[[bytes], None]) -> Iterator[bytes]:
    """``chunks`` unchanged, each passed to ``fn`` first."""
    for chunk in chunks:
        fn(chunk)
        yield chunk


class GzipDecoder:
    """Incremental gzip decoding; concatenated gzip members (valid gzip) decode as one stream."""

    def __init__(self) -> None:
        self._dec = _inflate.decompressobj(wbits=_GZIP_WBITS)

    @property
    def eof(self) -> bool:
        """True once a member's trailer (CRC32, length) has been read and checked."""
        return bool(self._dec.eof)

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
                    self._dec = _inflate.decompressobj(wbits=_GZIP_WBITS)
            else:
                data = self._dec.unconsumed_tail

    def flush(self) -> bytes:
        return bytes(self._dec.flush())


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


class MemberSink(Protocol):
    """Receives the members of a tar stream, in order."""

    def start(self, name: str, size: int) -> None: ...

    def data(self, buf: bytes, start: int, end: int) -> None: ...

    def end(self) -> None: ...


_CUT_HINT = "fetch the backup again; if it persists, use an older backup (pg_dump died mid-way?)"


def _octal(field: bytes) -> int:
    if field[:1] and field[0] & 0x80:  # GNU base-256 for sizes >= 8 GiB
        return int.from_bytes(field[1:], "big")
    text = field.split(b"\0", 1)[0].strip()
    return int(text, 8) if text else 0


def parse_tar_header(block: bytes) -> tuple[str, int, bytes]:
    """``(name, size, typeflag)`` of a ustar header block; IntegrityError if it is damaged."""
    try:
        stored = _octal(block[148:156]) if block[148:156].strip(b"\0 ") else -1
        size = _octal(block[124:136])
    except ValueError:
        stored = size = -1
    actual = sum(block[:148]) + 8 * 32 + sum(block[156:])
    if stored != actual or size < 0:
        raise IntegrityError(
            "the tar archive inside the backup is damaged (a member header's checksum is wrong)",
            hint=_CUT_HINT,
        )
    name = block[:100].split(b"\0", 1)[0]
    prefix = block[345:500].split(b"\0", 1)[0] if is_tar_header(block) else b""
    full = (prefix + b"/" + name) if prefix else name
    return full.decode("utf-8", "replace"), size, block[156:157]


class TarWalker:
    """Feed decompressed tar bytes with :meth:`feed`; :meth:`finish` checks it ended properly."""

    def __init__(self, *sinks: MemberSink) -> None:
        self.sinks = sinks
        self.header = b""  # a partial header block
        self.left = 0  # data bytes of the current member still to come
        self.pad = 0  # padding bytes after it
        self.in_member = False
        self.ended = False  # the end-of-archive (zero) block was seen
        self.members: list[str] = []
        self.data_bytes = 0  # of the regular members, as fed

    def feed(self, buf: bytes) -> None:
        pos, size = 0, len(buf)
        while pos < size and not self.ended:
            if self.left:
                take = min(self.left, size - pos)
                for sink in self.sinks:
                    sink.data(buf, pos, pos + take)
                pos += take
                self.left -= take
                self.data_bytes += take
                if not self.left:
                    self._end_member()
            elif self.pad:
                skip = min(self.pad, size - pos)
                pos += skip
                self.pad -= skip
            else:
                need = TAR_BLOCK - len(self.header)
                self.header += buf[pos : pos + need]
                pos += min(need, size - pos)
                if len(self.header) == TAR_BLOCK:
                    self._header(self.header)
                    self.header = b""

    def _header(self, block: bytes) -> None:
        if not block.strip(b"\0"):
            self.ended = True
            return
        name, size, kind = parse_tar_header(block)
        self.pad = -size % TAR_BLOCK
        if kind not in (b"0", b"\0"):  # pg_dump writes regular files only: skip anything else
            self.pad += size
            return
        self.members.append(name)
        self.in_member = True
        for sink in self.sinks:
            sink.start(name, size)
        self.left = size
        if not size:
            self._end_member()

    def _end_member(self) -> None:
        self.in_member = False
        for sink in self.sinks:
            sink.end()

    def finish(self) -> None:
        """IntegrityError unless the stream ended with tar's end-of-archive block."""
        if not self.ended:
            where = f" in member {self.members[-1]}" if self.in_member and self.members else ""
            raise IntegrityError(
                f"the tar archive inside the backup is cut short{where} (no end-of-archive block)",
                hint=_CUT_HINT,
            )


@dataclass(frozen=True)
class TarWalk:
    """What a walk through a tar archive saw: member names in order, their bytes, its end."""

    names: list[str]
    data_bytes: int
    end: TarEnd


def walk_tar(chunks: Iterator[bytes], name: str) -> TarWalk:
    """Read every member of the tar in ``chunks`` to its end (nothing is extracted to disk).

    :class:`TarCut` when a member is cut short, IntegrityError when a header is damaged; the
    returned :class:`TarWalk` says whether the archive ended with its end-of-archive marker.
    """
    end, walker = TarEnd(name), TarWalker()
    for chunk in chunks:
        end.feed(chunk)
        walker.feed(chunk)
    if walker.in_member:
        raise TarCut(walker.members[:], "unexpected end of data")
    return TarWalk(walker.members, walker.data_bytes, end)


class TarCut(Exception):
    """A tar member is cut short: ``names`` are the members read before the cut."""

    def __init__(self, names: list[str], message: str) -> None:
        super().__init__(message)
        self.names = names
