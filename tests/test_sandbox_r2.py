"""The moto R2 mock, exercised the way the runbook does: aws CLI + profile, boto3, presign.

It is as strict as R2: the ``r2-vlvt`` profile's read-only token lists and reads but cannot
write; the writer token writes; a token for another bucket, an unknown key and a wrong secret
are refused with R2's error codes.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from runbook_helpers.sandbox import sandbox_environment
from runbook_helpers.sandbox.r2 import R2Key, R2Mock, r2_mock

AWS = shutil.which("aws", path=str(Path(sys.executable).parent)) or shutil.which("aws")
needs_aws = pytest.mark.skipif(AWS is None, reason="the aws CLI (pip install awscli) is missing")


def aws(
    r2: R2Mock, *args: str, cwd: Path | None = None, key: R2Key | None = None
) -> subprocess.CompletedProcess[str]:
    """``aws --profile r2-vlvt ARGS``; with ``key``: the profile's settings, but that key."""
    assert AWS is not None
    env = sandbox_environment(None, r2)
    profile = ["--profile", r2.profile]
    if key is not None:
        profile = []
        env.update(
            AWS_ACCESS_KEY_ID=key.access_key_id,
            AWS_SECRET_ACCESS_KEY=key.secret_access_key,
            AWS_ENDPOINT_URL=r2.endpoint,
            AWS_DEFAULT_REGION="auto",
            AWS_REQUEST_CHECKSUM_CALCULATION="when_required",
            AWS_RESPONSE_CHECKSUM_VALIDATION="when_required",
        )
    return subprocess.run(
        [AWS, *profile, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@needs_aws
def test_aws_cli_profile_lists_uploads_downloads(r2_clean: R2Mock, tmp_path: Path) -> None:
    source = tmp_path / "vlvt_backup_-2026-01-25T03-00-00-123Z.tar.gz"
    source.write_bytes(os.urandom(70_000))
    listed = aws(r2_clean, "s3", "ls", f"s3://{r2_clean.bucket}")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout == ""
    target = f"s3://{r2_clean.bucket}/daily/{source.name}"
    refused = aws(r2_clean, "s3", "cp", str(source), target)
    assert refused.returncode == 1
    assert "(AccessDenied) when calling the PutObject operation" in refused.stderr
    up = aws(r2_clean, "s3", "cp", str(source), target, key=r2_clean.write_key)
    assert up.returncode == 0, up.stderr
    listed = aws(r2_clean, "s3", "ls", f"s3://{r2_clean.bucket}/daily/")
    assert listed.returncode == 0, listed.stderr
    assert source.name in listed.stdout and "70000" in listed.stdout
    down = tmp_path / "down.tar.gz"
    got = aws(r2_clean, "s3", "cp", f"s3://{r2_clean.bucket}/daily/{source.name}", str(down))
    assert got.returncode == 0, got.stderr
    assert down.read_bytes() == source.read_bytes()


@needs_aws
def test_aws_cli_streams_to_stdout(r2_clean: R2Mock) -> None:
    r2_clean.client().put_object(Bucket=r2_clean.bucket, Key="a.txt", Body=b"streamed")
    out = aws(r2_clean, "s3", "cp", f"s3://{r2_clean.bucket}/a.txt", "-")
    assert (out.returncode, out.stdout) == (0, "streamed")


def test_boto3_through_the_profile(r2_clean: R2Mock, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in r2_clean.env().items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    s3 = boto3.Session(profile_name="r2-vlvt").client("s3")
    assert s3.meta.region_name == "auto"
    assert s3.meta.endpoint_url == r2_clean.endpoint
    r2_clean.client(r2_clean.write_key).put_object(Bucket=r2_clean.bucket, Key="k", Body=b"v")
    assert s3.get_object(Bucket=r2_clean.bucket, Key="k")["Body"].read() == b"v"
    location = r2_clean.client().get_bucket_location(Bucket=r2_clean.bucket)
    assert str(location["LocationConstraint"]) == "auto"  # moto accepts R2's region


@needs_aws
def test_presigned_url_from_aws_cli_works_with_curl_and_urllib(r2_clean: R2Mock) -> None:
    r2_clean.client().put_object(Bucket=r2_clean.bucket, Key="p/backup.tar.gz", Body=b"\x1f\x8bxx")
    signed = aws(r2_clean, "s3", "presign", f"s3://{r2_clean.bucket}/p/backup.tar.gz")
    assert signed.returncode == 0, signed.stderr
    url = signed.stdout.strip()
    assert url.startswith(r2_clean.endpoint) and "X-Amz-Signature=" in url
    assert "%2Fauto%2Fs3%2F" in url  # signed for region auto
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == b"\x1f\x8bxx"
    curl = shutil.which("curl")
    if curl:
        fetched = subprocess.run([curl, "-sSf", url], capture_output=True, check=False)
        assert (fetched.returncode, fetched.stdout) == (0, b"\x1f\x8bxx")


def test_reset_bucket_empties_and_recreates(r2: R2Mock) -> None:
    s3 = r2.client()
    for i in range(3):
        s3.put_object(Bucket=r2.bucket, Key=f"x/{i}", Body=b"1")
    s3.create_multipart_upload(Bucket=r2.bucket, Key="x/partial")
    r2.reset_bucket()
    assert s3.list_objects_v2(Bucket=r2.bucket)["KeyCount"] == 0
    assert s3.list_multipart_uploads(Bucket=r2.bucket).get("Uploads", []) == []
    s3.delete_bucket(Bucket=r2.bucket)
    r2.reset_bucket()
    assert s3.list_objects_v2(Bucket=r2.bucket)["KeyCount"] == 0


def test_secret_stays_in_the_credentials_file(r2: R2Mock) -> None:
    env = r2.env()
    assert set(env) == {
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "R2_ENDPOINT",
        "AWS_EC2_METADATA_DISABLED",
    }
    assert r2.secret_access_key not in "".join(env.values())
    assert r2.access_key_id not in "".join(env.values())
    assert r2.secret_access_key not in repr(r2)
    assert r2.secret_access_key in r2.credentials_file.read_text()
    assert stat.S_IMODE(r2.credentials_file.stat().st_mode) == 0o600
    assert r2.secret_access_key not in r2.config_file.read_text()
    full = sandbox_environment(None, r2, {"AWS_SECRET_ACCESS_KEY": "x", "PATH": "/bin"})
    assert r2.secret_access_key not in "".join(full.values())
    assert "AWS_SECRET_ACCESS_KEY" not in full and "AWS_PROFILE" not in full


def test_profile_file_matches_the_runbook(r2: R2Mock) -> None:
    config = r2.config_file.read_text()
    assert config.startswith("[profile r2-vlvt]\n")
    for line in (
        "region = auto",
        f"endpoint_url = {r2.endpoint}",
        "request_checksum_calculation = when_required",
        "response_checksum_validation = when_required",
    ):
        assert line in config.splitlines()
    assert r2.credentials_file.read_text().startswith("[r2-vlvt]\n")


def test_r2_mock_starts_and_cleans_up() -> None:
    with r2_mock() as mock:
        assert mock.client().list_objects_v2(Bucket=mock.bucket)["KeyCount"] == 0
        scratch = mock.config_file.parent
        assert mock.endpoint.startswith("http://127.0.0.1:")
    assert not scratch.exists()
    with pytest.raises(OSError):
        urllib.request.urlopen(mock.endpoint, timeout=2)


def test_keys_are_random_per_run(r2: R2Mock) -> None:
    """A second server (the worker's own is the first) makes new keys."""
    one = r2
    with r2_mock() as two:
        assert one.access_key_id != two.access_key_id
        assert one.secret_access_key != two.secret_access_key
        assert len(one.secret_access_key) == 40
        assert len(set(one.secrets)) == 7  # one per token, the bucket admin included


def error_code(call: object) -> str:
    """The S3 error code a boto3 call fails with."""
    assert callable(call)
    with pytest.raises(ClientError) as info:
        call()
    return str(info.value.response.get("Error", {}).get("Code"))


def test_read_key_lists_and_reads_but_cannot_write(r2_clean: R2Mock) -> None:
    r2_clean.client().put_object(Bucket=r2_clean.bucket, Key="nightly.tar.gz", Body=b"x")
    reader = r2_clean.profile_client()
    assert reader.list_objects_v2(Bucket=r2_clean.bucket)["KeyCount"] == 1
    assert reader.get_object(Bucket=r2_clean.bucket, Key="nightly.tar.gz")["Body"].read() == b"x"
    reader.head_bucket(Bucket=r2_clean.bucket)
    bucket, key = r2_clean.bucket, "probe.txt"
    assert error_code(lambda: reader.put_object(Bucket=bucket, Key=key, Body=b"p")) == (
        "AccessDenied"
    )
    assert error_code(lambda: reader.delete_object(Bucket=bucket, Key="nightly.tar.gz")) == (
        "AccessDenied"
    )
    rule = {"ID": "x", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 30}}
    assert (
        error_code(
            lambda: reader.put_bucket_lifecycle_configuration(
                Bucket=bucket,
                LifecycleConfiguration={"Rules": [rule]},  # type: ignore[list-item]
            )
        )
        == "AccessDenied"
    )
    assert r2_clean.client().list_objects_v2(Bucket=bucket)["KeyCount"] == 1


def test_write_key_writes_and_deletes_on_its_bucket_only(r2_clean: R2Mock) -> None:
    writer = r2_clean.client(r2_clean.write_key)
    writer.put_object(Bucket=r2_clean.bucket, Key="w.txt", Body=b"w")
    assert writer.get_object(Bucket=r2_clean.bucket, Key="w.txt")["Body"].read() == b"w"
    writer.delete_object(Bucket=r2_clean.bucket, Key="w.txt")
    assert error_code(lambda: writer.list_objects_v2(Bucket="vlvt-other")) == "AccessDenied"


def test_token_for_another_bucket_is_refused(r2_clean: R2Mock) -> None:
    other = r2_clean.client(r2_clean.other_key)
    other.list_objects_v2(Bucket="vlvt-other")  # its own bucket works
    assert error_code(lambda: other.list_objects_v2(Bucket=r2_clean.bucket)) == "AccessDenied"


def test_dev_tokens_are_scoped_to_the_snapshot_bucket(r2_clean: R2Mock) -> None:
    admin = r2_clean.client()
    if "vlvt-dev-snapshots" not in {b["Name"] for b in admin.list_buckets()["Buckets"]}:
        admin.create_bucket(
            Bucket="vlvt-dev-snapshots",
            CreateBucketConfiguration={"LocationConstraint": "auto"},  # type: ignore[typeddict-item]
        )
    job = r2_clean.client(r2_clean.dev_write_key)
    job.put_object(Bucket="vlvt-dev-snapshots", Key="s.txt", Body=b"s")
    dev = r2_clean.client(r2_clean.dev_read_key)
    assert dev.get_object(Bucket="vlvt-dev-snapshots", Key="s.txt")["Body"].read() == b"s"
    assert error_code(lambda: dev.put_object(Bucket="vlvt-dev-snapshots", Key="x", Body=b"")) == (
        "AccessDenied"
    )
    for key in (r2_clean.dev_read_key, r2_clean.dev_write_key):
        client = r2_clean.client(key)
        assert error_code(lambda c=client: c.list_objects_v2(Bucket=r2_clean.bucket)) == (
            "AccessDenied"
        )
    job.delete_object(Bucket="vlvt-dev-snapshots", Key="s.txt")


def test_wrong_keys_get_r2_error_codes(r2_clean: R2Mock) -> None:
    unknown = r2_clean.client(R2Key("AKIA" + "X" * 16, "not-a-secret"))
    assert error_code(lambda: unknown.list_objects_v2(Bucket=r2_clean.bucket)) == (
        "InvalidAccessKeyId"
    )
    wrong = r2_clean.client(R2Key(r2_clean.read_key.access_key_id, "wrong-secret"))
    assert error_code(lambda: wrong.list_objects_v2(Bucket=r2_clean.bucket)) == (
        "SignatureDoesNotMatch"
    )


@needs_aws
def test_aws_cli_shows_the_codes_a_reader_sees(r2_clean: R2Mock) -> None:
    wrong = aws(
        r2_clean, "s3", "ls", f"s3://{r2_clean.bucket}/", key=R2Key("AKIA" + "Y" * 16, "nope")
    )
    assert wrong.returncode != 0 and "InvalidAccessKeyId" in wrong.stderr
    assert "nope" not in wrong.stderr


def test_presigned_urls_are_checked(r2_clean: R2Mock) -> None:
    """Presigned GETs: valid -> 200; wrong secret, other bucket's token, expired -> 403."""
    import time

    r2_clean.client().put_object(Bucket=r2_clean.bucket, Key="p.txt", Body=b"ok")
    params = {"Bucket": r2_clean.bucket, "Key": "p.txt"}

    def fetch(key: R2Key, expires: int = 60) -> tuple[int, bytes]:
        url = r2_clean.client(key).generate_presigned_url(
            "get_object", Params=params, ExpiresIn=expires
        )
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return int(response.status), bytes(response.read())
        except urllib.error.HTTPError as exc:
            return int(exc.code), bytes(exc.read())

    assert fetch(r2_clean.read_key) == (200, b"ok")
    status, body = fetch(R2Key(r2_clean.read_key.access_key_id, "wrong"))
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in body
    status, body = fetch(r2_clean.other_key)
    assert status == 403 and b"<Code>AccessDenied</Code>" in body
    url = r2_clean.profile_client().generate_presigned_url("get_object", Params=params, ExpiresIn=1)
    time.sleep(2)
    with pytest.raises(urllib.error.HTTPError) as expired:
        urllib.request.urlopen(url, timeout=10)
    assert expired.value.code == 403 and b"Request has expired" in expired.value.read()


def test_fixture_objects_route_takes_only_the_admin_key(r2_clean: R2Mock) -> None:
    """put_many stores objects a reader can list and read; any key but the admin's gets 403."""
    keys = [f"many/{i:04d}.tar.gz" for i in range(3)]
    r2_clean.put_many(keys, body=b"payload")
    listed = r2_clean.profile_client().list_objects_v2(Bucket=r2_clean.bucket, Prefix="many/")
    assert [o["Key"] for o in listed.get("Contents", [])] == keys
    got = r2_clean.profile_client().get_object(Bucket=r2_clean.bucket, Key=keys[1])
    assert got["Body"].read() == b"payload"

    def post(key: R2Key) -> int:
        with pytest.raises(urllib.error.HTTPError) as refused:
            r2_clean.put_many(["many/not-stored"], key=key)
        return int(refused.value.code)

    assert post(r2_clean.read_key) == 403
    assert post(r2_clean.write_key) == 403  # a writer's token writes through S3 only
    assert post(R2Key(r2_clean.admin_key.access_key_id, "wrong-secret")) == 403
    listed = r2_clean.client().list_objects_v2(Bucket=r2_clean.bucket, Prefix="many/not")
    assert listed.get("KeyCount", 0) == 0
