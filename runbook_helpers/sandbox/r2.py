"""A moto S3 server posing as Cloudflare R2, reached through a generated ``r2-vlvt`` profile.

The profile is what the runbook tells operators to configure for real R2::

    [profile r2-vlvt]
    region = auto
    endpoint_url = https://<ACCOUNT_ID>.r2.cloudflarestorage.com   (here: the moto server)
    request_checksum_calculation = when_required
    response_checksum_validation = when_required

Region ``auto`` and moto: moto answers ``IllegalLocationConstraintException`` to a CreateBucket
signed for region ``auto`` *without* a LocationConstraint (it treats any region other than
us-east-1 like AWS does). Sending ``LocationConstraint=auto`` - which is what ``aws s3 mb`` does
with this profile - is accepted, and every other call (list, get, put, presign) works with
region ``auto`` unchanged. R2 itself accepts both forms, so :meth:`R2Mock.reset_bucket` sends
the constraint.

Keys are random per run. The secret lives only in the generated credentials file (mode 0600),
never in environment variables, and is hidden from ``repr``.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import string
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import botocore.session
from botocore.exceptions import ClientError

from runbook_helpers.sandbox import SandboxError
from runbook_helpers.sandbox.ports import free_port

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)

BUCKET = "vlvt-backups"
PROFILE = "r2-vlvt"
_START_TIMEOUT = 30.0


@dataclass(frozen=True)
class R2Mock:
    """A running moto S3 endpoint plus the AWS config/credentials files that reach it."""

    endpoint: str  # http://127.0.0.1:PORT
    access_key_id: str
    secret_access_key: str = field(repr=False)
    config_file: Path
    credentials_file: Path
    bucket: str = BUCKET
    profile: str = PROFILE

    def env(self) -> dict[str, str]:
        """Where the AWS CLI/SDK find the profile; no keys and no AWS_PROFILE (pass --profile)."""
        return {
            "AWS_CONFIG_FILE": str(self.config_file),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.credentials_file),
            "R2_ENDPOINT": self.endpoint,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def client(self) -> S3Client:
        """A boto3 S3 client configured only through the profile (proves the profile works)."""
        core = botocore.session.Session()
        core.set_config_variable("config_file", str(self.config_file))
        core.set_config_variable("credentials_file", str(self.credentials_file))
        core.set_config_variable("profile", self.profile)
        return boto3.Session(botocore_session=core).client("s3")

    def reset_bucket(self) -> None:
        """Delete every object (and unfinished multipart upload); create the bucket if missing."""
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


def _random_key(length: int, alphabet: str) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def write_profile(directory: Path, endpoint: str, key_id: str, secret: str) -> tuple[Path, Path]:
    """Write ``config`` and ``credentials`` (0600) of the ``r2-vlvt`` profile into ``directory``."""
    config = directory / "config"
    credentials = directory / "credentials"
    config.write_text(
        f"[profile {PROFILE}]\n"
        "region = auto\n"
        f"endpoint_url = {endpoint}\n"
        "request_checksum_calculation = when_required\n"
        "response_checksum_validation = when_required\n"
    )
    fd = os.open(credentials, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(f"[{PROFILE}]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n")
    return config, credentials


def _wait_ready(endpoint: str, proc: subprocess.Popen[bytes] | None, logfile: Path) -> None:
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SandboxError(
                f"the moto server exited with status {proc.returncode}: "
                f"{logfile.read_text(errors='replace')[-800:]}",
                hint="pip install 'moto[server]>=5'",
            )
        try:
            with urllib.request.urlopen(endpoint + "/moto-api/", timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.05)
    raise SandboxError(
        f"the moto server at {endpoint} did not answer within {_START_TIMEOUT:.0f} s",
        hint=f"see {logfile}",
    )


def _stop_process(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def _start_subprocess(stack: ExitStack, logfile: Path) -> str:
    """``python -m moto.server`` on a free port (retried if another process takes the port)."""
    for attempt in range(3):
        port = free_port()
        endpoint = f"http://127.0.0.1:{port}"
        with logfile.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
            )
        try:
            _wait_ready(endpoint, proc, logfile)
        except SandboxError:
            _stop_process(proc)
            if attempt == 2 or "in use" not in logfile.read_text(errors="replace"):
                raise
            continue
        stack.callback(_stop_process, proc)
        return endpoint
    raise AssertionError("unreachable")


@contextmanager
def r2_mock(workdir: Path | None = None, *, in_process: bool = False) -> Iterator[R2Mock]:
    """Start a moto S3 server on 127.0.0.1 (free port) with an empty ``vlvt-backups`` bucket.

    By default moto runs as a child process (``python -m moto.server``): its state is isolated
    from any ``mock_aws`` used in this process and it is killed cleanly. ``in_process=True``
    uses ``moto.server.ThreadedMotoServer`` (faster start, dies with the process).
    Everything - server and the temp dir with the profile files - is removed on exit.
    """
    with ExitStack() as stack:
        scratch = Path(tempfile.mkdtemp(prefix="runbook-r2-", dir=workdir))
        stack.callback(shutil.rmtree, scratch, ignore_errors=True)
        logfile = scratch / "moto.log"
        if in_process:
            try:
                from moto.server import ThreadedMotoServer
            except ImportError as exc:
                raise SandboxError(
                    f"moto's server is not installed ({exc})", hint="pip install 'moto[server]>=5'"
                ) from exc
            logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request
            server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            server.start()
            stack.callback(server.stop)
            host, port = server.get_host_and_port()
            endpoint = f"http://{host}:{port}"
            _wait_ready(endpoint, None, logfile)
        else:
            endpoint = _start_subprocess(stack, logfile)
        key_id = _random_key(20, string.ascii_uppercase + string.digits)
        secret = _random_key(40, string.ascii_letters + string.digits)
        config, credentials = write_profile(scratch, endpoint, key_id, secret)
        mock = R2Mock(endpoint, key_id, secret, config, credentials)
        mock.reset_bucket()
        log.info("moto R2 mock at %s (profile files in %s)", endpoint, scratch)
        yield mock
