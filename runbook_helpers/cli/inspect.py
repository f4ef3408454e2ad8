"""``runbook inspect SOURCE``: format, archive header, TOC and pg_restore compatibility."""

from __future__ import annotations

import argparse
from typing import Any

from runbook_helpers.archive.inspect import ArchiveInfo, check_compatible, check_complete, inspect
from runbook_helpers.cli.common import add_s3_options, resolve_source
from runbook_helpers.cli.output import Output
from runbook_helpers.errors import ExitStatus
from runbook_helpers.human import human_size


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "inspect",
        help="show a dump's format, versions and contents; check the local pg_restore reads it",
        description="SOURCE is a local file/directory, s3://BUCKET/KEY, a key in --bucket, or "
        "`latest`. The format is detected from the first bytes (not the name); for s3:// only "
        "the first bytes are read, and a tar dump is read to its end to check that it is "
        "complete (every data member toc.dat lists, and tar's end-of-archive blocks). Exits 6 "
        "when it is incomplete, 7 when the local pg_restore is too old.",
    )
    parser.add_argument("source", metavar="SOURCE")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    add_s3_options(parser)
    parser.set_defaults(func=handle)


def render(info: ArchiveInfo, out: Output) -> None:
    rows: list[tuple[str, Any]] = [
        ("source", info.source),
        ("format", info.format),
        ("size", human_size(info.size_bytes) if info.size_bytes is not None else "-"),
        ("archive version", info.archive_version or "-"),
        ("pg_dump version", info.pg_dump_version or "-"),
        ("server version", info.server_version or "-"),
        ("compression", info.compression or "-"),
        ("TOC entries", info.toc_entries if info.toc_entries is not None else "-"),
        ("tables", info.table_count if info.table_count is not None else "-"),
        (
            "needs pg_restore",
            f">= {info.required_pg_restore_major}" if info.required_pg_restore_major else "-",
        ),
        (
            "local pg_restore",
            f"{info.local_pg_restore_major} ({info.local_pg_restore})"
            if info.local_pg_restore
            else "none found",
        ),
    ]
    if info.complete is not None:
        promised, present = info.data_members_promised, info.data_members_present
        rows += [
            ("data members", f"{present} of {promised} that toc.dat lists"),
            ("end of archive", "yes" if info.end_blocks else "NO (no end-of-archive blocks)"),
            ("complete", "yes" if info.complete else "no"),
        ]
        if info.missing_members:
            rows.append(("missing", ", ".join(info.missing_members)))
    rows.append(("compatible", "yes" if info.compatible else "NO"))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        out.line(f"{key:<{width}}  {value}")
    if info.format.startswith("plain"):
        out.line(f"{'restore with':<{width}}  psql -X -v ON_ERROR_STOP=1 --single-transaction")


def handle(args: argparse.Namespace, out: Output) -> int:
    source, client = resolve_source(args)
    info = inspect(source, client=client)
    if args.json:
        out.json(info.to_dict())
    else:
        render(info, out)
    check_complete(info)
    check_compatible(info)
    return int(ExitStatus.OK)
