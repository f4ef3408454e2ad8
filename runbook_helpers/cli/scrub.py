"""``runbook scrub``: scrub personal data by a policy, verify by a dump scan, then hand over."""

from __future__ import annotations

import argparse
from pathlib import Path

from runbook_helpers.cli import dev_snapshot
from runbook_helpers.cli.output import Output
from runbook_helpers.errors import ExitStatus
from runbook_helpers.pg.target import Target, connect
from runbook_helpers.scrub.guess import draft
from runbook_helpers.scrub.policy import Policy
from runbook_helpers.scrub.run import scrub
from runbook_helpers.scrub.schema import read_columns


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "scrub",
        help="replace personal data by a policy that classifies every column, then verify",
        description="Refuses (changing nothing) when the database has a column the policy "
        "does not classify. Scrubs in one transaction, VACUUM FULLs, then scans a "
        "pg_dump --data-only for emails, phone numbers, the policy's forbidden patterns and "
        "sampled original values; only if that finds nothing is the database renamed (--as).",
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument(
        "--policy", type=Path, metavar="FILE", help="the policy (e.g. scrub/vlvt.yml)"
    )
    mode.add_argument(
        "--init", action="store_true", help="print a drafted policy (a guess per column) to review"
    )
    parser.add_argument("--target", required=True, metavar="URL", help="database to scrub")
    parser.add_argument(
        "--as",
        dest="rename_to",
        metavar="NAME",
        help="after a clean scan, rename the database to NAME (the name developers use)",
    )
    parser.set_defaults(func=handle)
    dev_snapshot.register(subparsers)


def handle(args: argparse.Namespace, out: Output) -> int:
    if args.init:
        target = Target.parse(args.target)
        with connect(args.target) as conn:
            out.line(draft(conn, read_columns(conn), target.display).rstrip("\n"))
        return int(ExitStatus.OK)
    policy = Policy.load(args.policy)
    with dev_snapshot.details_on_failure(out, policy):
        result = scrub(
            args.target,
            policy,
            rename_to=args.rename_to,
            on_stage=lambda msg: out.info(f"runbook: {msg}"),
        )
    out.line(result.summary())
    return int(ExitStatus.OK)
