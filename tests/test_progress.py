"""Progress display: a redrawn bar with bytes, rate and ETA on a terminal, nothing otherwise."""

from __future__ import annotations

import io

import pytest

from runbook_helpers.cli.output import Output
from runbook_helpers.cli.progress import ProgressBar, eta_text, progress_for


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _bar(total: int) -> tuple[ProgressBar, io.StringIO, Clock]:
    err = io.StringIO()
    clock = Clock()
    return ProgressBar(Output(io.StringIO(), err, True), total, "restore", clock), err, clock


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "ETA ?"), (0, "ETA 0:00"), (59.6, "ETA 1:00"), (3725, "ETA 1:02:05"), (-1, "ETA ?")],
)
def test_eta_text(seconds: float | None, text: str) -> None:
    assert eta_text(seconds) == text


def test_bar_shows_bytes_rate_and_eta() -> None:
    bar, err, clock = _bar(100 * 1024 * 1024)
    clock.now += 10
    bar.set(25 * 1024 * 1024)  # 2.5 MiB/s, 75 MiB to go: 30 s
    line = err.getvalue().split("\r\033[K")[-1]
    assert line == ("restore [#####...............]  25.0% 25.0 MiB / 100.0 MiB 2.5 MiB/s ETA 0:30")


def test_bar_redraws_at_most_five_times_a_second_but_always_at_the_end() -> None:
    bar, err, _clock = _bar(1000)
    for _ in range(50):
        bar.add(10)  # no time passes: drawn once
    assert err.getvalue().count("\r") == 1
    bar.add(500)
    assert err.getvalue().count("\r") == 2 and "100.0%" in err.getvalue()


def test_notes_clear_the_bar_and_finish_leaves_a_clean_line() -> None:
    bar, err, clock = _bar(0)  # unknown total: bytes and rate only
    clock.now += 2
    bar.set(4096)
    assert err.getvalue().endswith("restore 4.0 KiB 2.0 KiB/s")
    bar.note("runbook: stage done")
    assert err.getvalue().endswith("\r\033[Krunbook: stage done\n")
    bar.finish()
    assert err.getvalue().endswith("\n")  # nothing drawn since the note: nothing to clear


def test_no_bar_when_not_a_terminal() -> None:
    assert progress_for(Output(io.StringIO(), io.StringIO(), False), 10, "fetch") is None
