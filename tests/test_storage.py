"""The R2 client and its error translation: each failure is one clear line and an exit code."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook_helpers.errors import ExitStatus, UsageError
from runbook_helpers.r2.storage import S3Location, is_s3_uri, read_text, resolve_profile
from runbook_helpers.sandbox.ports import free_port
from runbook_helpers.sandbox.r2 import R2Mock
from tests.support.aws_profiles import write_profile
from tests.support.cli_runs import run_cli

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.fixture
def env(r2_clean: R2Mock, sandbox_env: dict[str, str]) -> dict[str, str]:
    return sandbox_env


@pytest.mark.parametrize(
    ("text", "bucket", "key"),
    [
        ("s3://b/k.tar.gz", "b", "k.tar.gz"),
        ("s3://b/sub/dir/k.tar.gz", "b", "sub/dir/k.tar.gz"),
        ("s3://b", "b", ""),
    ],
)
def test_location_parse(text: str, bucket: str, key: str) -> None:
    loc = S3Location.parse(text)
    assert (loc.bucket, loc.key) == (bucket, key)
    assert loc.uri == (text if key else "s3://b/")
    assert is_s3_uri(text)


@pytest.mark.parametrize("text", ["b/k", "https://b/k", "s3:///k", ""])
def test_location_parse_rejects(text: str) -> None:
    with pytest.raises(UsageError):
        S3Location.parse(text)


def test_profile_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    assert resolve_profile() is None  # default credential chain
    env = write_profile(tmp_path, "r2-vlvt", "http://127.0.0.1:1", "K", SECRET)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert resolve_profile() == "r2-vlvt"
    monkeypatch.setenv("AWS_PROFILE", "other")
    assert resolve_profile() == "other"
    assert resolve_profile("explicit") == "explicit"


def test_read_text_missing_is_none(r2_clean: R2Mock) -> None:
    loc = S3Location(r2_clean.bucket, "nothing.sha256")
    assert read_text(r2_clean.client(), loc) is None
    r2_clean.client().put_object(Bucket=loc.bucket, Key=loc.key, Body=b"abc")
    assert read_text(r2_clean.client(), loc) == "abc"


def test_wrong_bucket_list(env: dict[str, str], r2_clean: R2Mock) -> None:
    # a token scoped to vlvt-backups is denied any other bucket name, as on R2
    result = run_cli(["backups", "list", "--bucket", "vlvt-backupz"], env)
    assert result.status == ExitStatus.ACCESS_DENIED, result.stderr
    # the bucket is not at this endpoint (e.g. an EU-jurisdiction bucket via the default one)
    r2_clean.client().delete_bucket(Bucket=r2_clean.bucket)
    try:
        result = run_cli(["backups", "list"], env)
    finally:
        r2_clean.reset_bucket()  # creates it again
    assert result.status == ExitStatus.NOT_FOUND
    assert result.error_line.startswith(
        f"runbook: error: bucket not found at {r2_clean.endpoint} while accessing s3://vlvt-backups/"
    )
    assert "eu.r2.cloudflarestorage.com" in result.stderr


def test_unknown_profile(env: dict[str, str]) -> None:
    result = run_cli(["backups", "list", "--profile", "nope"], env)
    assert result.status == ExitStatus.ACCESS_DENIED
    assert "AWS profile 'nope' is not configured" in result.error_line
    assert "aws configure --profile nope" in result.stderr


def test_unreachable_endpoint(env: dict[str, str], tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    env = dict(env, **write_profile(tmp_path, "r2-vlvt", endpoint, "AKIDEXAMPLE", SECRET))
    env["RUNBOOK_MAX_ATTEMPTS"] = "2"
    for argv in (["backups", "latest"], ["fetch", "s3://vlvt-backups/k.tar.gz"]):
        result = run_cli(argv, env, secrets=[SECRET])
        assert result.status == ExitStatus.UNREACHABLE
        assert result.error_line.startswith(f"runbook: error: cannot reach {endpoint}")
        assert "endpoint_url" in result.stderr


def test_wrong_credentials(env: dict[str, str], tmp_path: Path, r2_clean: R2Mock) -> None:
    endpoint = r2_clean.endpoint  # the session R2 stand-in checks credentials
    env = dict(env, **write_profile(tmp_path, "r2-vlvt", endpoint, "AKIDWRONG", SECRET))
    for argv in (["backups", "list"], ["fetch", "s3://vlvt-backups/k.tar.gz"]):
        result = run_cli(argv, env, secrets=[SECRET])
        assert result.status == ExitStatus.ACCESS_DENIED, result.stderr
        assert result.error_line.startswith(f"runbook: error: access denied at {endpoint}")
        assert "R2 API token" in result.stderr


def test_secret_key_never_printed_even_if_in_env(env: dict[str, str], r2_clean: R2Mock) -> None:
    # the real secret is in the sandbox's credentials file; also put one in the environment
    env = dict(env, AWS_SECRET_ACCESS_KEY=SECRET)
    for argv in (
        ["backups", "list"],
        ["fetch", "s3://vlvt-backups/missing.tar.gz"],
        ["presign", "s3://vlvt-backups/missing.tar.gz"],
    ):
        run_cli(argv, env, secrets=[SECRET, r2_clean.secret_access_key])
