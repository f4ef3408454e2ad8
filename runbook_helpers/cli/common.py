"""Options shared by the commands that talk to R2, and small formatting helpers."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from runbook_helpers.r2.backups import latest_backup
from runbook_helpers.r2.storage import S3Client, S3Location, is_s3_uri, s3_client

DEFAULT_BUCKET = "vlvt-backups"


def add_s3_options(parser: argparse.ArgumentParser) -> None:
    """--profile / --bucket / --subfolder, defaulting to $AWS_PROFILE / $RUNBOOK_BUCKET / ..."""
    group = parser.add_argument_group("R2 options")
    group.add_argument(
        "--profile",
        default=os.environ.get("AWS_PROFILE") or None,
        help="AWS CLI profile holding the R2 token and endpoint_url "
        "(default: $AWS_PROFILE, else r2-vlvt if configured)",
    )
    group.add_argument(
        "--bucket",
        default=os.environ.get("RUNBOOK_BUCKET") or DEFAULT_BUCKET,
        help=f"bucket holding the backups (default: $RUNBOOK_BUCKET or {DEFAULT_BUCKET})",
    )
    group.add_argument(
        "--subfolder",
        default=os.environ.get("RUNBOOK_SUBFOLDER", ""),
        help="BUCKET_SUBFOLDER of the backup service (default: $RUNBOOK_SUBFOLDER or none)",
    )


def client_from_args(args: argparse.Namespace) -> S3Client:
    """The configured S3 client for ``--profile``."""
    return s3_client(getattr(args, "profile", None))


def resolve_source(args: argparse.Namespace) -> tuple[str, S3Client | None]:
    """SOURCE as a local path (client None) or an s3:// URI (with a client).

    ``latest`` is the newest backup in --bucket/--subfolder; ``s3://...`` is used as given; an
    existing path, or one written as a path (``/``, ``./``, ``../``, ``~``), is local; anything
    else is a key in --bucket.
    """
    source: str = args.source
    if source == "latest":
        client = client_from_args(args)
        return latest_backup(client, args.bucket, args.subfolder).uri, client
    if is_s3_uri(source):
        return source, client_from_args(args)
    if Path(source).exists() or source.startswith(("/", "./", "../", "~")):
        return str(Path(source).expanduser()), None
    return location_from_args(args, source).uri, client_from_args(args)


def location_from_args(args: argparse.Namespace, text: str) -> S3Location:
    """``s3://bucket/key`` as given, or a bare key inside ``--bucket``."""
    if is_s3_uri(text):
        return S3Location.parse(text)
    return S3Location(args.bucket, text.lstrip("/"))
