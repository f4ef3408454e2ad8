"""``runbook lifecycle``: show the bucket's expiry rule, or set it (needs an Admin token)."""

from __future__ import annotations

import argparse

from runbook_helpers.cli.common import add_s3_options, client_from_args
from runbook_helpers.cli.output import Output
from runbook_helpers.errors import ExitStatus
from runbook_helpers.r2.lifecycle import lifecycle_rules, set_expiry


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "lifecycle",
        help="show the bucket's lifecycle rules, or set the expiry rule (--expire-days N)",
        description="R2 lets only an Admin Read & Write token read or change bucket "
        "configuration. Unlike `aws s3api put-bucket-lifecycle-configuration` of AWS CLI "
        "1.37+/2.23+, this sends no checksum header R2 refuses.",
    )
    parser.add_argument(
        "--expire-days",
        type=int,
        metavar="N",
        help="replace the bucket's lifecycle rules by one: delete objects N days after upload",
    )
    add_s3_options(parser)
    parser.set_defaults(func=handle)


def handle(args: argparse.Namespace, out: Output) -> int:
    client = client_from_args(args)
    if args.expire_days is not None:
        prefix = f"{args.subfolder.strip('/')}/" if args.subfolder.strip("/") else ""
        rules = set_expiry(client, args.bucket, args.expire_days, prefix)
    else:
        rules = lifecycle_rules(client, args.bucket)
    if not rules:
        out.line(f"s3://{args.bucket}/ has no lifecycle rule: backups are kept forever")
    for rule in rules:
        out.line(rule.describe(args.bucket))
    return int(ExitStatus.OK)
