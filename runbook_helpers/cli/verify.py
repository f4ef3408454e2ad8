"""``runbook verify``: exact row counts and newest created_at, against a manifest or a database."""

from __future__ import annotations

import argparse

from runbook_helpers.checks.verify import VerifyReport, check, load_manifest, verify
from runbook_helpers.cli.common import client_from_args
from runbook_helpers.cli.output import Output
from runbook_helpers.errors import ExitStatus
from runbook_helpers.r2.storage import is_s3_uri


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "verify",
        help="compare a restored database's row counts with the backup (archive or manifest)",
        description="Exact count(*) and max(created_at) per table. Exits 10 on any difference "
        "and 9 when the restore marker says the restore is incomplete.",
    )
    parser.add_argument("--target", required=True, metavar="URL", help="the restored database")
    ref = parser.add_mutually_exclusive_group()
    ref.add_argument(
        "--manifest",
        metavar="FILE_OR_S3",
        help="a .manifest.json (local or s3://); a backup key finds KEY.manifest.json",
    )
    ref.add_argument("--against", metavar="URL", help="another database to compare with")
    ref.add_argument(
        "--archive",
        metavar="FILE_OR_S3",
        help="the backup itself: rows and newest created_at read out of its table data "
        "(works for every backup, with or without a manifest)",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--profile", default=None, help="AWS CLI profile for an s3:// manifest")
    parser.set_defaults(func=handle)


def _fmt(value: object) -> str:
    return "-" if value is None else (f"{value:,}" if isinstance(value, int) else str(value))


def render(report: VerifyReport, out: Output) -> None:
    header = ("table", "expected", "actual", "newest created_at", "status")
    rows = [
        (
            t.table,
            _fmt(t.expected_rows),
            _fmt(t.actual_rows),
            _fmt(t.actual_newest or t.expected_newest)
            if t.status != "newest differs"
            else f"{t.expected_newest} != {t.actual_newest}",
            t.status,
        )
        for t in report.tables
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        out.line(" | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    out.line(f"restore marker: {report.marker or '(none)'} [{report.marker_state}]")
    if report.reference:
        verdict = "OK" if report.ok else "MISMATCH" if report.complete else "INCOMPLETE"
        out.line(f"compared with {report.reference}: {verdict}")


def handle(args: argparse.Namespace, out: Output) -> int:
    manifest = None
    if args.manifest:
        client = client_from_args(args) if is_s3_uri(args.manifest) else None
        manifest = load_manifest(args.manifest, client=client)
    archive_client = client_from_args(args) if args.archive and is_s3_uri(args.archive) else None
    report = verify(
        args.target,
        manifest=manifest,
        manifest_name=args.manifest,
        against_url=args.against,
        archive=args.archive,
        client=archive_client,
    )
    if args.json:
        out.json(report.to_dict())
    else:
        render(report, out)
    check(report)
    return int(ExitStatus.OK)
