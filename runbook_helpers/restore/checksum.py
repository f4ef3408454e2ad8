"""The ``.sha256`` sidecar of a restore's source: read it, and compare it with the bytes read.

The sidecar format is :func:`runbook_helpers.r2.fetch.parse_sha256_sidecar`'s (sha256sum).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runbook_helpers.errors import IntegrityError
from runbook_helpers.r2 import storage
from runbook_helpers.r2.errors import translate_errors
from runbook_helpers.r2.fetch import parse_sha256_sidecar
from runbook_helpers.redact import redact_text

NOTHING_RESTORED = "nothing was restored"


def sidecar_sha256(source: str, client: Any, *, r2: bool) -> str | None:
    """The hex digest in ``<source>.sha256`` (sha256sum format), or None when there is none.
    ``r2``: the source is an R2 object (decided once, in
    :class:`~runbook_helpers.restore.run.Source`)."""
    text: str | None
    if r2:
        loc = storage.S3Location.parse(source)
        with translate_errors(loc):
            text = storage.read_text(
                client or storage.s3_client(), storage.S3Location(loc.bucket, loc.key + ".sha256")
            )
    else:
        side = Path(source + ".sha256")
        text = side.read_text(encoding="utf-8") if side.is_file() else None
    if not text or not text.split():
        return None
    return parse_sha256_sidecar(text)


def check_sha(expected: str | None, actual: str, source: str, *, left: str) -> None:
    """IntegrityError if the sidecar's digest differs; ``left`` says what that left behind."""
    if expected is None or expected == actual:
        return
    raise IntegrityError(
        f"sha256 mismatch for {redact_text(source)}: the .sha256 sidecar says {expected[:12]}..., "
        f"the bytes read hash to {actual[:12]}...",
        hint="fetch it again (a partial upload or download?); if it persists, use an older backup",
        left=left,
    )
