"""Where restore-test keeps its reports: a directory keeps the newest N; bad input is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runbook_helpers.checks.restore_history import LocalHistory, open_history, report_name
from runbook_helpers.errors import UsageError


def test_a_directory_keeps_the_newest_reports_oldest_first(tmp_path: Path) -> None:
    history = open_history(str(tmp_path / "h"), keep=2, client=None)
    assert isinstance(history, LocalHistory) and history.load() == []
    for night in ("20260101T030000.000000Z", "20260102T030000.000000Z", "20260103T030000.0Z"):
        history.save(report_name(night), {"stamp": night})
    assert [r["stamp"] for r in history.load()] == [
        "20260102T030000.000000Z",
        "20260103T030000.0Z",
    ]
    assert len(list((tmp_path / "h").iterdir())) == 2


def test_an_unreadable_report_is_left_out_not_fatal(tmp_path: Path) -> None:
    history = LocalHistory(tmp_path)
    history.save(report_name("20260101T030000.000000Z"), {"stamp": "good"})
    (tmp_path / report_name("20260102T030000.000000Z")).write_text("{not json")
    (tmp_path / report_name("20260103T030000.000000Z")).write_text(json.dumps([1, 2]))
    assert history.load() == [{"stamp": "good"}]


def test_bad_history_settings_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="at least 1"):
        open_history(str(tmp_path), keep=0, client=None)
    with pytest.raises(UsageError, match="needs a profile that may write") as info:
        open_history("s3://vlvt-backups/restore-tests/", keep=30, client=None)
    assert "--history-profile r2-vlvt-write" in info.value.hint
