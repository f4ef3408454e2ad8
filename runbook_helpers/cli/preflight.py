"""``runbook preflight --target URL``: the checklist to run before a restore starts."""

from __future__ import annotations

import argparse
import re

from runbook_helpers.checks.preflight import run_preflight
from runbook_helpers.cli.common import add_s3_options, client_from_args
from runbook_helpers.cli.output import Output
from runbook_helpers.errors import UsageError
from runbook_helpers.pg.target import Target
from runbook_helpers.r2.storage import resolve_profile

_UNITS = {"": 1, "B": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "preflight",
        help="check tools, R2 access, the target server, space and time before a restore",
        description="Prints one line per check (OK, WARN or FAIL) and exits non-zero, with the "
        "status of the first failure, when any prerequisite is missing. Writes nothing.",
    )
    parser.add_argument(
        "--target",
        required=True,
        metavar="URL",
        help="the database the restore will create, e.g. postgresql:///vlvt_restored",
    )
    parser.add_argument(
        "--production",
        action="store_true",
        help="the target server is production (required for a production host, as for restore)",
    )
    parser.add_argument(
        "--free",
        metavar="SIZE",
        type=parse_size,
        help="free space on the target server's volume when PostgreSQL cannot tell "
        "(Railway: Postgres → Metrics), e.g. 4.5G",
    )
    add_s3_options(parser)
    parser.set_defaults(func=handle)


def parse_size(text: str) -> int:
    """``4.5G``, ``800M``, ``1.2GiB`` or bytes."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*", text, re.IGNORECASE)
    if not m:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 4.5G, 800M)")
    return int(float(m.group(1)) * _UNITS[m.group(2).upper()])


def handle(args: argparse.Namespace, out: Output) -> int:
    target = Target.parse(args.target)
    if not target.params.get("dbname"):
        raise UsageError(
            "--target names no database",
            hint="name the database the restore will create: postgresql:///vlvt_restored",
        )
    report = run_preflight(
        lambda: client_from_args(args),
        args.bucket,
        args.subfolder,
        target,
        production=args.production,
        free_bytes=args.free,
        profile=resolve_profile(args.profile),
    )
    for check in report.checks:
        out.line(f"{check.status:<5} {check.name:<9} {check.detail}")
        if check.hint and check.status != "OK":
            out.line(f"{'':<16}→ {check.hint}")
    failures = report.failures
    warnings = sum(c.status == "WARN" for c in report.checks)
    if failures:
        out.error(
            f"{len(failures)} prerequisite(s) missing: " + ", ".join(c.name for c in failures),
            "fix the FAIL lines above, then run runbook preflight again",
        )
    else:
        out.line(f"preflight: ready ({warnings} warning(s))")
    return report.exit_status
