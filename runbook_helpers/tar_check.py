"""Is a tar-format dump complete? Walk it to its end without restoring anything.

The backup template runs ``pg_dump --format=tar | gzip`` without ``pipefail``: when pg_dump dies
half-way, gzip still ends its stream properly, so the ``.tar.gz`` passes every gzip check and
the truncation is inside the tar. pg_restore reading such a tar from a pipe does not fail: it
spins at the end of its input (seen with pg_restore 15.18), so a restore or ``verify --archive``
of it never ends. This walk fails fast instead: every member must be whole, ``restore.sql``
(pg_dump writes it last) must be there, and the archive must end with tar's two zero blocks.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from runbook_helpers.archive import iter_gunzip, open_source
from runbook_helpers.errors import IntegrityError

TRAILER = b"\0" * 1024  # tar's end-of-archive marker: two 512-byte zero blocks
LAST_MEMBER = "restore.sql"
TRUNCATED_HINT = (
    "the dump was cut before it ended (pg_dump failed while gzip went on): restore the previous "
    "backup, and check the backup service's logs for the night"
)


@dataclass(frozen=True)
class TarSummary:
    members: int
    data_bytes: int
    checked: bool  # False: not a tar archive (pg_restore checks custom/plain itself)


class _ChunkReader(io.RawIOBase):
    """A read-only file over an iterator of byte chunks; remembers the last 1024 bytes."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = b""
        self.tail = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = chunk
            self.tail = (self.tail + chunk)[-len(TRAILER) :]
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def check_tar_complete(source: str, *, client: Any = None) -> TarSummary:
    """Read the whole archive; IntegrityError if the tar inside is cut short."""
    with open_source(source, client=client) as opened:
        if opened.format not in ("tar", "tar.gz"):
            return TarSummary(0, 0, checked=False)
        raw = opened.raw_chunks()
        reader = _ChunkReader(iter_gunzip(raw) if opened.format == "tar.gz" else raw)
        names: list[str] = []
        size = 0
        try:
            with tarfile.open(fileobj=io.BufferedReader(reader), mode="r|") as tar:
                for member in tar:
                    names.append(member.name)
                    body = tar.extractfile(member)
                    while body is not None and (block := body.read(1 << 20)):
                        size += len(block)
            while reader.readinto(bytearray(1 << 16)):  # the padding after the last member
                pass
        except tarfile.TarError as exc:
            raise IntegrityError(
                f"the tar inside {source} is truncated after {len(names)} members: {exc}",
                hint=TRUNCATED_HINT,
            ) from None
    if not names or names[-1] != LAST_MEMBER:
        last = names[-1] if names else "no member"
        problem = f"ends after {last}, before pg_dump's last member {LAST_MEMBER}"
    elif reader.tail != TRAILER:
        problem = "ends without tar's end-of-archive marker"
    else:
        return TarSummary(len(names), size, checked=True)
    raise IntegrityError(
        f"the tar inside {source} {problem}: the dump is truncated", TRUNCATED_HINT
    )
