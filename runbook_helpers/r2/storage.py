"""Cloudflare R2 (S3 API) access: locations, a configured client, and small object operations.

Everything that talks to the bucket goes through :func:`s3_client` (retries, timeouts and the
R2 checksum workaround configured once) and :func:`runbook_helpers.r2.errors.translate_errors`
(botocore exceptions turned into the typed errors of :mod:`runbook_helpers.errors`, never showing
a secret).
"""

from __future__ import annotations

import configparser
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, cast

import boto3
from botocore.exceptions import (
    ClientError,
    ProfileNotFound,
)
from botocore.loaders import Loader

from runbook_helpers.errors import AccessDenied, NotFound
from runbook_helpers.r2.errors import translate_error, translate_errors
from runbook_helpers.r2.location import S3Location as S3Location
from runbook_helpers.r2.location import is_s3_uri as is_s3_uri
from runbook_helpers.r2.timeouts import client_config, retry_notice, timeouts

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client as S3Client
else:
    S3Client = object

DEFAULT_PROFILE = "r2-vlvt"
# botocore's data loader, one per search path: a new Session parses endpoints.json and the S3
# model again (86 ms a client, against 8 ms with the loader it made before). The loader only
# caches what it read from those files, so sessions with the same paths can share it.
_LOADERS: dict[tuple[str, ...], Loader] = {}


def _share_loader(session: boto3.Session) -> None:
    """Give ``session`` the loader an earlier session with the same data paths made."""
    core = session._session
    loader = cast(Loader, core.get_component("data_loader"))
    shared = _LOADERS.setdefault(tuple(loader.search_paths), loader)
    if shared is not loader:
        core.register_component("data_loader", shared)


@dataclass(frozen=True)
class ObjectInfo:
    """What a HEAD request says about an object."""

    size: int
    last_modified: datetime
    etag: str


def _aws_config_path() -> Path:
    return Path(os.environ.get("AWS_CONFIG_FILE", "~/.aws/config")).expanduser()


def _profile_exists(name: str) -> bool:
    """True when ``~/.aws/config`` (or $AWS_CONFIG_FILE) or the credentials file defines it."""
    files = [
        (_aws_config_path(), f"profile {name}"),
        (
            Path(os.environ.get("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials")).expanduser(),
            name,
        ),
    ]
    for path, section in files:
        parser = configparser.RawConfigParser()
        try:
            parser.read(path)
        except configparser.Error:
            continue
        if parser.has_section(section):
            return True
    return False


def resolve_profile(profile: str | None = None) -> str | None:
    """Explicit profile, else $AWS_PROFILE, else ``r2-vlvt`` if configured, else default chain."""
    if profile:
        return profile
    if os.environ.get("AWS_PROFILE"):
        return os.environ["AWS_PROFILE"]
    if _profile_exists(DEFAULT_PROFILE):
        return DEFAULT_PROFILE
    return None


def s3_client(profile: str | None = None) -> S3Client:
    """A configured S3 client for R2.

    The profile's ``endpoint_url`` (``~/.aws/config``) and ``AWS_ENDPOINT_URL(_S3)`` are honoured
    by botocore itself; ``$R2_ENDPOINT`` is used when neither sets one. Region defaults to
    ``auto`` as R2 expects.
    """
    name = resolve_profile(profile)
    try:
        session = boto3.Session(profile_name=name)
        _share_loader(session)
        scoped = session._session.get_scoped_config()
    except ProfileNotFound as exc:
        raise AccessDenied(
            f"AWS profile {name!r} is not configured ({_aws_config_path()})",
            hint=f"run `aws configure --profile {name}` (region auto) and set its endpoint_url, "
            "or pass --profile",
        ) from exc
    endpoint: str | None = None
    has_endpoint = bool(
        scoped.get("endpoint_url")
        or (isinstance(scoped.get("s3"), dict) and scoped["s3"].get("endpoint_url"))
        or os.environ.get("AWS_ENDPOINT_URL")
        or os.environ.get("AWS_ENDPOINT_URL_S3")
    )
    if not has_endpoint and os.environ.get("R2_ENDPOINT"):
        endpoint = os.environ["R2_ENDPOINT"]
    region = session.region_name or "auto"
    client = session.client("s3", endpoint_url=endpoint, region_name=region, config=client_config())
    attempts, _, read = timeouts()
    client.meta.events.register("needs-retry.s3", retry_notice(attempts, read))
    return client


def _endpoint(client: S3Client) -> str:
    return str(client.meta.endpoint_url)


def bucket_exists(client: S3Client, bucket: str) -> bool:
    """False when the bucket is missing (HEAD answers 404)."""
    try:
        with translate_errors(f"s3://{bucket}", endpoint=_endpoint(client)):
            client.head_bucket(Bucket=bucket)
    except NotFound:
        return False
    return True


def head(client: S3Client, loc: S3Location) -> ObjectInfo:
    """Size, last-modified and ETag of an object; NotFound says whether key or bucket is missing."""
    try:
        with translate_errors(loc, endpoint=_endpoint(client)):
            meta = client.head_object(Bucket=loc.bucket, Key=loc.key)
    except NotFound:
        if not bucket_exists(client, loc.bucket):
            raise translate_error(
                ClientError({"Error": {"Code": "NoSuchBucket"}}, "HeadObject"),
                loc.uri,
                _endpoint(client),
            ) from None
        raise
    return ObjectInfo(
        size=int(meta["ContentLength"]),
        last_modified=meta["LastModified"],
        etag=str(meta.get("ETag", "")).strip('"'),
    )


def open_stream(client: S3Client, loc: S3Location) -> tuple[BinaryIO, int]:
    """The object's streaming body and its content length (caller closes the body)."""
    with translate_errors(loc, endpoint=_endpoint(client)):
        resp = client.get_object(Bucket=loc.bucket, Key=loc.key)
    return cast(BinaryIO, resp["Body"]), int(resp["ContentLength"])


def read_text(client: S3Client, loc: S3Location) -> str | None:
    """A small object's text (sidecars), or None when the key does not exist."""
    try:
        body, _ = open_stream(client, loc)
    except NotFound:
        return None
    try:
        with translate_errors(loc, endpoint=_endpoint(client)):
            return body.read().decode("utf-8")
    finally:
        body.close()


def put_text(client: S3Client, loc: S3Location, text: str, content_type: str) -> None:
    """Upload a small text object (sidecars)."""
    with translate_errors(loc, endpoint=_endpoint(client)):
        client.put_object(
            Bucket=loc.bucket, Key=loc.key, Body=text.encode("utf-8"), ContentType=content_type
        )
