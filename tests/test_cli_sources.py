"""How fetch, inspect and restore read SOURCE: `latest`, s3://, a local path, or a bare key."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

import pytest

from runbook_helpers.cli.common import resolve_source
from runbook_helpers.r2.naming import backup_key
from runbook_helpers.sandbox.r2 import R2Mock


@pytest.fixture(autouse=True)
def _r2_profile(r2: R2Mock, monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process calls find the r2-vlvt profile as a shell with the sandbox env would."""
    for name, value in r2.env().items():
        monkeypatch.setenv(name, value)


def args(source: str, bucket: str, profile: str) -> argparse.Namespace:
    return argparse.Namespace(source=source, bucket=bucket, subfolder="", profile=profile)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("s3://other/k.tar.gz", "s3://other/k.tar.gz"),
        ("vlvt_backup_-x.tar.gz", "s3://{bucket}/vlvt_backup_-x.tar.gz"),
        ("prod/vlvt_backup_-x.tar.gz", "s3://{bucket}/prod/vlvt_backup_-x.tar.gz"),
        ("./missing.tar.gz", "missing.tar.gz"),
        ("/nowhere/missing.tar.gz", "/nowhere/missing.tar.gz"),
    ],
)
def test_source_forms(source: str, expected: str, r2: R2Mock) -> None:
    resolved, client = resolve_source(args(source, r2.bucket, r2.profile))
    assert resolved == expected.format(bucket=r2.bucket)
    assert (client is None) == (not expected.startswith("s3://"))


def test_existing_local_file_and_latest(
    r2_clean: R2Mock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = tmp_path / "vlvt_backup_-x.tar.gz"
    local.write_bytes(b"x")
    monkeypatch.chdir(tmp_path)
    assert resolve_source(args(local.name, r2_clean.bucket, r2_clean.profile)) == (local.name, None)
    newest = backup_key(datetime(2026, 1, 25, 3, tzinfo=UTC))
    for key in (backup_key(datetime(2026, 1, 24, 3, tzinfo=UTC)), newest):
        r2_clean.client().put_object(Bucket=r2_clean.bucket, Key=key, Body=b"x")
    resolved, client = resolve_source(args("latest", r2_clean.bucket, r2_clean.profile))
    assert resolved == f"s3://{r2_clean.bucket}/{newest}" and client is not None
