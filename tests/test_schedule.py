"""tests/fixtures/schedule.py: the longest files first, each file whole and in order; the
fault-corpus files one unit, on one worker."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from tests.fixtures.schedule import (
    GroupedFileScheduling,
    SecondsRecorder,
    estimate,
    longest_files_first,
    pytest_xdist_make_scheduler,
    scope_of,
)


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


CORPUS = "tests/faults/test_corpus_*.py"


def test_the_corpus_files_are_one_scope_and_every_other_file_its_own() -> None:
    assert scope_of("tests/faults/test_corpus_messages.py") == CORPUS
    assert scope_of("tests/faults/test_corpus_paths.py") == CORPUS
    assert scope_of("tests/faults/test_restore_faults.py") == "tests/faults/test_restore_faults.py"
    assert scope_of("tests/test_corpus_x.py") == "tests/test_corpus_x.py"
    assert scope_of("docs/backups.md") == "docs/backups.md"


def test_the_corpus_group_stays_together_ranked_by_its_total() -> None:
    """Each corpus file alone is shorter than the stalls file; together they are longer, so
    they go first, whole, each file in order, the longest of them first."""
    paths = FakeItem("tests/faults/test_corpus_paths.py::t")
    stalls = FakeItem("tests/faults/test_storage_stalls.py::t")
    messages = [FakeItem(f"tests/faults/test_corpus_messages.py::t{i}") for i in range(2)]
    quick = FakeItem("tests/test_a.py::t")
    recorded = {
        "tests/faults/test_corpus_messages.py": 48.5,
        "tests/faults/test_corpus_paths.py": 13.4,
        "tests/faults/test_storage_stalls.py": 50.0,
    }
    ordered = longest_files_first(items(paths, stalls, quick, *messages), recorded)
    assert ordered == items(*messages, paths, stalls, quick)
    recorded["tests/faults/test_storage_stalls.py"] = 90.5
    ordered = longest_files_first(items(paths, stalls, quick, *messages), recorded)
    assert ordered == items(stalls, *messages, paths, quick)


class FakeNode:
    """A worker as the scheduler sees it: it is sent item indexes, and may be shut down."""

    def __init__(self, name: str) -> None:
        self.gateway = SimpleNamespace(id=name)
        self.sent: list[int] = []
        self.shutting_down = False

    def send_runtest_some(self, indexes: list[int]) -> None:
        self.sent += indexes

    def shutdown(self) -> None:
        self.shutting_down = True


def fake_config(dist: str, reorder: bool) -> pytest.Config:
    """What xdist's schedulers read of the config: --dist, --tx (-n 2), --loadscope-reorder."""
    values = {"dist": dist, "tx": ["2*popen"]}
    option = SimpleNamespace(loadscopereorder=reorder)
    return cast(pytest.Config, SimpleNamespace(getvalue=values.__getitem__, option=option))


@pytest.mark.parametrize("reorder", [False, True])
def test_the_scheduler_sends_the_whole_corpus_group_to_one_worker(reorder: bool) -> None:
    """xdist's own scheduling loop (``schedule``, then each finished item marked complete),
    with or without --no-loadscope-reorder: every corpus file lands on one worker, in
    collection order, and each other file wholly on one worker."""
    collection = [
        "tests/faults/test_corpus_messages.py::a",
        "tests/faults/test_corpus_messages.py::b",
        "tests/faults/test_corpus_restores.py::a",
        "tests/faults/test_storage_stalls.py::a",
        "tests/faults/test_storage_stalls.py::b",
        "tests/faults/test_corpus_paths.py::a",  # collected apart from the rest of its group
        "tests/test_a.py::a",
        "tests/test_b.py::a",
    ]
    sched = pytest_xdist_make_scheduler(fake_config("loadfile", reorder), log=None)
    assert isinstance(sched, GroupedFileScheduling)
    nodes = [FakeNode("gw0"), FakeNode("gw1")]
    for node in nodes:
        sched.add_node(node)
        sched.add_node_collection(node, collection)
    sched.schedule()
    done: set[int] = set()
    while not sched.tests_finished:  # each worker finishes what it was sent, in order
        for node in nodes:
            for index in [i for i in node.sent if i not in done]:
                done.add(index)
                sched.mark_test_complete(node, index)
    ran = {node.gateway.id: [collection[i] for i in node.sent] for node in nodes}
    corpus = [nodeid for nodeid in collection if "test_corpus_" in nodeid]
    owners = [name for name, ids in ran.items() if any(i in corpus for i in ids)]
    assert len(owners) == 1
    assert [i for i in ran[owners[0]] if i in corpus] == corpus
    for file in ("tests/faults/test_storage_stalls.py", "tests/test_a.py", "tests/test_b.py"):
        assert len([name for name, ids in ran.items() if any(i.startswith(file) for i in ids)]) == 1
    assert sorted(i for ids in ran.values() for i in ids) == sorted(collection)


def test_other_dist_modes_keep_xdists_own_scheduler() -> None:
    assert pytest_xdist_make_scheduler(fake_config("load", False), log=None) is None
    assert pytest_xdist_make_scheduler(fake_config("loadgroup", False), log=None) is None
