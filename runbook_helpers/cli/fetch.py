"""``runbook fetch``: download a backup and verify it (size, sha256 sidecar, full gunzip)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from runbook_helpers.cli.common import add_s3_options, resolve_source
from runbook_helpers.cli.output import Output
from runbook_helpers.cli.progress import progress_for
from runbook_helpers.errors import ExitStatus
from runbook_helpers.human import human_size
from runbook_helpers.r2.fetch import FetchResult, fetch, verify_local
from runbook_helpers.r2.storage import S3Location, head


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "fetch",
        help="download a backup to a local file and verify it completely",
        description="SOURCE is s3://BUCKET/KEY, a key in --bucket, `latest`, or a local file "
        "(then it is only verified). Prints the local path on stdout.",
    )
    parser.add_argument("source", metavar="SOURCE")
    parser.add_argument(
        "--to", type=Path, default=None, help="destination file or directory (default: ./NAME)"
    )
    add_s3_options(parser)
    parser.set_defaults(func=handle)


def _report(out: Output, result: FetchResult, seconds: float | None) -> None:
    speed = ""
    if seconds is not None:
        rate = result.size / max(seconds, 1e-6)
        speed = f" in {seconds:.1f} s ({human_size(int(rate))}/s)"
    sidecar = "matches the .sha256 sidecar" if result.sidecar_verified else "no .sha256 sidecar"
    gz = (
        f"; gzip stream complete ({human_size(result.uncompressed_size)} uncompressed)"
        if result.uncompressed_size is not None
        else ""
    )
    out.info(
        f"fetched {human_size(result.size)}{speed}; sha256 {result.sha256[:16]}... {sidecar}{gz}"
    )


def handle(args: argparse.Namespace, out: Output) -> int:
    source, client = resolve_source(args)
    if client is None:
        result = verify_local(Path(source))
        _report(out, result, None)
        out.line(str(result.path))
        return int(ExitStatus.OK)
    loc = S3Location.parse(source)
    dest: Path = args.to if args.to is not None else Path.cwd() / loc.name
    size = head(client, loc).size if out.is_tty else 0
    bar = progress_for(out, size, loc.name)
    started = time.monotonic()
    try:
        result = fetch(client, loc, dest, on_progress=bar)
    finally:
        if bar is not None:
            bar.finish()
    _report(out, result, time.monotonic() - started)
    out.line(str(result.path))
    return int(ExitStatus.OK)
