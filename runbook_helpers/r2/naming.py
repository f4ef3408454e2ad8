"""Object keys exactly as Railway's ``postgres-s3-backups`` template writes them.

The template names a backup ``${BACKUP_FILE_PREFIX}-${new Date().toISOString()}.tar.gz`` with
every run of ``:`` or ``.`` replaced by ``-``, under an optional ``BUCKET_SUBFOLDER/``::

    vlvt_backup_-2026-01-25T03-00-00-123Z.tar.gz
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

DEFAULT_FILE_PREFIX = "vlvt_backup_"
SUFFIX = ".tar.gz"
SIDECAR_SUFFIXES: tuple[str, ...] = (".sha256", ".manifest.json")

_KEY = re.compile(
    r"^(?P<prefix>.*)-(?P<date>\d{4}-\d{2}-\d{2})T(?P<h>\d{2})-(?P<m>\d{2})-(?P<s>\d{2})"
    r"(?:-(?P<frac>\d{1,6}))?Z\.tar\.gz$"
)


def iso_timestamp(at: datetime) -> str:
    """``2026-01-25T03:00:00.123Z`` (JavaScript's ``toISOString``) for an aware or UTC datetime."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def backup_key(at: datetime, file_prefix: str = DEFAULT_FILE_PREFIX, subfolder: str = "") -> str:
    """The key the template would give a backup taken at ``at``."""
    stamp = re.sub(r"[:.]+", "-", iso_timestamp(at))
    folder = subfolder.strip("/")
    return f"{folder + '/' if folder else ''}{file_prefix}-{stamp}{SUFFIX}"


def parse_backup_key(key: str) -> datetime | None:
    """The UTC time encoded in a backup key, or None for sidecars and unrelated keys."""
    match = _KEY.match(key.rsplit("/", 1)[-1])
    if not match:
        return None
    frac = (match.group("frac") or "0").ljust(6, "0")
    try:
        return datetime.strptime(
            f"{match.group('date')}T{match.group('h')}:{match.group('m')}:{match.group('s')}",
            "%Y-%m-%dT%H:%M:%S",
        ).replace(microsecond=int(frac), tzinfo=UTC)
    except ValueError:  # e.g. month 13
        return None


def key_prefix(subfolder: str = "") -> str:
    """The listing prefix for a subfolder (``""`` for the bucket root)."""
    folder = subfolder.strip("/")
    return f"{folder}/" if folder else ""
