"""Presigned GET URLs: download a backup with plain curl, without the AWS CLI or keys."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from runbook_helpers.errors import UsageError
from runbook_helpers.r2.errors import translate_errors
from runbook_helpers.r2.storage import S3Client, S3Location, head

#: R2 accepts presigned URLs valid from 1 second to 7 days.
MIN_EXPIRY = timedelta(seconds=1)
MAX_EXPIRY = timedelta(days=7)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PART = re.compile(r"(\d+)\s*([smhdw])")


def parse_duration(text: str) -> timedelta:
    """``30s``, ``15m``, ``1h``, ``7d``, ``1h30m`` or plain seconds (``3600``)."""
    raw = text.strip().lower()
    parts = [(raw, "s")] if raw.isdigit() else _PART.findall(raw)
    unreadable = UsageError(
        f"cannot read the duration {text!r}", hint="write it like 30s, 15m, 1h, 7d or 1h30m"
    )
    if not raw or not parts or (not raw.isdigit() and _PART.sub("", raw).strip()):
        raise unreadable
    try:
        return timedelta(seconds=sum(int(n) * _UNITS[unit] for n, unit in parts))
    except OverflowError:  # more than 999,999,999 days
        raise UsageError(
            f"the duration {text!r} is out of range", hint="write it like 30s, 15m, 1h, 7d or 1h30m"
        ) from None


def check_expiry(expires: timedelta) -> None:
    """UsageError unless ``expires`` is within R2's 1 s to 7 days."""
    if not MIN_EXPIRY <= expires <= MAX_EXPIRY:
        raise UsageError(
            f"expiry {format_duration(expires)} is outside R2's limits (1 s to 7 d)",
            hint="pick an --expires between 1s and 7d, e.g. --expires 1h",
        )


def format_duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


@dataclass(frozen=True)
class PresignedURL:
    url: str
    expires_at: datetime
    size: int


def presign(client: S3Client, loc: S3Location, expires: timedelta) -> PresignedURL:
    """A GET URL for ``loc`` valid for ``expires``; the object must exist (checked first)."""
    check_expiry(expires)
    info = head(client, loc)
    with translate_errors(loc, endpoint=str(client.meta.endpoint_url)):
        url = client.generate_presigned_url(
            "get_object",
            Params={"Bucket": loc.bucket, "Key": loc.key},
            ExpiresIn=int(expires.total_seconds()),
        )
    return PresignedURL(url, datetime.now(UTC) + expires, info.size)
