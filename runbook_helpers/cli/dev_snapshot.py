"""``runbook dev-snapshot``: the central, scrubbed copy developers restore instead of backups."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from runbook_helpers.cli.common import add_s3_options, resolve_source
from runbook_helpers.cli.output import Output
from runbook_helpers.errors import ExitStatus
from runbook_helpers.r2.storage import s3_client
from runbook_helpers.scrub.policy import Policy
from runbook_helpers.scrub.run import LeakFound, PolicyGap
from runbook_helpers.scrub.snapshot import SNAPSHOT_BUCKET, SNAPSHOT_PREFIX, dev_snapshot

DEST_PROFILE = "r2-vlvt-dev-write"
MAX_FINDINGS_SHOWN = 20


@contextmanager
def details_on_failure(out: Output, policy: Policy) -> Iterator[None]:
    """Before the error line: the policy lines to add, or the (masked) findings of the scan."""
    try:
        yield
    except PolicyGap as gap:
        out.info(f"runbook: lines to add to {policy.source} (guesses: review each):")
        for line in gap.details:
            out.info(line)
        raise
    except LeakFound as leak:
        for finding in leak.findings[:MAX_FINDINGS_SHOWN]:
            out.info(f"runbook: found {finding}")
        raise


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "dev-snapshot",
        help="restore the latest backup into a scratch DB, scrub, verify, upload to the dev bucket",
        description="Only a copy whose scrub and dump scan passed is uploaded (a fresh pg_dump "
        "in the backup template's format, with .sha256 and .manifest.json); the scratch "
        "database is dropped whatever happens. Prints the snapshot's s3:// URI.",
    )
    parser.add_argument(
        "source",
        nargs="?",
        default="latest",
        metavar="SOURCE",
        help="backup to start from: `latest` (default), s3://BUCKET/KEY, a key or a path",
    )
    parser.add_argument("--policy", required=True, type=Path, metavar="FILE", help="scrub policy")
    parser.add_argument(
        "--scratch",
        required=True,
        metavar="URL",
        help="a database that does not exist yet: created, used and dropped",
    )
    parser.add_argument(
        "--to-bucket", default=SNAPSHOT_BUCKET, help=f"snapshot bucket (default {SNAPSHOT_BUCKET})"
    )
    parser.add_argument(
        "--to-profile",
        default=DEST_PROFILE,
        help=f"AWS profile allowed to write the snapshot bucket (default {DEST_PROFILE})",
    )
    parser.add_argument(
        "--file-prefix", default=SNAPSHOT_PREFIX, help=f"key prefix (default {SNAPSHOT_PREFIX})"
    )
    add_s3_options(parser)
    parser.set_defaults(func=handle)


def handle(args: argparse.Namespace, out: Output) -> int:
    policy = Policy.load(args.policy)  # a bad policy fails before anything is downloaded
    source, client = resolve_source(args)
    with details_on_failure(out, policy):
        result = dev_snapshot(
            source,
            client,
            args.scratch,
            policy,
            s3_client(args.to_profile),
            args.to_bucket,
            file_prefix=args.file_prefix,
            on_stage=lambda msg: out.info(f"runbook: {msg}"),
        )
    out.info(result.scrub.summary())
    out.line(result.upload.uri)
    return int(ExitStatus.OK)
