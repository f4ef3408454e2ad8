"""Key naming exactly as the postgres-s3-backups template does it (table tests)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from runbook_helpers.r2.naming import backup_key, parse_backup_key

T = datetime(2026, 1, 25, 3, 0, 0, 123000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("at", "prefix", "subfolder", "key"),
    [
        (T, "vlvt_backup_", "", "vlvt_backup_-2026-01-25T03-00-00-123Z.tar.gz"),
        (T, "vlvt_backup_", "prod", "prod/vlvt_backup_-2026-01-25T03-00-00-123Z.tar.gz"),
        (T, "vlvt_backup_", "/prod/", "prod/vlvt_backup_-2026-01-25T03-00-00-123Z.tar.gz"),
        (T, "backup", "a/b", "a/b/backup-2026-01-25T03-00-00-123Z.tar.gz"),
        (T.replace(microsecond=0), "p", "", "p-2026-01-25T03-00-00-000Z.tar.gz"),
        # microseconds are cut to milliseconds, like JavaScript's toISOString()
        (T.replace(microsecond=999999), "p", "", "p-2026-01-25T03-00-00-999Z.tar.gz"),
        # other time zones are converted to UTC
        (
            datetime(2026, 1, 25, 4, 0, tzinfo=timezone(timedelta(hours=1))),
            "p",
            "",
            "p-2026-01-25T03-00-00-000Z.tar.gz",
        ),
        # naive datetimes are taken as UTC
        (datetime(2026, 12, 31, 23, 59, 59), "p", "", "p-2026-12-31T23-59-59-000Z.tar.gz"),
    ],
)
def test_backup_key(at: datetime, prefix: str, subfolder: str, key: str) -> None:
    assert backup_key(at, prefix, subfolder) == key


@pytest.mark.parametrize(
    "at",
    [T, T.replace(microsecond=0), datetime(2024, 2, 29, 23, 59, 59, 999000, tzinfo=UTC)],
)
@pytest.mark.parametrize("prefix", ["vlvt_backup_", "backup", "x-y-z", ""])
@pytest.mark.parametrize("subfolder", ["", "prod", "a/b"])
def test_round_trip(at: datetime, prefix: str, subfolder: str) -> None:
    assert parse_backup_key(backup_key(at, prefix, subfolder)) == at


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("vlvt_backup_-2026-01-25T03-00-00-123Z.tar.gz", T),
        ("sub/vlvt_backup_-2026-01-25T03-00-00-123Z.tar.gz", T),
        ("vlvt_backup_-2026-01-25T03-00-00Z.tar.gz", T.replace(microsecond=0)),
        # sidecars and unrelated keys are not backups
        ("vlvt_backup_-2026-01-25T03-00-00-123Z.tar.gz.sha256", None),
        ("vlvt_backup_-2026-01-25T03-00-00-123Z.tar.gz.manifest.json", None),
        ("vlvt_backup_2026-01-25_03-00-00.sql.gz", None),  # the old runbook's imagined name
        ("notes.txt", None),
        ("vlvt_backup_-2026-13-25T03-00-00-123Z.tar.gz", None),  # month 13
        ("sub/", None),
    ],
)
def test_parse_backup_key(key: str, expected: datetime | None) -> None:
    assert parse_backup_key(key) == expected
