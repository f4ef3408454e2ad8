"""``runbook seed``: fill an empty database with realistic VLVT-like data."""

from __future__ import annotations

import argparse

from runbook_helpers.cli.output import Output
from runbook_helpers.errors import ExitStatus
from runbook_helpers.human import human_size
from runbook_helpers.produce.seed import seed


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "seed",
        help="create VLVT-like tables and data (users, profiles, matches, messages)",
        description="Refuses a database that already has tables. Deterministic for a given "
        "--seed (timestamps are relative to today's midnight UTC).",
    )
    parser.add_argument("--target", required=True, metavar="URL", help="an empty database")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="1 = 2,000 users, 40,000 messages (default 1)"
    )
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.set_defaults(func=handle)


def handle(args: argparse.Namespace, out: Output) -> int:
    result = seed(args.target, scale=args.scale, seed=args.seed)
    for table, rows in result.rows.items():
        out.line(f"{table:<10} {rows:>10,}")
    out.info(
        f"seeded scale {result.scale:g} (seed {result.seed}) in {result.seconds:.1f} s; "
        f"database size {human_size(result.size_bytes)}"
    )
    return int(ExitStatus.OK)
