"""``runbook backups list|latest``: what backups exist, newest first."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from runbook_helpers.cli.common import add_s3_options, client_from_args
from runbook_helpers.cli.output import Output
from runbook_helpers.errors import ExitStatus, UsageError
from runbook_helpers.human import human_age, human_size, iso
from runbook_helpers.r2.backups import (
    BackupObject,
    latest_backup,
    list_backups,
    no_backups_error,
    size_anomaly,
    small_backup_error,
    split_future,
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "backups",
        help="list the backups in the bucket (newest first) or print the latest",
        description="Backups are ordered by the timestamp in their key, not by LastModified.",
    )
    sub = parser.add_subparsers(dest="backups_command", metavar="{list,latest}", required=True)
    lister = sub.add_parser("list", help="newest first: time, age, size, URI")
    lister.add_argument("--json", action="store_true", help="machine-readable output")
    lister.add_argument("--limit", type=int, default=None, help="show only the N newest")
    add_s3_options(lister)
    lister.set_defaults(func=handle_list)
    latest = sub.add_parser(
        "latest", help="print the s3:// URI of the newest backup (details on stderr)"
    )
    latest.add_argument("--json", action="store_true", help="machine-readable output")
    latest.add_argument(
        "--before",
        type=parse_moment,
        default=None,
        metavar="TIME",
        help="the newest backup taken at or before TIME (ISO 8601, UTC if no offset; "
        "a bare date means the end of that day)",
    )
    add_s3_options(latest)
    latest.set_defaults(func=handle_latest)


def as_json(backup: BackupObject, now: datetime) -> dict[str, Any]:
    return {
        "uri": backup.uri,
        "bucket": backup.bucket,
        "key": backup.key,
        "taken_at": iso(backup.taken_at),
        "age_seconds": int((now - backup.taken_at).total_seconds()),
        "size": backup.size,
        "size_human": human_size(backup.size),
        "last_modified": iso(backup.last_modified),
    }


def handle_list(args: argparse.Namespace, out: Output) -> int:
    if args.limit is not None and args.limit < 1:
        raise UsageError(f"--limit must be at least 1, not {args.limit}")
    client = client_from_args(args)
    backups = list_backups(client, args.bucket, args.subfolder)
    if not backups:
        raise no_backups_error(client, args.bucket, args.subfolder)
    past, _ = split_future(backups)  # warns about keys dated in the future; still listed
    anomaly = size_anomaly(past) if past else None
    total = len(backups)
    shown = backups[: args.limit] if args.limit else backups
    now = datetime.now(UTC)
    if args.json:
        out.json([as_json(b, now) for b in shown])
    else:
        out.line(f"{'TAKEN (UTC)':<24}  {'AGE':>12}  {'SIZE':>10}  URI")
        for b in shown:
            flag = "  <- far smaller than the ones before" if anomaly and b is past[0] else ""
            out.line(
                f"{iso(b.taken_at):<24}  {human_age(b.taken_at, now):>12}  "
                f"{human_size(b.size):>10}  {b.uri}{flag}"
            )
    out.info(f"{len(shown)} of {total} backups in s3://{args.bucket}/{args.subfolder}")
    if anomaly:
        raise small_backup_error(past[0], anomaly)
    return int(ExitStatus.OK)


def parse_moment(text: str) -> datetime:
    """``2026-01-25T12:00:00Z``, ``2026-01-25 12:00+01:00`` or ``2026-01-25`` (end of day)."""
    try:
        if len(text) == 10:  # a bare date: the whole day counts
            day = datetime.fromisoformat(text)
            return day.replace(hour=23, minute=59, second=59, microsecond=999999, tzinfo=UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time: use ISO 8601, e.g. 2026-01-25T12:00:00Z or 2026-01-25"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def handle_latest(args: argparse.Namespace, out: Output) -> int:
    # a backup far smaller than the ones before (a dump killed mid-way): exit 11, its URI in
    # the error line and nothing on stdout, so `BACKUP=$(runbook backups latest)` stops there
    backup = latest_backup(
        client_from_args(args), args.bucket, args.subfolder, before=args.before, check_size=True
    )
    now = datetime.now(UTC)
    if args.json:
        out.json(as_json(backup, now))
    else:
        out.line(backup.uri)
    out.info(
        f"latest backup: taken {iso(backup.taken_at)} ({human_age(backup.taken_at, now)}), "
        f"{human_size(backup.size)}"
    )
    return int(ExitStatus.OK)
