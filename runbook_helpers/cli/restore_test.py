"""``runbook restore-test``: restore the newest backup into a scratch database, verify, report."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from runbook_helpers.checks.drill_steps import Step
from runbook_helpers.checks.restore_history import DEFAULT_KEEP, open_history, report_name
from runbook_helpers.checks.restore_summary import DEFAULT_DOCS, append_timings, render_markdown
from runbook_helpers.checks.restore_test import DEFAULT_SLOW_RATIO, Settings, run_restore_test
from runbook_helpers.cli.common import add_s3_options, client_from_args
from runbook_helpers.cli.output import Output
from runbook_helpers.errors import UsageError
from runbook_helpers.r2.backups import DEFAULT_MIN_RATIO
from runbook_helpers.r2.presign import parse_duration
from runbook_helpers.r2.storage import is_s3_uri, s3_client

SCRATCH_ENV = "RUNBOOK_SCRATCH_URL"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "restore-test",
        help="restore the newest backup into a scratch database, verify it, drop it, report",
        description="Creates a database vlvt_restore_test_<stamp> on the scratch server, "
        "restores the newest backup into it, verifies the row counts against the archive, "
        "drops it, and prints a Markdown summary. Exits non-zero on any problem: the failed "
        "step's code, or 11 for a backup much smaller or older than the previous ones.",
    )
    parser.add_argument(
        "--scratch-url",
        default=os.environ.get(SCRATCH_ENV) or None,
        metavar="URL",
        help=f"any database on the scratch server, never production (default: ${SCRATCH_ENV})",
    )
    parser.add_argument("--jobs", "-j", type=int, default=0, help="pg_restore jobs")
    parser.add_argument("--report", type=Path, metavar="FILE", help="write the JSON report")
    parser.add_argument(
        "--summary", type=Path, metavar="FILE", help="append the Markdown summary to FILE"
    )
    parser.add_argument(
        "--timings",
        type=Path,
        metavar="CSV",
        help="append this run's seconds per step to CSV (the monthly drill's time estimates)",
    )
    parser.add_argument(
        "--history",
        metavar="DIR|s3://BUCKET/PREFIX/",
        help="keep the last reports there and compare with them (slow restores)",
    )
    parser.add_argument(
        "--history-keep", type=int, default=DEFAULT_KEEP, help=f"default {DEFAULT_KEEP}"
    )
    parser.add_argument(
        "--history-profile",
        metavar="PROFILE",
        help="profile that may write the bucket history (e.g. r2-vlvt-write)",
    )
    parser.add_argument("--max-age", default="25h", help="oldest acceptable newest backup")
    parser.add_argument(
        "--min-ratio",
        type=float,
        default=DEFAULT_MIN_RATIO,
        help="fail under this size relative to the median of the previous backups (0.5)",
    )
    parser.add_argument(
        "--slow-ratio",
        type=float,
        default=DEFAULT_SLOW_RATIO,
        help="warn over this restore time relative to the history's median (2)",
    )
    parser.add_argument(
        "--docs-url",
        default=DEFAULT_DOCS,
        help="base of the troubleshooting links (the published site; default: docs)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the scratch database (for a post-mortem)"
    )
    add_s3_options(parser)
    parser.set_defaults(func=handle)


def handle(args: argparse.Namespace, out: Output) -> int:
    if not args.scratch_url:
        raise UsageError(
            "no scratch database server given",
            hint=f"pass --scratch-url postgresql://USER:PASSWORD@HOST:PORT/postgres or set "
            f"${SCRATCH_ENV}",
        )
    if not 0 <= args.min_ratio <= 1:
        raise UsageError(f"--min-ratio must be between 0 and 1, not {args.min_ratio}")
    history = None
    if args.history:
        bucket_history = is_s3_uri(args.history) and args.history_profile
        writer = s3_client(args.history_profile) if bucket_history else None
        history = open_history(args.history, keep=args.history_keep, client=writer)
    settings = Settings(
        scratch_url=args.scratch_url,
        client=client_from_args(args),
        bucket=args.bucket,
        subfolder=args.subfolder,
        jobs=args.jobs,
        max_age=parse_duration(args.max_age),
        min_ratio=args.min_ratio,
        slow_ratio=args.slow_ratio,
        keep=args.keep,
    )

    def on_step(step: Step) -> None:
        state = "skipped" if step.skipped else "ok" if step.ok else "FAILED"
        out.info(f"runbook: restore-test step {step.name}: {state} ({step.seconds:.1f} s)")

    earlier = history.load() if history else []
    report = run_restore_test(settings, earlier, on_step=on_step)
    summary = render_markdown(report, args.docs_url)
    out.stdout.write(summary)
    data = report.to_dict()
    if args.report is not None:
        args.report.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
        out.info(f"runbook: report written to {args.report}")
    if args.summary is not None:
        with args.summary.open("a", encoding="utf-8") as f:
            f.write(summary)
    if args.timings is not None:
        append_timings(report, args.timings)
        out.info(f"runbook: timings appended to {args.timings}")
    if history is not None:
        out.info(f"runbook: history: {history.save(report_name(report.stamp), data)}")
    return report.status
