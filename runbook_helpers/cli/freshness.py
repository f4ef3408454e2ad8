"""``runbook freshness``: is the newest backup recent and of a plausible size? (for cron)"""

from __future__ import annotations

import argparse

from runbook_helpers.cli.common import add_s3_options, client_from_args
from runbook_helpers.cli.output import Output
from runbook_helpers.errors import ExitStatus, UsageError
from runbook_helpers.human import human_size, iso
from runbook_helpers.r2.backups import DEFAULT_MIN_RATIO, check_freshness
from runbook_helpers.r2.presign import parse_duration


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "freshness",
        help="exit 11 (STALE) if the newest backup is too old or suspiciously small",
        description="Prints one status line: OK ... or STALE ... with the numbers.",
    )
    parser.add_argument(
        "--max-age", default="25h", help="oldest acceptable newest backup (default 25h)"
    )
    parser.add_argument(
        "--min-ratio",
        type=float,
        default=DEFAULT_MIN_RATIO,
        help="minimum size relative to the median of the previous 7 (default 0.5)",
    )
    add_s3_options(parser)
    parser.set_defaults(func=handle)


def handle(args: argparse.Namespace, out: Output) -> int:
    max_age = parse_duration(args.max_age)
    if not 0 <= args.min_ratio <= 1:
        raise UsageError(f"--min-ratio must be between 0 and 1, not {args.min_ratio}")
    report = check_freshness(
        client_from_args(args),
        args.bucket,
        args.subfolder,
        max_age=max_age,
        min_ratio=args.min_ratio,
    )
    hours = report.age.total_seconds() / 3600
    ratio = f"{report.ratio:.2f}" if report.ratio is not None else "n/a"
    numbers = (
        f"newest {iso(report.latest.taken_at)} age {hours:.1f} h (max "
        f"{max_age.total_seconds() / 3600:g} h), size {human_size(report.latest.size)} "
        f"ratio {ratio} to median of previous (min {args.min_ratio:g}); {report.latest.uri}"
    )
    if report.ok:
        out.line(f"OK {numbers}")
        return int(ExitStatus.OK)
    out.line(f"STALE {'; '.join(report.problems)}; {numbers}")
    return int(ExitStatus.STALE)
