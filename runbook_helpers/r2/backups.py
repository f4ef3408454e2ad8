"""Which backups exist: listing (newest first, by the time in the key) and freshness checks."""

from __future__ import annotations

import logging
import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from runbook_helpers.errors import NotFound, Stale
from runbook_helpers.r2.errors import translate_errors
from runbook_helpers.r2.naming import key_prefix, parse_backup_key
from runbook_helpers.r2.storage import S3Client, S3Location

log = logging.getLogger("runbook")

DEFAULT_MAX_AGE = timedelta(hours=25)
#: A key dated this far past our clock is a fault (writer's clock, a hand-made key), never
#: "the latest backup" nor a fresh one.
FUTURE_TOLERANCE = timedelta(minutes=15)
DEFAULT_MIN_RATIO = 0.5
SIZE_WINDOW = 7


@dataclass(frozen=True)
class BackupObject:
    """One backup archive in the bucket (sidecars and unrelated keys are never listed)."""

    key: str
    taken_at: datetime
    size: int
    last_modified: datetime
    bucket: str = ""

    @property
    def location(self) -> S3Location:
        return S3Location(self.bucket, self.key)

    @property
    def uri(self) -> str:
        return self.location.uri


def list_backups(client: S3Client, bucket: str, subfolder: str = "") -> list[BackupObject]:
    """Every backup directly in ``subfolder`` (or the bucket root), newest first.

    Order is by the timestamp in the key, not LastModified (a re-upload or copy changes that).
    Pages through ListObjectsV2, so more than 1,000 objects are fine.
    """
    prefix = key_prefix(subfolder)
    found: list[BackupObject] = []
    where = f"s3://{bucket}/{prefix}"
    with translate_errors(where, endpoint=str(client.meta.endpoint_url)):
        paginator = client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
            for obj in page.get("Contents", []):
                taken_at = parse_backup_key(obj["Key"])
                if taken_at is None:
                    continue
                found.append(
                    BackupObject(
                        key=obj["Key"],
                        taken_at=taken_at,
                        size=int(obj["Size"]),
                        last_modified=obj["LastModified"],
                        bucket=bucket,
                    )
                )
    found.sort(key=lambda b: (b.taken_at, b.key), reverse=True)
    return found


def split_future(
    backups: list[BackupObject], now: datetime | None = None
) -> tuple[list[BackupObject], list[BackupObject]]:
    """(backups dated up to now, backups dated in the future); a warning names each future one."""
    limit = (now or datetime.now(UTC)) + FUTURE_TOLERANCE
    past = [b for b in backups if b.taken_at <= limit]
    future = [b for b in backups if b.taken_at > limit]
    for backup in future:
        log.warning(
            "ignoring %s: its key is dated %s, in the future (a clock or naming fault of its "
            "writer)",
            backup.uri,
            backup.taken_at.isoformat(),
        )
    return past, future


def _folders(client: S3Client, bucket: str, subfolder: str) -> list[str]:
    """Sub-prefixes next to an empty listing (to suggest the right --subfolder)."""
    with translate_errors(f"s3://{bucket}", endpoint=str(client.meta.endpoint_url)):
        resp = client.list_objects_v2(
            Bucket=bucket, Prefix=key_prefix(subfolder), Delimiter="/", MaxKeys=20
        )
    return [p["Prefix"] for p in resp.get("CommonPrefixes", [])]


def no_backups_error(
    client: S3Client, bucket: str, subfolder: str = "", *, future: int = 0
) -> NotFound:
    """The NotFound to raise for an empty listing, with the best hint we can give."""
    where = f"s3://{bucket}/{key_prefix(subfolder)}"
    if future:
        return NotFound(
            f"no backup dated before now in {where} ({future} key(s) dated in the future were "
            "ignored)",
            hint="check the backup service's clock and BACKUP_FILE_PREFIX; "
            "`runbook backups list` shows every key",
        )
    folders = _folders(client, bucket, subfolder)
    if folders:
        hint = "backups may be in a subfolder: try --subfolder " + " or ".join(
            f.rstrip("/") for f in folders[:5]
        )
    else:
        hint = (
            "check --bucket/--subfolder (or $RUNBOOK_BUCKET/$RUNBOOK_SUBFOLDER) against the "
            "backup service's AWS_S3_BUCKET/BUCKET_SUBFOLDER, or make one with `runbook backup`"
        )
    return NotFound(f"no backups (*.tar.gz named by the backup template) in {where}", hint)


def size_anomaly(
    backups: list[BackupObject], index: int = 0, *, min_ratio: float = DEFAULT_MIN_RATIO
) -> str | None:
    """Why ``backups[index]`` (newest first) is suspiciously small, or None.

    Small means under ``min_ratio`` x the median of the up to 7 backups before it: a dump
    killed mid-way uploads a valid gzip of a tar that lacks the largest tables (the template
    has no ``pipefail``), so its size is the first sign.
    """
    previous = [b.size for b in backups[index + 1 : index + 1 + SIZE_WINDOW]]
    if not previous:
        return None
    median = float(statistics.median(previous))
    size = backups[index].size
    if size >= min_ratio * median:
        return None
    which = "newest backup" if index == 0 else "backup"
    return (
        f"{which} is {size} bytes, under {min_ratio:g} x the median "
        f"{median:.0f} bytes of the previous {len(previous)}"
    )


def small_backup_error(backup: BackupObject, anomaly: str) -> Stale:
    """The error for a backup far smaller than the ones before it (exit 11)."""
    return Stale(
        f"{backup.uri}: {anomaly}: it is probably incomplete (pg_dump stopped mid-way)",
        hint=f"check it with `runbook inspect {backup.uri}`; `runbook backups list` shows the "
        "backups before it (restore one by its s3:// URI)",
    )


def latest_backup(
    client: S3Client,
    bucket: str,
    subfolder: str = "",
    *,
    before: datetime | None = None,
    check_size: bool = False,
) -> BackupObject:
    """The newest backup (taken at or before ``before`` when given); NotFound when none.

    Keys dated in the future are reported and skipped (see :func:`split_future`).
    ``check_size``: Stale (exit 11) when it is far smaller than the ones before it.
    """
    backups, future = split_future(list_backups(client, bucket, subfolder))
    if not backups:
        raise no_backups_error(client, bucket, subfolder, future=len(future))
    for index, backup in enumerate(backups):
        if before is None or backup.taken_at <= before:
            anomaly = size_anomaly(backups, index) if check_size else None
            if anomaly is not None:
                raise small_backup_error(backup, anomaly)
            return backup
    assert before is not None  # with no moment, the loop returned the newest
    oldest = backups[-1]
    raise NotFound(
        f"no backup taken at or before {before.isoformat()} in s3://{bucket}/{subfolder}; "
        f"the oldest is from {oldest.taken_at.isoformat()}",
        hint="backups are kept 30 days; pick a later moment (see `runbook backups list`)",
    )


@dataclass(frozen=True)
class Freshness:
    """Result of :func:`check_freshness`; ``ok`` is False when any problem was found."""

    latest: BackupObject
    age: timedelta
    max_age: timedelta
    median_previous: float | None
    min_ratio: float
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def ratio(self) -> float | None:
        if not self.median_previous:
            return None
        return self.latest.size / self.median_previous


def check_freshness(
    client: S3Client,
    bucket: str,
    subfolder: str = "",
    *,
    max_age: timedelta = DEFAULT_MAX_AGE,
    min_ratio: float = DEFAULT_MIN_RATIO,
    now: datetime | None = None,
) -> Freshness:
    """Is the newest backup recent enough, and is its size in line with the previous ones?

    Size is anomalous when it is under ``min_ratio`` x the median of the previous (up to 7)
    backups: the template once uploaded 20-byte backups for weeks. Keys dated in the future
    are reported and never count as the newest backup.
    """
    now = now or datetime.now(UTC)
    backups, future = split_future(list_backups(client, bucket, subfolder), now)
    if not backups:
        raise no_backups_error(client, bucket, subfolder, future=len(future))
    latest = backups[0]
    age = now - latest.taken_at
    previous = [b.size for b in backups[1 : 1 + SIZE_WINDOW]]
    median = float(statistics.median(previous)) if previous else None
    problems: list[str] = []
    if age > max_age:
        problems.append(f"newest backup is {_hours(age)} old (max {_hours(max_age)})")
    anomaly = size_anomaly(backups, min_ratio=min_ratio)
    if anomaly is not None:
        problems.append(anomaly)
    return Freshness(latest, age, max_age, median, min_ratio, problems)


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:.1f} h"
