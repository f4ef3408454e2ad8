"""Turn ``bench.json`` (written by ``benchmarks/run.py``) into the time-estimates page and chart.

``python benchmarks/report.py docs/data/bench.json`` rewrites the part of
``docs/time-estimates.md`` between ``<!-- bench:begin -->`` and ``<!-- bench:end -->`` and
writes ``docs/images/bench.svg``; ``tests/test_bench_report.py`` fails when the committed page
or chart differ from what the committed JSON gives. The SVG is written by hand (no plotting
dependency): time per step against database size.
"""

from __future__ import annotations

import json
import math
import sys
from html import escape
from pathlib import Path
from typing import Any

BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
PAGE = Path("docs/time-estimates.md")
CHART = Path("docs/images/bench.svg")
GB = 1e9

#: step -> (label in the table and legend, colour in the chart)
STEPS: dict[str, tuple[str, str]] = {
    "floor": ("serial floor: `gzip -cd F | pg_restore -d DB` + ANALYZE", "#555555"),
    "floor_mwm": ("serial floor with PGOPTIONS maintenance_work_mem=256MB", "#999999"),
    "restore_file": ("`runbook restore F -j 1` (stream, checks, rows verified)", "#1f77b4"),
    "restore_s3": ("`runbook restore s3://... -j 1` (streamed from R2 stand-in)", "#17becf"),
    "restore_j2": (
        "`runbook restore F -j 2` (rows to 2 COPY sessions, pg_restore -j 2 indexes, verified)",
        "#2ca02c",
    ),
    "restore_j2_mwm": ("`runbook restore F -j 2 --maintenance-work-mem 256MB`", "#98df8a"),
    "verify_archive": ("`runbook verify --archive F` alone", "#d62728"),
    "fetch": ("`runbook fetch s3://...` (download + checks)", "#ff7f0e"),
    "scrub": ("`runbook scrub`", "#9467bd"),
}
#: short names for the chart's legend
LEGEND = {
    "floor": "serial floor (gzip | pg_restore)",
    "floor_mwm": "floor + maintenance_work_mem",
    "restore_file": "runbook restore -j 1 (file)",
    "restore_s3": "runbook restore -j 1 (s3://)",
    "restore_j2": "runbook restore -j 2",
    "restore_j2_mwm": "-j 2 + maintenance_work_mem",
    "verify_archive": "runbook verify --archive",
    "fetch": "runbook fetch",
    "scrub": "runbook scrub",
}
RATIO_STEPS = (
    "restore_file",
    "restore_s3",
    "restore_j2",
    "restore_j2_mwm",
    "verify_archive",
)


def _label(step: str) -> str:
    return STEPS.get(step, (step, "#000000"))[0]


def _cell(text: str) -> str:
    """A table cell: a pipe inside it (even in a code span) is escaped."""
    return text.replace("|", "\\|")


def _nice(top: float) -> tuple[float, float]:
    """An axis maximum and tick step (1, 2 or 5 times a power of ten) covering ``top``."""
    raw = max(top, 1e-9) / 5
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    return math.ceil(top / step) * step, step


def svg_chart(result: dict[str, Any]) -> str:
    """A small line chart: median seconds of each step against database size (GB)."""
    sizes = sorted(result["sizes"], key=lambda s: s["db_bytes"])
    steps = [k for k in STEPS if any(k in s["steps"] for s in sizes)]
    w, h, left, right, top, bottom = 720, 380, 56, 330, 16, 44
    xmax = max((s["db_bytes"] / GB for s in sizes), default=1.0) * 1.05 or 1.0
    ymax, ystep = _nice(max((v["median_s"] for s in sizes for v in s["steps"].values()), default=1))
    pw, ph = w - left - right, h - top - bottom

    def x(v: float) -> float:
        return left + pw * v / xmax

    def y(v: float) -> float:
        return top + ph * (1 - v / ymax)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" '
        f'height="{h}" font-family="sans-serif" font-size="11" role="img">',
        "<title>Median seconds per step against database size</title>",
        f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#bbb"/>',
    ]
    for i in range(round(ymax / ystep) + 1):
        yv = ystep * i
        out.append(
            f'<line x1="{left}" x2="{left + pw}" y1="{y(yv):.1f}" y2="{y(yv):.1f}" stroke="#eee"/>'
        )
        out.append(f'<text x="{left - 6}" y="{y(yv) + 4:.1f}" text-anchor="end">{yv:g}</text>')
    for s in sizes:
        gb = s["db_bytes"] / GB
        out.append(
            f'<text x="{x(gb):.1f}" y="{top + ph + 16}" text-anchor="middle">{gb:.2f}</text>'
        )
    out.append(
        f'<text x="{left + pw / 2}" y="{h - 6}" text-anchor="middle">'
        "database size (GB, pg_database_size)</text>"
    )
    out.append(
        f'<text x="14" y="{top + ph / 2}" transform="rotate(-90 14 {top + ph / 2})" '
        'text-anchor="middle">seconds (median)</text>'
    )
    for n, step in enumerate(steps):
        colour = STEPS[step][1]
        points = [
            (s["db_bytes"] / GB, s["steps"][step]["median_s"]) for s in sizes if step in s["steps"]
        ]
        path = " ".join(f"{x(a):.1f},{y(b):.1f}" for a, b in points)
        dash = ' stroke-dasharray="5 3"' if step.startswith("floor") else ""
        out.append(
            f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>'
        )
        for a, b in points:
            out.append(f'<circle cx="{x(a):.1f}" cy="{y(b):.1f}" r="3" fill="{colour}"/>')
        ly = top + 8 + n * 18
        out.append(
            f'<line x1="{w - right + 12}" x2="{w - right + 32}" y1="{ly}" y2="{ly}" '
            f'stroke="{colour}" stroke-width="2"{dash}/>'
        )
        out.append(
            f'<text x="{w - right + 38}" y="{ly + 4}">{escape(LEGEND.get(step, step))}</text>'
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _mb(n: float) -> str:
    return f"{n / 1e6:,.0f} MB"


def _span(seconds: float) -> str:
    """``45 s`` under a minute, else ``2.5 min`` (an estimate: one decimal, never "0 min")."""
    return f"{seconds:.0f} s" if seconds < 60 else f"{seconds / 60:.1f} min"


def per_gb(size: dict[str, Any], step: str) -> float:
    """Seconds per GB of database for ``step`` at this size."""
    return float(size["steps"][step]["median_s"]) / (float(size["db_bytes"]) / GB)


def markdown(result: dict[str, Any], chart: str = "images/bench.svg") -> str:
    """The measured part of the time-estimates page."""
    sizes = sorted(result["sizes"], key=lambda s: s["db_bytes"])
    m = result["machine"]
    lines = [
        BEGIN,
        "<!-- generated by `python benchmarks/report.py docs/data/bench.json`: do not edit -->",
        "",
        f"Measured on {result['measured_at'][:10]} by `nox -s bench` on a machine with "
        f"{m['cores']} CPU cores ({m['cpu']}), {m['memory_gb']} GB of memory, PostgreSQL "
        f"{m['postgres']} and an S3 server on the same machine standing in for R2 (load average "
        f"{m['loadavg_1m_at_start']} at the start: the machine was shared). Medians of "
        + ", ".join(
            f"{s.get('rounds', result['rounds'])} alternating rounds at {_mb(s['db_bytes'])}"
            for s in sizes
        )
        + "; the raw figures are in `docs/data/bench.json`.",
        "",
        "| Step | "
        + " | ".join(
            f"{_mb(s['db_bytes'])} database, {_mb(s['archive_bytes'])} backup" for s in sizes
        )
        + " |",
        "| --- |" + " --- |" * len(sizes),
    ]
    for step in STEPS:
        if not any(step in s["steps"] for s in sizes):
            continue
        cells = []
        for s in sizes:
            v = s["steps"].get(step)
            if v is None:
                cells.append("-")
                continue
            floor = s["steps"]["floor"]
            ratio = v["median_s"] / floor["median_s"]
            cell = f"{v['median_s']:.1f} s ({ratio:.2f}x)"
            if len(v["runs_s"]) > 1:  # a shared machine: the best runs are compared too
                best = min(v["runs_s"]) / min(floor["runs_s"])
                cell += f"; best {min(v['runs_s']):.1f} s ({best:.2f}x)"
            elif len(floor["runs_s"]) > 1:
                cell += "; one run"
            cells.append(cell)
        lines.append(f"| {_cell(_label(step))} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "In brackets: the ratio to the serial floor at the same size (below 1 is faster); "
        "`best` compares the fastest run of each (other work on the machine only adds time).",
        "Peak memory of the largest process of a `runbook restore` (runbook, pg_restore or "
        "psql, from wait4's ru_maxrss): "
        + ", ".join(
            f"{max(s['steps'][k]['peak_rss_mb'] for k in RATIO_STEPS if k in s['steps']):.0f} MB "
            f"at {_mb(s['db_bytes'])}"
            for s in sizes
        )
        + ".",
        "",
        # Markdown, not an <img> tag: mkdocs resolves (and --strict checks) the path from the
        # page's file, where a raw src is taken relative to the page's URL (time-estimates/).
        f"![Median seconds of each step against database size]({chart}){{ .rb-chart }}",
        "",
        f"*Median seconds per step against database size (measured "
        f"{result['measured_at'][:10]}).*{{ .rb-chart-caption }}",
        "",
    ]
    lines += suite(result.get("suite"))
    lines += targets(sizes)
    lines += extrapolation(sizes[-1])
    lines.append(END)
    return "\n".join(lines) + "\n"


#: (step, limit as a ratio to the floor, what it means) - the speed targets of issue 11
TARGETS = (
    ("restore_file", 1.10, "`runbook restore` with verification included <= 1.10x the floor"),
    ("restore_j2", 0.90, "`runbook restore --jobs 2`, verification included, <= 0.90x the floor"),
    ("verify_archive", 0.25, "`runbook verify --archive` alone <= 0.25x the floor"),
)


def targets(sizes: list[dict[str, Any]]) -> list[str]:
    """The targets, met or not, at every measured size from 1 GB up (the largest if none is)."""
    judged = [s for s in sizes if s["db_bytes"] >= GB] or sizes[-1:]
    out = [
        "**Against the speed targets** (set for 1 GB and more; medians, then the best runs):",
        "",
        "| Target | "
        + " | ".join(f"{_mb(s['db_bytes'])}: median / best" for s in judged)
        + " | Met (median, every size)? |",
        "| --- |" + " --- |" * len(judged) + " --- |",
    ]
    for step, limit, text in TARGETS:
        cells, met = [], True
        for size in judged:
            if step not in size["steps"]:
                cells.append("-")
                continue
            floor = size["steps"]["floor"]
            ratio = size["steps"][step]["median_s"] / floor["median_s"]
            best = min(size["steps"][step]["runs_s"]) / min(floor["runs_s"])
            cells.append(f"{ratio:.2f}x / {best:.2f}x")
            met = met and ratio <= limit
        if any(c != "-" for c in cells):
            out.append(f"| {text} | " + " | ".join(cells) + f" | {'yes' if met else '**no**'} |")
    largest = judged[-1]
    gb = largest["db_bytes"] / GB
    peaks = [v["peak_rss_mb"] for k, v in largest["steps"].items() if k.startswith("restore")]
    if peaks:
        peak = max(peaks)
        verdict = f"{peak:.0f} MB at {gb:.2f} GB" + ("" if gb >= 2 else " (2 GB not measured)")
        met_rss = ("yes" if peak < 150 else "**no**") if gb >= 2 else "not measured at 2 GB"
        filler = " |" * (len(judged) - 1)
        out.append(f"| Peak memory of a restore < 150 MB at 2 GB | {verdict}{filler} | {met_rss} |")
    out.append("")
    return out


def extrapolation(size: dict[str, Any]) -> list[str]:
    """10 and 50 GB estimates, linear from the largest measured size, assumptions stated."""
    gb = size["db_bytes"] / GB
    out = [
        f"**Extrapolated to 10 and 50 GB** (linear from the {gb:.2f} GB measurement: "
        "seconds per GB of database times the size):",
        "",
        "| Step | 10 GB | 50 GB |",
        "| --- | --- | --- |",
    ]
    for step in ("floor", "restore_file", "restore_j2", "verify_archive", "fetch"):
        if step in size["steps"]:
            rate = per_gb(size, step)
            out.append(f"| {_cell(_label(step))} | {_span(rate * 10)} | {_span(rate * 50)} |")
    out += [
        "",
        "Assumptions: time grows linearly with the database (index builds grow a little faster "
        "than linearly, so large sizes are optimistic); the same 2 cores, and a server like the "
        "sandbox's, which runs with `fsync=off` and `synchronous_commit=off` (a durable "
        "production server writes more slowly); R2 is on "
        "loopback here, so add `backup size / download rate` for a real download (streamed "
        "restores overlap it); the largest table's primary key, indexes and foreign keys are "
        "built one after another, a floor no `-j` removes.",
        "",
    ]
    return out


def suite(times: dict[str, Any] | None) -> list[str]:
    """The test suite's figures (benchmarks/suite.py), when this run measured them."""
    if not times:
        return []
    out = [f"**The test suite** on the same machine ({times['cores']} cores, venv installed):", ""]
    for name, what in (("tests", "`nox -s tests`'s pytest run"), ("one_page", "one page")):
        run, limit = times[name], float(times["targets_s"][name])
        met = "met" if run["exit"] == 0 and float(run["seconds"]) <= limit else "**not met**"
        out.append(
            f"- {what}: {_span(float(run['seconds']))} (exit {run['exit']}, load average "
            f"{run['loadavg_1m_at_start']} at the start); target {_span(limit)}: {met}"
        )
    return [*out, ""]


def update_page(result: dict[str, Any], page: Path = PAGE) -> None:
    text = page.read_text(encoding="utf-8")
    start, end = text.index(BEGIN), text.index(END) + len(END) + 1
    page.write_text(text[:start] + markdown(result) + text[end:], encoding="utf-8")


def main(argv: list[str]) -> None:
    source = Path(argv[1] if len(argv) > 1 else "docs/data/bench.json")
    result = json.loads(source.read_text(encoding="utf-8"))
    update_page(result)
    CHART.parent.mkdir(parents=True, exist_ok=True)
    CHART.write_text(svg_chart(result), encoding="utf-8")
    print(f"updated {PAGE} and {CHART} from {source}")


if __name__ == "__main__":
    main(sys.argv)
