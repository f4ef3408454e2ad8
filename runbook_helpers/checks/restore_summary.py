"""The Markdown summary of a restore test: readable in ten seconds, in a terminal or on GitHub.

Verdict first, then the flags, then one row per step with its time against the one-hour budget;
a failed step carries its error, its hint and a link to the troubleshooting page.
"""

from __future__ import annotations

import csv
from pathlib import Path

from runbook_helpers.checks.drill_steps import Step
from runbook_helpers.checks.restore_test import RestoreTestReport
from runbook_helpers.errors import ExitStatus
from runbook_helpers.human import human_size

TIMING_STEPS = ("scratch", "freshness", "integrity", "list", "inspect", "restore", "verify")
TIMING_FIELDS = ("date", "backup", "archive_bytes", *TIMING_STEPS, "restore_path", "verdict")

DEFAULT_DOCS = "docs"  # the runbook's pages in the repository; the site URL in CI

_ANCHORS = {
    int(ExitStatus.INCOMPATIBLE): "troubleshooting.md#postgresql-version-mismatch",
}
_DEFAULT_ANCHOR = "troubleshooting.md#error-messages-and-what-to-do"


def troubleshooting_link(step: Step, docs: str = DEFAULT_DOCS) -> str:
    """Where to read about a failed step's exit status (page.md links work on the site too)."""
    page = _ANCHORS.get(step.status, _DEFAULT_ANCHOR)
    if docs.startswith(("http://", "https://")):  # the built site: page/ instead of page.md
        page = page.replace(".md#", "/#")
    return f"{docs.rstrip('/')}/{page}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _step_row(step: Step, budget: int, docs: str) -> str:
    time, share = f"{step.seconds:.1f} s", f"{100 * step.seconds / budget:.1f} %"
    if step.skipped:
        time, share, result = "-", "-", "skipped"
    elif step.ok:
        result = f"ok: {step.detail}"
    else:
        result = f"**FAILED** (exit {step.status}): {step.error}"
        if step.hint:
            result += f"; hint: {step.hint}"
        result += f" ([troubleshooting]({troubleshooting_link(step, docs)}))"
    return f"| {step.name} | {time} | {share} | {_cell(result)} |"


def _scratch_state(scratch: dict[str, object]) -> str:
    if scratch.get("dropped"):
        return "dropped"
    if not scratch.get("created"):
        return "not created"
    if scratch.get("drop_error"):
        return f"NOT dropped: {scratch['drop_error']}"
    return "kept (--keep): drop it when done"


def render_markdown(report: RestoreTestReport, docs: str = DEFAULT_DOCS) -> str:
    """The whole summary as Markdown text (ends with a newline)."""
    run = report.run
    size = run.sizes.get("archive_bytes")
    headline = f"## Restore test: {report.verdict} (exit {report.status})"
    what = f"Newest backup `{run.backup.rsplit('/', 1)[-1]}`" if run.backup else "No backup"
    if size is not None:
        what += f", {human_size(size)}"
    if report.backup_taken_at:
        what += f", taken {report.backup_taken_at}"
    budget = run.target_seconds
    lines = [
        headline,
        "",
        f"{what}. Restore path {run.restore_path_seconds:.1f} s of the {budget} s budget "
        f"(DEP-04); scratch database `{report.scratch.get('database', '?')}` "
        f"{_scratch_state(report.scratch)}.",
        "",
    ]
    for flag in report.flags:
        mark = "**FAIL**" if flag.severity == "fail" else "**warning**"
        lines.append(f"- {mark} {flag.kind}: {flag.message}")
    if report.flags:
        lines.append("")
    lines += ["| Step | Time | Of budget | Result |", "| --- | ---: | ---: | --- |"]
    lines += [_step_row(step, budget, docs) for step in run.steps]
    if run.rows:
        total = sum(r.get("actual") or 0 for r in run.rows.values())
        lines += ["", f"Rows restored: {total:,} in {len(run.rows)} tables."]
    previous = report.history.get("previous_reports", 0)
    if previous:
        median = report.history.get("median_restore_seconds")
        lines.append(f"History: {previous} earlier passing reports, median restore {median} s.")
    return "\n".join(lines) + "\n"


def append_timings(report: RestoreTestReport, path: Path) -> None:
    """One CSV row per run (seconds per step): the measurements behind the time estimates."""
    run = report.run
    row: dict[str, object] = {f: "" for f in TIMING_FIELDS}
    row.update(
        date=run.started_at[:10],
        backup=run.backup.rsplit("/", 1)[-1] if run.backup else "",
        archive_bytes=run.sizes.get("archive_bytes", ""),
        restore_path=f"{run.restore_path_seconds:.1f}",
        verdict=report.verdict,
    )
    for step in run.steps:
        if step.name in TIMING_STEPS and not step.skipped:
            row[step.name] = f"{step.seconds:.1f}"
    new = not path.exists() or path.stat().st_size == 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=TIMING_FIELDS, lineterminator="\n")
        if new:
            writer.writeheader()
        writer.writerow(row)
