"""``runbook presign``: a presigned GET URL so a backup can be fetched with curl alone."""

from __future__ import annotations

import argparse

from runbook_helpers.cli.common import (
    add_s3_options,
    client_from_args,
    location_from_args,
)
from runbook_helpers.cli.output import Output
from runbook_helpers.errors import ExitStatus
from runbook_helpers.human import human_size, iso
from runbook_helpers.r2.presign import check_expiry, format_duration, parse_duration, presign


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "presign",
        help="print a presigned download URL for a backup (curl -o FILE URL)",
        description="Anyone holding the URL can download the object until it expires.",
    )
    parser.add_argument("source", metavar="S3_URI", help="s3://BUCKET/KEY (or a key in --bucket)")
    parser.add_argument(
        "--expires", default="1h", help="validity, 1s to 7d: 30s, 15m, 1h, 7d (default 1h)"
    )
    add_s3_options(parser)
    parser.set_defaults(func=handle)


def handle(args: argparse.Namespace, out: Output) -> int:
    expires = parse_duration(args.expires)
    check_expiry(expires)  # before any network access
    loc = location_from_args(args, args.source)
    signed = presign(client_from_args(args), loc, expires)
    out.line(signed.url)
    out.info(
        f"warning: anyone with this URL can download {loc.name} ({human_size(signed.size)}) "
        f"until {iso(signed.expires_at)} ({format_duration(expires)}); share it privately"
    )
    out.info(f"download with: curl -fSo {loc.name} '<URL>'")
    return int(ExitStatus.OK)
