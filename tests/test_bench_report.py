"""The time-estimates page and its chart are what the committed benchmark JSON gives."""

from __future__ import annotations

import importlib.util
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _report() -> ModuleType:
    spec = importlib.util.spec_from_file_location("report", ROOT / "benchmarks" / "report.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


report = _report()


@pytest.fixture(scope="module")
def committed() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ROOT / "docs/data/bench.json").read_text())
    return data


def test_page_is_generated_from_the_committed_json(committed: dict[str, Any]) -> None:
    page = (ROOT / report.PAGE).read_text()
    start, end = page.index(report.BEGIN), page.index(report.END) + len(report.END) + 1
    assert page[start:end] == report.markdown(committed), (
        "docs/time-estimates.md is out of date: run python benchmarks/report.py"
    )


def test_chart_is_generated_from_the_committed_json(committed: dict[str, Any]) -> None:
    svg = (ROOT / report.CHART).read_text()
    assert svg == report.svg_chart(committed)
    root = ET.fromstring(svg)  # well-formed, and one line per measured step
    lines = root.findall("{http://www.w3.org/2000/svg}polyline")
    assert len(lines) == len(committed["sizes"][0]["steps"])


def _fake(floor: float, steps: dict[str, float], db_gb: float) -> dict[str, Any]:
    return {
        "db_bytes": int(db_gb * 1e9),
        "archive_bytes": int(db_gb * 1.5e8),
        "steps": {
            k: {"runs_s": [v], "median_s": v, "peak_rss_mb": 80.0}
            for k, v in {"floor": floor, **steps}.items()
        },
    }


def _result(sizes: list[dict[str, Any]]) -> dict[str, Any]:
    machine = {
        "cores": 2,
        "cpu": "X",
        "memory_gb": 8,
        "postgres": "16.2",
        "loadavg_1m_at_start": 1.0,
    }
    return {
        "measured_at": "2026-11-25T15:00:00+00:00",
        "machine": machine,
        "rounds": 3,
        "sizes": sizes,
    }


def test_ratios_and_extrapolation_come_from_the_numbers() -> None:
    result = _result(
        [
            _fake(10.0, {"restore_j2": 8.0, "verify_archive": 2.0}, 0.5),
            _fake(20.0, {"restore_j2": 15.0, "verify_archive": 4.0}, 1.0),
        ]
    )
    text = report.markdown(result)
    assert "| 15.0 s (0.75x) |" in text and "8.0 s (0.80x)" in text
    # 15 s per GB -> 150 s at 10 GB (2.5 min), 750 s at 50 GB (12.5 min); 4 s per GB -> 40 s
    # at 10 GB: seconds under a minute, never "0 min"
    row = next(
        ln
        for ln in text.splitlines()
        if ln.startswith("| `runbook restore F -j 2`") and "min" in ln
    )
    assert row.endswith("| 2.5 min | 12.5 min |")
    assert "| `runbook verify --archive F` alone | 40 s | 3.3 min |" in text
    assert "Measured on 2026-11-25" in text and "Assumptions:" in text
    # judged from 1 GB up only: the 0.5 GB size (0.80x) is not a column
    assert "<= 0.90x the floor | 0.75x / 0.75x | yes |" in text
    assert "<= 0.25x the floor | 0.20x / 0.20x | yes |" in text
    assert "not measured at 2 GB" in text  # never claimed when not measured
    slow = dict(result, sizes=[_fake(20.0, {"verify_archive": 6.0}, 1.0)])
    assert "<= 0.25x the floor | 0.30x / 0.30x | **no** |" in report.markdown(slow)
    # every size from 1 GB up must meet a target: one miss is a miss
    two = dict(
        result,
        sizes=[
            _fake(20.0, {"restore_j2": 17.0}, 1.0),
            _fake(40.0, {"restore_j2": 38.0}, 2.0),
        ],
    )
    text = report.markdown(two)
    assert "<= 0.90x the floor | 0.85x / 0.85x | 0.95x / 0.95x | **no** |" in text
    assert "| 80 MB at 2.00 GB | | yes |" in text


def test_a_step_timed_once_says_so() -> None:
    """From 1 GB up the scrub runs in one round only: its cell says "one run", not a best."""
    size = _fake(20.0, {"restore_j2": 17.0, "scrub": 180.0}, 1.0)
    size["steps"]["floor"]["runs_s"] = [19.0, 20.0, 22.0]
    lines = report.markdown(_result([size])).splitlines()
    row = next(ln for ln in lines if ln.startswith("| `runbook scrub`"))
    assert row.endswith("| 180.0 s (9.00x); one run |"), row
    floor = next(ln for ln in lines if ln.startswith("| serial floor:"))
    assert "best 19.0 s" in floor


def test_the_suite_times_are_shown_against_their_targets(committed: dict[str, Any]) -> None:
    times = {
        "cores": 2,
        "targets_s": {"tests": 180.0, "one_page": 30.0},
        "tests": {"seconds": 171.4, "exit": 0, "loadavg_1m_at_start": 1.5},
        "one_page": {"seconds": 41.0, "exit": 0, "loadavg_1m_at_start": 2.0},
    }
    text = report.markdown({**committed, "suite": times})
    assert (
        "- `nox -s tests`'s pytest run: 2.9 min (exit 0, load average 1.5 at the start); " in text
    )
    assert "target 3.0 min: met" in text
    assert (
        "- one page: 41 s (exit 0, load average 2.0 at the start); target 30 s: **not met**" in text
    )
    assert "The test suite" not in report.markdown(committed)
