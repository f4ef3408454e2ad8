"""``runbook backup``: an on-demand backup, made exactly as the Railway template makes it."""

from __future__ import annotations

import argparse
import os
from datetime import UTC, datetime

from runbook_helpers.cli.common import add_s3_options, client_from_args
from runbook_helpers.cli.output import Output
from runbook_helpers.errors import ExitStatus, UsageError
from runbook_helpers.human import human_size
from runbook_helpers.produce.backup import create_backup
from runbook_helpers.r2.naming import DEFAULT_FILE_PREFIX


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "backup",
        help="pg_dump --format=tar | gzip to R2 now (as the backup service does), with sidecars",
        description="Uploads KEY, KEY.sha256 and KEY.manifest.json; prints the s3:// URI. "
        "Nothing is uploaded if pg_dump fails or its output is empty.",
    )
    parser.add_argument(
        "--source",
        default=os.environ.get("BACKUP_DATABASE_URL"),
        help="database URL to dump (default: $BACKUP_DATABASE_URL)",
    )
    parser.add_argument(
        "--file-prefix",
        default=os.environ.get("BACKUP_FILE_PREFIX") or DEFAULT_FILE_PREFIX,
        help=f"key prefix (default: $BACKUP_FILE_PREFIX or {DEFAULT_FILE_PREFIX})",
    )
    parser.add_argument(
        "--at", default=None, help="timestamp for the key, ISO-8601 (default: now; for drills)"
    )
    add_s3_options(parser)
    parser.set_defaults(func=handle)


def parse_at(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        at = datetime.fromisoformat(text)
        return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError) as exc:  # not a time, or outside years 1-9999 in UTC
        raise UsageError(
            f"cannot read --at {text!r} as a time between years 1 and 9999 UTC",
            hint="use ISO-8601, e.g. 2026-01-25T03:00:00Z",
        ) from exc


def handle(args: argparse.Namespace, out: Output) -> int:
    if not args.source:
        raise UsageError(
            "no database to back up", hint="pass --source URL or set $BACKUP_DATABASE_URL"
        )
    at = parse_at(args.at)
    result = create_backup(
        args.source,
        client_from_args(args),
        args.bucket,
        subfolder=args.subfolder,
        file_prefix=args.file_prefix,
        at=at,
        log=out.info,
    )
    rows = sum(t.rows for t in result.manifest.tables.values())
    out.info(
        f"backup {human_size(result.size)}, {len(result.manifest.tables)} tables, {rows} rows; "
        + ", ".join(f"{k.removesuffix('_seconds')} {v:.1f} s" for k, v in result.timings.items())
    )
    out.line(result.uri)
    return int(ExitStatus.OK)
