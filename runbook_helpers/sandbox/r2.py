"""A moto S3 server posing as Cloudflare R2: tokens scoped like R2's, and an ``r2-vlvt`` profile.

The server checks credentials and scopes (moto's IAM authentication, on for every request once
the tokens exist), so the sandbox refuses what R2 refuses. R2's token permissions
(``r2/api/tokens.mdx``, docs/facts.md): *Object Read only* reads and lists objects, *Object Read
& Write* also writes and deletes them, both scopable to buckets; only *Admin Read & Write*
(account-wide) edits bucket configuration: lifecycle rules, CORS, locks.

* ``read_key`` - the on-call reader's token (Object Read, ``vlvt-backups``). Writing with it
  fails with ``AccessDenied``. The generated ``r2-vlvt`` profile holds this key.
* ``write_key`` - the backup writer's token (Object Read & Write, ``vlvt-backups``): objects
  only; a lifecycle rule or CORS with it is ``AccessDenied``. Nothing is generated for it: a page
  that writes tells the reader to create an ``r2-vlvt-write`` profile.
* ``bucket_admin_key`` - the Admin Read & Write token a reader creates to set the lifecycle rule
  (docs/backups.md, profile ``r2-vlvt-admin``).
* ``other_key`` - a token for another bucket: ``AccessDenied`` on ``vlvt-backups``.
* an unknown key gives ``InvalidAccessKeyId``, a wrong secret ``SignatureDoesNotMatch``.
* :meth:`R2Mock.client` is an admin client for fixtures only (bucket setup, uploads, cleanup).
* the checksum headers R2 refuses are refused (:mod:`runbook_helpers.sandbox.r2_checksums`).

The profile is what the runbook tells operators to configure for real R2::

    [profile r2-vlvt]
    region = auto
    endpoint_url = https://<ACCOUNT_ID>.r2.cloudflarestorage.com   (here: the moto server)
    request_checksum_calculation = when_required
    response_checksum_validation = when_required

Region ``auto`` and moto: moto answers ``IllegalLocationConstraintException`` to a CreateBucket
signed for region ``auto`` without a LocationConstraint; sending ``LocationConstraint=auto``
(what ``aws s3 mb`` does with this profile) is accepted, and R2 accepts both forms.

Keys are random per run (moto's IAM makes them). Secrets live only in the generated credentials
file (mode 0600), never in environment variables, and are hidden from ``repr``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError

from runbook_helpers.sandbox import SandboxError
from runbook_helpers.sandbox.moto_app import FIXTURE_ROUTE
from runbook_helpers.sandbox.moto_process import enable_auth, start_moto

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)

BUCKET = "vlvt-backups"
OTHER_BUCKET = "vlvt-other"
DEV_BUCKET = "vlvt-dev-snapshots"  # scrubbed copies for developers (runbook dev-snapshot)
PROFILE = "r2-vlvt"
WRITE_PROFILE = "r2-vlvt-write"
ADMIN_PROFILE = "r2-vlvt-admin"
_CHECKSUMS = Config(
    request_checksum_calculation="when_required", response_checksum_validation="when_required"
)


@dataclass(frozen=True)
class R2Key:
    """An R2 API token's S3 key pair (the secret is hidden from ``repr``)."""

    access_key_id: str
    secret_access_key: str = field(repr=False)


def _scoped(actions: list[str], bucket: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": actions,
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
            }
        ],
    }


# R2's token permissions as IAM policies, in moto's action names (moto checks s3:HeadBucket where
# AWS checks s3:ListBucket; uploads in parts are s3:PutObject). Object Read: list, read, head.
READ_ONLY = ["s3:ListBucket", "s3:HeadBucket", "s3:GetObject", "s3:GetBucketLocation"]
# Object Read & Write: objects only (write, delete, multipart uploads), no bucket configuration.
READ_WRITE = [
    *READ_ONLY,
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
    "s3:ListBucketMultipartUploads",
]
_EVERYTHING = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
TOKENS: dict[str, dict[str, Any]] = {
    "admin": _EVERYTHING,  # the fixtures' own key
    "bucket_admin": _EVERYTHING,  # R2's Admin Read & Write: every bucket, configuration too
    "reader": _scoped(READ_ONLY, BUCKET),
    "writer": _scoped(READ_WRITE, BUCKET),
    "other": _scoped(READ_WRITE, OTHER_BUCKET),
    "dev_reader": _scoped(READ_ONLY, DEV_BUCKET),
    "dev_writer": _scoped(READ_WRITE, DEV_BUCKET),
}


@dataclass(frozen=True)
class R2Mock:
    """A running moto S3 endpoint, its tokens, and the AWS files of the ``r2-vlvt`` profile."""

    endpoint: str  # http://127.0.0.1:PORT
    read_key: R2Key
    write_key: R2Key
    other_key: R2Key
    dev_read_key: R2Key  # a developer's token: read-only on vlvt-dev-snapshots, nothing else
    dev_write_key: R2Key  # the snapshot job's writer: vlvt-dev-snapshots only
    bucket_admin_key: R2Key  # Admin Read & Write: the lifecycle rule (docs/backups.md)
    admin_key: R2Key = field(repr=False)
    config_file: Path
    credentials_file: Path
    bucket: str = BUCKET
    profile: str = PROFILE
    write_profile: str = WRITE_PROFILE
    _clients: dict[R2Key, S3Client] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @property
    def access_key_id(self) -> str:
        """The ``r2-vlvt`` profile's (read-only) key id."""
        return self.read_key.access_key_id

    @property
    def secret_access_key(self) -> str:
        """The ``r2-vlvt`` profile's (read-only) secret."""
        return self.read_key.secret_access_key

    @property
    def secrets(self) -> list[str]:
        """Every secret of this server (to redact from output)."""
        keys = (
            self.read_key,
            self.write_key,
            self.other_key,
            self.dev_read_key,
            self.dev_write_key,
            self.bucket_admin_key,
            self.admin_key,
        )
        return [k.secret_access_key for k in keys]

    def env(self) -> dict[str, str]:
        """Where the AWS CLI/SDK find the profile; no keys and no AWS_PROFILE (pass --profile)."""
        return {
            "AWS_CONFIG_FILE": str(self.config_file),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.credentials_file),
            "R2_ENDPOINT": self.endpoint,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def client(self, key: R2Key | None = None) -> S3Client:
        """An S3 client with ``key`` (default: the admin key, for fixtures only).

        One client per key pair, made once (botocore's clients are thread-safe): a new one
        costs about 80 ms, and the fixtures ask for one in every test.
        """
        key = key or self.admin_key
        made = self._clients.get(key)
        if made is None:
            made = self._clients[key] = boto3.client(
                "s3",
                endpoint_url=self.endpoint,
                region_name="auto",
                aws_access_key_id=key.access_key_id,
                aws_secret_access_key=key.secret_access_key,
                config=_CHECKSUMS,
            )
        return made

    def put_many(
        self,
        keys: list[str],
        body: bytes = b"x",
        bucket: str | None = None,
        key: R2Key | None = None,
    ) -> None:
        """Store ``body`` under every key in one request (the admin key, for fixtures only; any
        other ``key`` is refused with HTTP 403, raised as ``urllib.error.HTTPError``).

        Through the server's fixture route (:class:`~.moto_app.FixtureObjects`): a thousand
        signed PUTs cost seconds of CPU on both sides, and a listing test needs only the keys.
        """
        key = key or self.admin_key
        asked = {"bucket": bucket or self.bucket, "keys": keys, "body": body.decode("latin-1")}
        request = urllib.request.Request(
            self.endpoint + FIXTURE_ROUTE,
            data=json.dumps(asked).encode(),
            method="POST",
            headers={
                "Content-Type": "application/json",
                "X-Sandbox-Key-Id": key.access_key_id,
                "X-Sandbox-Secret": key.secret_access_key,
            },
        )
        with urllib.request.urlopen(request, timeout=60) as answer:
            stored = int(answer.read())
        if stored != len(keys):
            raise SandboxError(f"the moto server stored {stored} of {len(keys)} objects")

    def writer_env(self, directory: Path) -> dict[str, str]:
        """For tests that write: AWS files with ``r2-vlvt`` and ``r2-vlvt-write``, the latter on.

        What a reader has after creating the writer profile as docs/backups.md tells them.
        """
        keys = {self.profile: self.read_key, self.write_profile: self.write_key}
        config, credentials = write_profiles(directory, self.endpoint, keys)
        return {
            **self.env(),
            "AWS_CONFIG_FILE": str(config),
            "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
            "AWS_PROFILE": self.write_profile,
        }

    def profile_client(self) -> S3Client:
        """A boto3 S3 client configured only through the ``r2-vlvt`` profile (read-only key)."""
        core = botocore.session.Session()
        core.set_config_variable("config_file", str(self.config_file))
        core.set_config_variable("credentials_file", str(self.credentials_file))
        core.set_config_variable("profile", self.profile)
        return boto3.Session(botocore_session=core).client("s3")

    def reset_bucket(self) -> None:
        """Empty the bucket (objects, unfinished uploads, lifecycle rule); create it if missing."""
        s3 = self.client()
        try:
            s3.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket"):
                raise
            s3.create_bucket(
                Bucket=self.bucket,
                CreateBucketConfiguration={"LocationConstraint": "auto"},  # type: ignore[typeddict-item]
            )
            return
        uploads = s3.get_paginator("list_multipart_uploads")
        for listing in uploads.paginate(Bucket=self.bucket):
            for upload in listing.get("Uploads", []):
                s3.abort_multipart_upload(
                    Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                )
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            keys = [{"Key": obj["Key"]} for obj in page.get("Contents", [])]
            if keys:
                s3.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})  # type: ignore[typeddict-item]
        try:
            s3.delete_bucket_lifecycle(Bucket=self.bucket)
        except ClientError as exc:  # moto may answer NoSuchLifecycleConfiguration
            log.debug("no lifecycle rule to delete: %s", exc)


def write_profiles(directory: Path, endpoint: str, keys: dict[str, R2Key]) -> tuple[Path, Path]:
    """Write ``config`` and ``credentials`` (0600) with one R2 profile per ``keys`` entry."""
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "config"
    credentials = directory / "credentials"
    config.write_text(
        "".join(
            f"[profile {name}]\n"
            "region = auto\n"
            f"endpoint_url = {endpoint}\n"
            "request_checksum_calculation = when_required\n"
            "response_checksum_validation = when_required\n"
            for name in keys
        )
    )
    fd = os.open(credentials, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        for name, key in keys.items():
            out.write(
                f"[{name}]\naws_access_key_id = {key.access_key_id}\n"
                f"aws_secret_access_key = {key.secret_access_key}\n"
            )
    return config, credentials


def create_tokens(endpoint: str) -> dict[str, R2Key]:
    """One IAM user + access key per :data:`TOKENS` entry (moto's auth must still be off)."""
    iam = boto3.client(
        "iam",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="provisioning",
        aws_secret_access_key="provisioning",
    )
    keys = {}
    for name, policy in TOKENS.items():
        iam.create_user(UserName=name)
        iam.put_user_policy(UserName=name, PolicyName=name, PolicyDocument=json.dumps(policy))
        made = iam.create_access_key(UserName=name)["AccessKey"]
        keys[name] = R2Key(made["AccessKeyId"], made["SecretAccessKey"])
    return keys


@contextmanager
def r2_mock(workdir: Path | None = None) -> Iterator[R2Mock]:
    """Start a moto S3 server on 127.0.0.1 (free port) with an empty ``vlvt-backups`` bucket.

    moto runs as a child process (:func:`~runbook_helpers.sandbox.moto_process.start_moto`)
    with credentials and scopes checked. Everything - server and the temp dir with the profile
    files - is removed on exit.
    """
    with ExitStack() as stack:
        scratch = Path(tempfile.mkdtemp(prefix="runbook-r2-", dir=workdir))
        stack.callback(shutil.rmtree, scratch, ignore_errors=True)
        endpoint = start_moto(stack, scratch / "moto.log")
        keys = create_tokens(endpoint)
        enable_auth(endpoint)
        config, credentials = write_profiles(scratch, endpoint, {PROFILE: keys["reader"]})
        mock = R2Mock(
            endpoint,
            read_key=keys["reader"],
            write_key=keys["writer"],
            other_key=keys["other"],
            dev_read_key=keys["dev_reader"],
            dev_write_key=keys["dev_writer"],
            bucket_admin_key=keys["bucket_admin"],
            admin_key=keys["admin"],
            config_file=config,
            credentials_file=credentials,
        )
        mock.client().create_bucket(
            Bucket=OTHER_BUCKET,
            CreateBucketConfiguration={"LocationConstraint": "auto"},  # type: ignore[typeddict-item]
        )
        mock.reset_bucket()
        log.info("moto R2 mock at %s (profile files in %s)", endpoint, scratch)
        yield mock
