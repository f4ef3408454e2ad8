"""tests/fixtures/schedule.py: the longest files first, each file whole and in order."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from tests.fixtures.schedule import SecondsRecorder, estimate, longest_files_first


class FakeItem:
    """The two things the schedule reads of a pytest item: its node id and its markers."""

    def __init__(self, nodeid: str, *marks: pytest.MarkDecorator) -> None:
        self.nodeid = nodeid
        self.marks = [m.mark for m in marks]

    def get_closest_marker(self, name: str) -> Any:
        return next((m for m in self.marks if m.name == name), None)


def items(*fakes: FakeItem) -> list[pytest.Item]:
    return cast(list[pytest.Item], list(fakes))


def test_the_longest_file_goes_first_and_keeps_its_order() -> None:
    quick = [FakeItem(f"tests/test_a.py::t{i}") for i in range(10)]
    page = [
        FakeItem("docs/p.md::L1[bash]"),
        FakeItem("docs/p.md::reader[zsh]", pytest.mark.reader_shell),
    ]
    long = [
        FakeItem("tests/test_z.py::first"),
        FakeItem("tests/test_z.py::drill", pytest.mark.slow(seconds=70)),
    ]
    ordered = longest_files_first(items(*quick, *page, *long))
    assert [i.nodeid for i in ordered] == [i.nodeid for i in (*long, *page, *quick)]


def test_equal_files_keep_their_collection_order() -> None:
    a, b = FakeItem("tests/test_a.py::t"), FakeItem("tests/test_b.py::t")
    assert longest_files_first(items(a, b)) == items(a, b)


def test_estimates() -> None:
    assert estimate(cast(pytest.Item, FakeItem("x", pytest.mark.slow))) == 10
    assert estimate(cast(pytest.Item, FakeItem("x", pytest.mark.slow(seconds=3)))) == 3
    assert estimate(cast(pytest.Item, FakeItem("x", pytest.mark.reader_shell))) == 10
    assert estimate(cast(pytest.Item, FakeItem("docs/p.md::L1[bash]"))) == 1
    assert estimate(cast(pytest.Item, FakeItem("tests/test_a.py::t"))) == 0.3


def test_recorded_seconds_come_before_estimates() -> None:
    a, b = (
        FakeItem("tests/test_a.py::t", pytest.mark.slow(seconds=70)),
        FakeItem("tests/test_b.py::t"),
    )
    assert longest_files_first(items(a, b), {"tests/test_b.py": 90.0}) == items(b, a)


def test_the_recorder_adds_up_each_files_reports(tmp_path: Path) -> None:
    recorder = SecondsRecorder(tmp_path / "seconds.json")
    for nodeid, seconds in [
        ("docs/p.md::L1[bash]", 1.5),
        ("tests/test_a.py::t", 2.0),
        ("docs/p.md::L9[console]", 1.0),
    ]:
        recorder.pytest_runtest_logreport(
            cast(pytest.TestReport, SimpleNamespace(nodeid=nodeid, duration=seconds))
        )
    recorder.pytest_sessionfinish()
    assert (
        tmp_path / "seconds.json"
    ).read_text() == '{\n "docs/p.md": 2.5,\n "tests/test_a.py": 2.0\n}\n'
