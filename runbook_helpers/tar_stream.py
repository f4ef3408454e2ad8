"""Walk a tar stream chunk by chunk, handing each member's bytes to sinks (no copies, no seeks).

pg_dump's tar archives (``pg_dump --format=tar``) hold ``toc.dat``, one ``NNNN.dat`` per table
and ``restore.sql``, each as a plain ustar member. :class:`TarWalker` parses the 512-byte
headers as the bytes go by and calls every :class:`MemberSink` with slices of the chunks it was
fed (``data(buf, start, end)``): counting rows (:mod:`runbook_helpers.row_counter`) and writing
the members to a directory (:class:`Extractor`) ride on the same pass as the restore.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, Protocol

from runbook_helpers.errors import IntegrityError, NoSpace

BLOCK = 512
_CUT_HINT = "fetch the backup again; if it persists, use an older backup (pg_dump died mid-way?)"


class MemberSink(Protocol):
    """Receives the members of a tar stream, in order."""

    def start(self, name: str, size: int) -> None: ...

    def data(self, buf: bytes, start: int, end: int) -> None: ...

    def end(self) -> None: ...


def _octal(field: bytes) -> int:
    if field[:1] and field[0] & 0x80:  # GNU base-256 for sizes >= 8 GiB
        return int.from_bytes(field[1:], "big")
    text = field.split(b"\0", 1)[0].strip()
    return int(text, 8) if text else 0


def parse_header(block: bytes) -> tuple[str, int, bytes]:
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
    prefix = block[345:500].split(b"\0", 1)[0] if block[257:262] == b"ustar" else b""
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

    def feed(self, buf: bytes) -> None:
        pos, size = 0, len(buf)
        while pos < size and not self.ended:
            if self.left:
                take = min(self.left, size - pos)
                for sink in self.sinks:
                    sink.data(buf, pos, pos + take)
                pos += take
                self.left -= take
                if not self.left:
                    self._end_member()
            elif self.pad:
                skip = min(self.pad, size - pos)
                pos += skip
                self.pad -= skip
            else:
                need = BLOCK - len(self.header)
                self.header += buf[pos : pos + need]
                pos += min(need, size - pos)
                if len(self.header) == BLOCK:
                    self._header(self.header)
                    self.header = b""

    def _header(self, block: bytes) -> None:
        if not block.strip(b"\0"):
            self.ended = True
            return
        name, size, kind = parse_header(block)
        self.pad = -size % BLOCK
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


class Extractor:
    """Writes every member to ``directory`` (flat: pg_dump's member names have no slashes)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.file: IO[bytes] | None = None
        self.bytes_written = 0

    def start(self, name: str, size: int) -> None:
        safe = Path(name).name
        if not safe or safe != name or safe in (".", ".."):
            raise IntegrityError(
                f"unexpected member {name!r} in the tar archive: not written by pg_dump",
                hint="use a backup made by pg_dump --format=tar",
            )
        self.file = (self.directory / safe).open("wb")

    def data(self, buf: bytes, start: int, end: int) -> None:
        assert self.file is not None
        try:
            self.file.write(memoryview(buf)[start:end])
        except OSError as exc:
            raise NoSpace(
                f"could not write the extracted archive to {self.directory}: "
                f"{exc.strerror or exc}; nothing was restored",
                hint="free space, or set TMPDIR to a directory on a bigger disk "
                "(or pass --jobs 1: the serial restore needs no local copy)",
            ) from None
        self.bytes_written += end - start

    def end(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None

    def close(self) -> None:
        self.end()
