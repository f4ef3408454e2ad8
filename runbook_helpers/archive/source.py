"""Where a dump's bytes come from: a local file or directory, or an ``s3://`` object.

:func:`open_source` classifies a source from its first bytes (see
:mod:`runbook_helpers.archive.header`) and streams the rest on demand;
:func:`decompressed_head` reads just enough to parse the archive header. Decompression is
:mod:`runbook_helpers.archive.stream`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from runbook_helpers.archive.detect import (
    HEAD_BYTES,
    detect_format,
    detect_format_bytes,
    looks_like_text,
)
from runbook_helpers.archive.stream import GzipDecoder, GzipError, iter_file
from runbook_helpers.errors import Incompatible, IntegrityError
from runbook_helpers.r2.location import S3Location, is_s3_uri


@dataclass
class OpenedSource:
    """A source opened for streaming: raw chunks plus what its first bytes say."""

    source: str
    format: str
    size: int | None
    head: bytes  # first raw bytes (already consumed from ``rest``)
    rest: Iterator[bytes]
    close: Callable[[], None]

    def raw_chunks(self) -> Iterator[bytes]:
        """Every raw byte from the start (only before :func:`decompressed_head` is used)."""
        if self.head:
            yield self.head
        yield from self.rest


@contextmanager
def open_source(source: str, *, client: Any = None) -> Iterator[OpenedSource]:
    """Open a local file or an ``s3://`` object and classify it from its first bytes.

    Only the first bytes are read here; the rest is streamed on demand.
    """
    if is_s3_uri(source):  # boto3 is imported only here (150 ms of every start otherwise)
        from runbook_helpers.r2 import storage
        from runbook_helpers.r2.errors import translate_errors

        loc = S3Location.parse(source)
        client = client or storage.s3_client()
        body, length = storage.open_stream(client, loc)
        try:
            with translate_errors(loc):
                head = _read_at_least(body, 4096)
            rest = _translated(iter_file(body), loc)
            if not head:
                raise IntegrityError(f"{source} is empty (0 bytes)", hint="use another backup")
            fmt = detect_format_bytes(head)
            if fmt == "plain" and not looks_like_text(head[:4096]):
                raise Incompatible(f"{source} is not a PostgreSQL dump")
            yield OpenedSource(source, fmt, length, head, rest, body.close)
        finally:
            body.close()
        return
    path = Path(source)
    fmt = detect_format(path)
    if fmt == "directory":
        yield OpenedSource(source, fmt, None, b"", iter(()), lambda: None)
        return
    with path.open("rb") as f:
        head = f.read(4096)
        yield OpenedSource(source, fmt, path.stat().st_size, head, iter_file(f), f.close)


def _translated(chunks: Iterator[bytes], loc: S3Location) -> Iterator[bytes]:
    """Network errors while streaming an S3 body as typed errors."""
    from runbook_helpers.r2.errors import translate_errors

    while True:
        with translate_errors(loc):
            chunk = next(chunks, b"")
        if not chunk:
            return
        yield chunk


def _read_at_least(body: BinaryIO, n: int) -> bytes:
    parts: list[bytes] = []
    got = 0
    while got < n:
        data = body.read(n - got)
        if not data:
            break
        parts.append(data)
        got += len(data)
    return b"".join(parts)


def decompressed_head(opened: OpenedSource) -> tuple[bytes, list[bytes]]:
    """First decompressed bytes (>= HEAD_BYTES when available) and the raw chunks consumed."""
    consumed: list[bytes] = []
    if opened.format == "directory":
        return (Path(opened.source) / "toc.dat").read_bytes()[:HEAD_BYTES], consumed
    gz = opened.format.endswith(".gz")
    dec = GzipDecoder() if gz else None
    out = b""
    # no generator wrapping ``rest`` here: closing one early would close ``rest`` too
    pending = [opened.head] if opened.head else []
    while True:
        chunk = pending.pop() if pending else next(opened.rest, b"")
        if not chunk:
            break
        consumed.append(chunk)
        if dec is None:
            out += chunk
        else:
            try:
                out += b"".join(dec.feed(chunk, 0))
            except GzipError as exc:
                raise IntegrityError(f"the gzip stream is corrupted ({exc})") from exc
        if len(out) >= HEAD_BYTES or (dec is not None and dec.eof):
            break
    return out, consumed
