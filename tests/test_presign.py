"""``runbook presign``: durations, R2's 1 s - 7 d limits, existence check, a working URL."""

from __future__ import annotations

import urllib.request
from datetime import timedelta

import pytest

from runbook_helpers.errors import ExitStatus, UsageError
from runbook_helpers.r2.presign import check_expiry, parse_duration
from runbook_helpers.sandbox.r2 import R2Mock
from tests.support.cli_runs import run_cli

KEY = "vlvt_backup_-2026-01-25T03-00-00-000Z.tar.gz"


@pytest.fixture
def env(r2_clean: R2Mock, sandbox_env: dict[str, str]) -> dict[str, str]:
    return sandbox_env


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("15m", 900),
        ("1h", 3600),
        ("7d", 604800),
        ("1h30m", 5400),
        ("3600", 3600),
        (" 2H ", 7200),
        ("1w", 604800),
    ],
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "h", "1x", "1.5h", "-1h", "1h foo"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(UsageError, match="cannot read the duration"):
        parse_duration(text)


@pytest.mark.parametrize("seconds", [0, 7 * 86400 + 1, 30 * 86400])
def test_expiry_out_of_range(seconds: int) -> None:
    with pytest.raises(UsageError, match="outside R2's limits"):
        check_expiry(timedelta(seconds=seconds))


def test_presigned_url_downloads(r2_clean: R2Mock, env: dict[str, str]) -> None:
    r2_clean.client().put_object(Bucket=r2_clean.bucket, Key=KEY, Body=b"backup bytes")
    result = run_cli(
        ["presign", f"s3://{r2_clean.bucket}/{KEY}", "--expires", "15m"],
        env,
        secrets=[r2_clean.secret_access_key],
    )
    assert result.status == 0, result.stderr
    url = result.stdout.strip()
    assert url.startswith(f"{r2_clean.endpoint}/{r2_clean.bucket}/{KEY}?")
    assert "X-Amz-Expires=900" in url
    assert "anyone with this URL can download" in result.stderr
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert resp.read() == b"backup bytes"


@pytest.mark.parametrize("expires", ["0s", "8d", "30d"])
def test_cli_expiry_out_of_range(env: dict[str, str], expires: str) -> None:
    result = run_cli(["presign", f"s3://vlvt-backups/{KEY}", "--expires", expires], env)
    assert result.status == ExitStatus.USAGE
    assert "is outside R2's limits (1 s to 7 d)" in result.error_line
    assert result.stdout == ""


def test_cli_unknown_key_gives_no_url(env: dict[str, str]) -> None:
    result = run_cli(["presign", "s3://vlvt-backups/typo.tar.gz"], env)
    assert result.status == ExitStatus.NOT_FOUND
    assert result.error_line == "runbook: error: no such object: s3://vlvt-backups/typo.tar.gz"
    assert result.stdout == ""
