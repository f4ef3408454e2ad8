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
from runbook_helpers.archive.stream import TarCut, iter_gunzip, walk_tar
from runbook_helpers.errors import IntegrityError

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
