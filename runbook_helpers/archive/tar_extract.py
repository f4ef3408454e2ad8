"""Write a tar stream's members to a directory as they go by (for ``pg_restore -Fd``).

A :class:`~runbook_helpers.archive.stream.MemberSink` for
:class:`~runbook_helpers.archive.stream.TarWalker`: the reading is archive_stream's.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import IO

from runbook_helpers.errors import IntegrityError, NoSpace


class Extractor:
    """Writes every member (but those ``skip`` names) to ``directory``, flat: pg_dump's member
    names have no slashes. Every member's name is checked, written or not."""

    def __init__(self, directory: Path, skip: Callable[[str], bool] | None = None) -> None:
        self.directory = directory
        self.skip = skip
        self.file: IO[bytes] | None = None
        self.bytes_written = 0

    def start(self, name: str, size: int) -> None:
        safe = Path(name).name
        if not safe or safe != name or safe in (".", ".."):
            raise IntegrityError(
                f"unexpected member {name!r} in the tar archive: not written by pg_dump",
                hint="use a backup made by pg_dump --format=tar",
            )
        if self.skip is None or not self.skip(safe):
            self.file = (self.directory / safe).open("wb")

    def data(self, buf: bytes, start: int, end: int) -> None:
        if self.file is None:
            return
        try:
            self.file.write(memoryview(buf)[start:end])
        except OSError as exc:
            raise NoSpace(
                f"could not write the extracted archive to {self.directory}: {exc.strerror or exc}",
                left="nothing was restored",
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
