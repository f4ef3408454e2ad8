"""Is a tar-format dump complete? Walk it to its end without restoring anything.

The reading is :func:`runbook_helpers.archive.stream.walk_tar`; this module says what a
complete pg_dump tar is and words the failure.

The backup template runs ``pg_dump --format=tar | gzip`` without ``pipefail``: when pg_dump dies
half-way, gzip still ends its stream properly, so the ``.tar.gz`` passes every gzip check and
the truncation is inside the tar. pg_restore reading such a tar from a pipe does not fail: it
spins at the end of its input (seen with pg_restore 15.18), so a restore or ``verify --archive``
of it never ends. This walk fails fast instead: every member must be whole, ``restore.sql``
(pg_dump writes it last) must be there, and the archive must end with tar's two zero blocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runbook_helpers.archive.source import open_source
from runbook_helpers.archive.stream import TarCut, TarWalker, iter_gunzip, walk_tar
from runbook_helpers.archive.toc import read_toc
from runbook_helpers.errors import IntegrityError

LAST_MEMBER = "restore.sql"
TRUNCATED_HINT = (
    "the dump was cut before it ended (pg_dump failed while gzip went on): restore the previous "
    "backup, and check the backup service's logs for the night"
)

INCOMPLETE_HINT = (
    "pg_dump stopped before the end (no pipefail in the backup service): restore an older backup "
    "(`runbook backups list`), and check the backup service's logs for that night"
)


@dataclass(frozen=True)
class TarSummary:
    members: int
    data_bytes: int
    checked: bool  # False: not a tar archive (pg_restore checks custom/plain itself)


def check_tar_complete(source: str, *, client: Any = None) -> TarSummary:
    """Read the whole archive; IntegrityError if the tar inside is cut short."""
    with open_source(source, client=client) as opened:
        if opened.format not in ("tar", "tar.gz"):
            return TarSummary(0, 0, checked=False)
        raw = opened.raw_chunks()
        try:
            walk = walk_tar(iter_gunzip(raw) if opened.format == "tar.gz" else raw, source)
        except TarCut as exc:
            raise IntegrityError(
                f"the tar inside {source} is truncated after {len(exc.names)} members: {exc}",
                hint=TRUNCATED_HINT,
            ) from None
    names = walk.names
    if not names or names[-1] != LAST_MEMBER:
        last = names[-1] if names else "no member"
        problem = f"ends after {last}, before pg_dump's last member {LAST_MEMBER}"
    elif not walk.end.ended:
        problem = "ends without tar's end-of-archive marker"
    else:
        return TarSummary(len(names), walk.data_bytes, checked=True)
    raise IntegrityError(
        f"the tar inside {source} {problem}: the dump is truncated", TRUNCATED_HINT
    )


# --- completeness: what toc.dat promises against what the tar holds ---------------------------

#: TOC entry kinds whose data pg_dump writes to a member of its own (``NNNN.dat``)
DATA_DESCS = frozenset({"TABLE DATA", "BLOBS", "BLOB", "LARGE OBJECTS", "SEQUENCE SET"})


class _Members:
    """A tar member sink: the members read whole, and the bytes of ``toc.dat``."""

    def __init__(self) -> None:
        self.whole: list[str] = []
        self.current = ""
        self.toc = bytearray()

    def start(self, name: str, size: int) -> None:
        self.current = name

    def data(self, buf: bytes, start: int, end: int) -> None:
        if self.current == "toc.dat":
            self.toc += buf[start:end]

    def end(self) -> None:
        self.whole.append(self.current)


@dataclass(frozen=True)
class Completeness:
    """A tar dump read to its end: the data members ``toc.dat`` promises and those present."""

    promised: dict[str, str]  # data member -> "schema.table" (toc.dat's order)
    present: tuple[str, ...]  # members read whole, in order
    cut_member: str | None  # the member the archive ends inside, if any
    end_blocks: bool  # tar's end-of-archive (zero) blocks are there
    stream_error: str | None  # gzip cut or corrupt, toc.dat unreadable
    stream_hint: str = ""

    @property
    def hint(self) -> str:
        return self.stream_hint or INCOMPLETE_HINT

    @property
    def missing(self) -> list[str]:
        return [m for m in self.promised if m not in self.present]

    @property
    def complete(self) -> bool:
        return (
            self.stream_error is None
            and "toc.dat" in self.present
            and not self.missing
            and self.cut_member is None
            and self.end_blocks
            and LAST_MEMBER in self.present
        )

    def missing_named(self, limit: int = 5) -> str:
        """``2553.dat (public.m_big), ...``: the missing data members and their tables."""
        named = [f"{m} ({self.promised[m]})" for m in self.missing]
        more = f" and {len(named) - limit} more" if len(named) > limit else ""
        return ", ".join(named[:limit]) + more

    def problem(self) -> str | None:
        """One phrase saying why the archive is incomplete; None when it is complete."""
        if self.complete:
            return None
        if self.stream_error is not None:
            return self.stream_error
        if "toc.dat" not in self.present:
            return "the tar holds no toc.dat (pg_dump wrote nothing)"
        parts: list[str] = []
        if self.missing:
            parts.append(
                f"{len(self.missing)} of {len(self.promised)} data members that toc.dat lists "
                f"are missing: {self.missing_named()}"
            )
        if self.cut_member is not None:
            parts.append(f"it ends inside member {self.cut_member}")
        if LAST_MEMBER not in self.present:
            parts.append(f"pg_dump's last member {LAST_MEMBER} is missing")
        if not self.end_blocks:
            parts.append("it has no end-of-archive blocks")
        return "; ".join(parts)


def tar_completeness(source: str, *, client: Any = None) -> Completeness | None:
    """Read a tar or tar.gz dump to its end; None for other formats (pg_restore checks those)."""
    members = _Members()
    walker = TarWalker(members)
    error: str | None = None
    hint = ""
    with open_source(source, client=client) as opened:
        if opened.format not in ("tar", "tar.gz"):
            return None
        raw = opened.raw_chunks()
        try:
            for chunk in iter_gunzip(raw) if opened.format == "tar.gz" else raw:
                walker.feed(chunk)
        except IntegrityError as exc:
            error, hint = str(exc), exc.hint
    promised: dict[str, str] = {}
    if members.toc and "toc.dat" in members.whole:
        try:
            for entry in read_toc(bytes(members.toc)):
                if entry.filename and entry.desc in DATA_DESCS:
                    promised[entry.filename] = f"{entry.namespace or ''}.{entry.tag or ''}"
        except IntegrityError as exc:
            error, hint = error or str(exc), hint or exc.hint
    cut = walker.members[-1] if walker.in_member and walker.members else None
    return Completeness(promised, tuple(members.whole), cut, walker.ended, error, hint)
