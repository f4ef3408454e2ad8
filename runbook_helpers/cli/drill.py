"""``runbook drill``: run the whole restore procedure end to end and time it against 1 hour."""

from __future__ import annotations

import argparse
from pathlib import Path

from runbook_helpers.checks.drill import REAL_TARGET_ENV, run_drill
from runbook_helpers.checks.drill_steps import DrillReport, Step
from runbook_helpers.cli.output import Output
from runbook_helpers.human import human_size


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "drill",
        help="timed restore drill: seed, back up, list, fetch, inspect, restore, verify",
        description="Default: an embedded PostgreSQL ($RUNBOOK_PG, default auto) and a moto R2, "
        "started and stopped by the command. With $" + REAL_TARGET_ENV + " (an empty scratch "
        "database) and R2 credentials: restores the newest real backup into it instead. "
        "Exits non-zero if any step failed.",
    )
    parser.add_argument("--scale", type=float, default=1.0, help="seed size (sandbox mode)")
    parser.add_argument("--seed", type=int, default=42, help="seed for the data (sandbox mode)")
    parser.add_argument("--jobs", "-j", type=int, default=0, help="pg_restore jobs")
    parser.add_argument(
        "--report",
        type=Path,
        default=None,
        metavar="FILE",
        help="write a JSON report (steps, seconds, sizes, rows, versions, ok)",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        metavar="DIR",
        help="scratch directory (default: a temp dir, removed afterwards)",
    )
    parser.set_defaults(func=handle)


def _progress(out: Output) -> object:
    def on_step(step: Step) -> None:
        state = "skipped" if step.skipped else "ok" if step.ok else "FAILED"
        out.info(f"runbook: drill step {step.name}: {state} ({step.seconds:.1f} s)")

    return on_step


def render(report: DrillReport, out: Output) -> None:
    out.line(f"restore drill ({report.mode} mode), target {report.target_seconds} s (DEP-04)")
    out.line(f"{'step':<8} {'seconds':>8}  {'status':<7}  detail")
    for step in report.steps:
        state = "skipped" if step.skipped else "ok" if step.ok else "FAILED"
        detail = step.error if step.error else step.detail
        out.line(f"{step.name:<8} {step.seconds:>8.2f}  {state:<7}  {detail}")
        if step.hint:
            out.line(f"{'':<8} {'':>8}  {'':<7}  hint: {step.hint}")
    restore_path = report.restore_path_seconds
    verdict = "within" if restore_path <= report.target_seconds else "OVER"
    out.line(
        f"{'total':<8} {report.total_seconds:>8.2f}  restore path (list..verify) "
        f"{restore_path:.1f} s: {verdict} the {report.target_seconds} s target"
    )
    if "archive_bytes" in report.sizes:
        out.line(f"archive size {human_size(report.sizes['archive_bytes'])}")
    out.line("drill OK" if report.ok else "drill FAILED")


def handle(args: argparse.Namespace, out: Output) -> int:
    report = run_drill(
        scale=args.scale,
        seed=args.seed,
        workdir=args.workdir,
        jobs=args.jobs,
        on_step=_progress(out),  # type: ignore[arg-type]
    )
    render(report, out)
    if args.report is not None:
        report.write(args.report)
        out.info(f"runbook: report written to {args.report}")
    return report.status
