"""Formatting helpers of the storage commands (table tests)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from runbook_helpers.human import human_age, human_size, iso

NOW = datetime(2026, 1, 25, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 B"),
        (20, "20 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (int(117.3 * 1024 * 1024), "117.3 MiB"),
        (5 * 1024**3, "5.0 GiB"),
        (3 * 1024**4, "3.0 TiB"),
    ],
)
def test_human_size(size: int, text: str) -> None:
    assert human_size(size) == text


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=45), "45 s ago"),
        (timedelta(minutes=12), "12 min ago"),
        (timedelta(hours=2, minutes=5), "2 h ago"),
        (timedelta(hours=30), "30 h ago"),
        (timedelta(days=3, hours=4), "3 d ago"),
        (timedelta(minutes=-10), "10 min ahead"),
    ],
)
def test_human_age(delta: timedelta, text: str) -> None:
    assert human_age(NOW - delta, NOW) == text


def test_iso() -> None:
    assert iso(NOW.replace(microsecond=123456)) == "2026-01-25T12:00:00.123Z"
