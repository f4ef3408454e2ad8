"""``runbook restore SOURCE --target URL``: restore a backup, safely and as fast as possible."""

from __future__ import annotations

import argparse
from pathlib import Path

from runbook_helpers.archive.header import KINDS
from runbook_helpers.cli.common import add_s3_options, resolve_source
from runbook_helpers.cli.output import Output
from runbook_helpers.cli.progress import progress_for
from runbook_helpers.errors import ExitStatus
from runbook_helpers.human import human_size
from runbook_helpers.restore import memory as restore_memory
from runbook_helpers.restore.dispatch import RestoreOptions, RestoreResult, default_jobs, restore


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "restore",
        help="restore a backup (local or s3://) into a database",
        description="Tar backups (what the backup service writes): with --jobs above 1 into "
        "an empty target, the tables are created from toc.dat, the rows streamed into N COPY "
        "sessions and, once the gzip CRC and .sha256 are checked, indexes and constraints built "
        "with pg_restore -j N, all into a side database that takes the target's name only "
        "after every check; otherwise streamed "
        "through pg_restore into psql in one transaction, committed only after the checks. "
        "Either way the rows of every table are counted from the archive as it is read and "
        "compared with the restored database (exit 10 on a difference) before it is marked "
        "done. Custom/directory archives are restored from a file with pg_restore -j N; plain "
        "SQL only with --format plain. psql always runs in restricted mode (no meta-command "
        "from a backup runs). Owners and grants are left out (--no-owner --no-privileges; for "
        "plain SQL its ALTER ... OWNER TO and ACL entries are dropped), stops at the first "
        "error, runs ANALYZE. A progress bar (bytes, rate, ETA) on a terminal, one line per "
        "stage otherwise.",
    )
    parser.add_argument("source", metavar="SOURCE", help="path, s3://BUCKET/KEY, key or `latest`")
    parser.add_argument("--target", required=True, metavar="URL", help="database to restore into")
    parser.add_argument(
        "--jobs",
        "-j",
        type=int,
        default=0,
        help="parallel jobs (default: the machine's cores, at most 4; now "
        f"{default_jobs()}): a tar backup's rows go to N COPY sessions as they stream and its "
        "indexes are built by pg_restore -j N, into an empty target; 1 always restores "
        "serially in one transaction",
    )
    parser.add_argument(
        "--maintenance-work-mem",
        type=_memory,
        default=restore_memory.DEFAULT,
        metavar="SIZE",
        help="raise maintenance_work_mem to SIZE (e.g. 256MB) for the pg_restore -j sessions "
        "that build the indexes and foreign keys, never lower it; memory on the target "
        f"server, up to --jobs times SIZE (default: {restore_memory.DEFAULT}, the server's "
        "own setting)",
    )
    parser.add_argument(
        "--format",
        choices=KINDS,
        default=None,
        help="what SOURCE holds (gzip'd or not); default: what its name says. Plain SQL is "
        "run only with --format plain",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        metavar="DIR",
        help="where a tar backup's toc.dat (and large objects) are kept, or a custom archive "
        "from R2 is downloaded, for -j (default: $TMPDIR or /tmp)",
    )
    parser.add_argument(
        "--allow-non-empty",
        action="store_true",
        help="restore even if the target already has tables",
    )
    parser.add_argument(
        "--production",
        action="store_true",
        help="allow a production host: the host libpq uses (URL, service, PGHOST, hostaddr) "
        "matching *.railway.internal, *.rlwy.net, *.up.railway.app or "
        "$RUNBOOK_PRODUCTION_HOSTS",
    )
    parser.add_argument(
        "--create", action="store_true", help="create the target database if it does not exist"
    )
    parser.add_argument(
        "--side-db",
        action="store_true",
        help="restore into TARGET_restore_<timestamp>_<4 hex> on the same server",
    )
    parser.add_argument(
        "--swap",
        action="store_true",
        help="with --side-db (implied): after success rename TARGET to "
        "TARGET_old_<timestamp> and the restored copy to TARGET",
    )
    add_s3_options(parser)
    parser.set_defaults(func=handle)


def _memory(text: str) -> int | None:
    """kB, or None for the server's (argparse also runs it on the string default)."""
    try:
        return restore_memory.parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def summary(result: RestoreResult) -> str:
    swapped = f"; previous database kept as {result.swapped_old}" if result.swapped_old else ""
    return (
        f"restored {result.source} ({result.format}, {human_size(result.bytes_read)} read, "
        f"sha256 {result.checksum}) into {result.database} with {result.method}: "
        f"{result.tables} tables in {result.seconds:.1f} s{swapped}"
    )


def _rows(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def handle(args: argparse.Namespace, out: Output) -> int:
    # SIGTERM (a closed terminal, a CI timeout) ends the restore like Ctrl-C, rolled back and
    # said: main() runs every command inside runbook_helpers.interrupts.handled()
    source, client = resolve_source(args)
    bar = progress_for(out, 0, "restore")
    opts = RestoreOptions(
        jobs=args.jobs,
        allow_non_empty=args.allow_non_empty,
        production=args.production,
        create=args.create,
        side_db=args.side_db,
        swap=args.swap,
        format=args.format,
        workdir=args.workdir,
        maintenance_work_mem=args.maintenance_work_mem,
        client=client,
        on_stage=lambda msg: (bar.note if bar else out.info)(f"runbook: {msg}"),
        on_bytes=bar.set if bar else None,
        on_total=(lambda size: setattr(bar, "total", size)) if bar else None,
    )
    out.info(f"runbook: restoring {source}")
    try:
        result = restore(source, args.target, opts)
    finally:
        if bar is not None:
            bar.finish()
    if result.checked is not None:
        for check in result.checked:
            out.info(
                f"  {check.table:<28} {_rows(check.expected_rows):>12} rows in the archive, "
                f"{_rows(check.actual_rows):>12} restored: {check.status}"
            )
    for name, seconds in result.stages.items():
        out.info(f"  {name:<16} {seconds:7.2f} s")
    out.line(summary(result))
    return int(ExitStatus.OK)
