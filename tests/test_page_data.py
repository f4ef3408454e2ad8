"""The pages' nightly backups look the same at any hour (tests/fixtures/page_data.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.fixtures.page_data import NIGHTS, activity_rounds, nightly_times


@pytest.mark.parametrize("hour", [0, 2, 3, 12, 23])
def test_a_past_day_has_seen_the_same_activity_at_any_hour(hour: int) -> None:
    """docs/scenarios/investigation.md restores "the day before yesterday": before 03:00 UTC
    that backup is the second newest, after it the third; it has seen 3 days either way, and
    the newest backup always NIGHTS (a count that once changed at midnight)."""
    now = datetime(2026, 12, 8, hour, 30, tzinfo=UTC)
    times = nightly_times(now)
    rounds = dict(zip((t.date() for t in times), activity_rounds(times, now), strict=True))
    assert len(times) == NIGHTS and times[-1] <= now
    assert rounds[now.date() - timedelta(days=2)] == NIGHTS - 2
    assert rounds[times[-1].date()] == NIGHTS
    assert list(rounds.values()) == sorted(rounds.values())
