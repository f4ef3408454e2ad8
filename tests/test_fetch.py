"""``runbook fetch`` against the moto R2: whole files only, every kind of damage caught."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from runbook_helpers.errors import ExitStatus, IntegrityError, NoSpace
from runbook_helpers.r2.fetch import DiskUsage, fetch, verify_local
from runbook_helpers.r2.naming import backup_key
from runbook_helpers.r2.storage import S3Location
from runbook_helpers.sandbox.r2 import R2Mock
from tests.support.backup_files import gz_bytes
from tests.support.cli_runs import run_cli

KEY = backup_key(datetime(2026, 1, 25, 3, tzinfo=UTC))
NAME = KEY


@pytest.fixture
def env(r2_clean: R2Mock, sandbox_env: dict[str, str]) -> dict[str, str]:
    return sandbox_env


def upload(r2: R2Mock, data: bytes, *, sidecar: str | None = "auto", key: str = KEY) -> str:
    s3 = r2.client()
    s3.put_object(Bucket=r2.bucket, Key=key, Body=data)
    if sidecar == "auto":
        sidecar = f"{hashlib.sha256(data).hexdigest()}  {key}\n"
    if sidecar is not None:
        s3.put_object(Bucket=r2.bucket, Key=key + ".sha256", Body=sidecar.encode())
    return f"s3://{r2.bucket}/{key}"


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_fetch_multipart_object_verifies_everything(r2_clean: R2Mock, tmp_path: Path) -> None:
    data = gz_bytes(24 * 1024 * 1024)  # > 16 MiB: ranged, parallel download by s3transfer
    upload(r2_clean, data)
    seen: list[int] = []
    result = fetch(
        r2_clean.client(), S3Location(r2_clean.bucket, KEY), tmp_path, on_progress=seen.append
    )
    assert result.path == tmp_path / NAME
    assert result.path.read_bytes() == data
    assert result.size == len(data) == sum(seen)
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert result.sidecar_verified
    assert result.uncompressed_size == 24 * 1024 * 1024
    assert leftovers(tmp_path) == [NAME]


def test_cli_fetch_prints_the_path(r2_clean: R2Mock, env: dict[str, str], tmp_path: Path) -> None:
    uri = upload(r2_clean, gz_bytes(1000), sidecar=None)
    dest = tmp_path / "x" / "backup.tar.gz"
    result = run_cli(["fetch", uri, "--to", str(dest)], env, secrets=[r2_clean.secret_access_key])
    assert result.status == 0, result.stderr
    assert result.stdout == f"{dest}\n"
    assert "no .sha256 sidecar" in result.stderr and "gzip stream complete" in result.stderr
    # `latest` and a bare key resolve in --bucket; a local file is only verified
    assert run_cli(["fetch", "latest", "--to", str(tmp_path)], env).stdout == f"{tmp_path / NAME}\n"
    assert run_cli(["fetch", KEY, "--to", str(tmp_path / "k.gz")], env).status == 0
    assert run_cli(["fetch", str(dest)], env).stdout == f"{dest}\n"


def expect_failure(env: dict[str, str], argv: list[str], status: ExitStatus, message: str) -> str:
    result = run_cli(argv, env)
    assert result.status == status, result.stderr
    assert message in result.error_line, result.stderr
    assert result.stdout == ""
    return result.error_line


def test_truncated_object(r2_clean: R2Mock, env: dict[str, str], tmp_path: Path) -> None:
    data = gz_bytes(200_000)
    uri = upload(r2_clean, data[: len(data) // 2], sidecar=None)
    line = expect_failure(
        env, ["fetch", uri, "--to", str(tmp_path)], ExitStatus.INTEGRITY, "is truncated"
    )
    assert line.startswith(f"runbook: error: {NAME} is truncated: the gzip stream ends")
    assert leftovers(tmp_path) == []  # neither the final name nor a .part


def test_corrupted_bytes(r2_clean: R2Mock, env: dict[str, str], tmp_path: Path) -> None:
    data = bytearray(gz_bytes(200_000))
    data[100_000] ^= 0xFF
    uri = upload(r2_clean, bytes(data), sidecar=None)
    expect_failure(env, ["fetch", uri, "--to", str(tmp_path)], ExitStatus.INTEGRITY, "is corrupted")
    assert leftovers(tmp_path) == []


def test_corrupted_crc_in_trailer(r2_clean: R2Mock, env: dict[str, str], tmp_path: Path) -> None:
    data = bytearray(gz_bytes(5000))
    data[-6] ^= 0x01  # the CRC32 of the trailer
    uri = upload(r2_clean, bytes(data), sidecar=None)
    expect_failure(env, ["fetch", uri, "--to", str(tmp_path)], ExitStatus.INTEGRITY, "corrupted")


def test_sha256_mismatch(r2_clean: R2Mock, env: dict[str, str], tmp_path: Path) -> None:
    uri = upload(r2_clean, gz_bytes(5000), sidecar=f"{'0' * 64}  {NAME}\n")
    expect_failure(
        env,
        ["fetch", uri, "--to", str(tmp_path)],
        ExitStatus.INTEGRITY,
        "does not match its .sha256",
    )
    assert leftovers(tmp_path) == []


def test_not_gzip(r2_clean: R2Mock, env: dict[str, str], tmp_path: Path) -> None:
    uri = upload(r2_clean, b"-- plain SQL, not a backup\n", sidecar=None)
    expect_failure(
        env, ["fetch", uri, "--to", str(tmp_path)], ExitStatus.INTEGRITY, "not gzip data"
    )


def test_no_disk_space_simulated(r2_clean: R2Mock, env: dict[str, str], tmp_path: Path) -> None:
    uri = upload(r2_clean, gz_bytes(5000))
    with pytest.raises(NoSpace):
        fetch(
            r2_clean.client(),
            S3Location.parse(uri),
            tmp_path,
            disk_usage=lambda _p: DiskUsage(10**9, 10**9 - 1000, 1000),
        )
    line = expect_failure(
        dict(env, RUNBOOK_FREE_BYTES="1000"),
        ["fetch", uri, "--to", str(tmp_path)],
        ExitStatus.NO_SPACE,
        f"not enough disk space in {tmp_path}",
    )
    assert "MiB free" in line
    assert leftovers(tmp_path) == []


def test_unknown_key(r2_clean: R2Mock, env: dict[str, str], tmp_path: Path) -> None:
    uri = f"s3://{r2_clean.bucket}/nope.tar.gz"
    result = run_cli(["fetch", uri, "--to", str(tmp_path)], env)
    assert result.status == ExitStatus.NOT_FOUND
    assert result.error_line == f"runbook: error: no such object: {uri}"
    assert "runbook: hint: see what exists with `runbook backups list`" in result.stderr


def test_wrong_bucket(r2_clean: R2Mock, env: dict[str, str], tmp_path: Path) -> None:
    # a token scoped to vlvt-backups is denied any other bucket name, as on R2
    result = run_cli(["fetch", f"s3://no-such-bucket/{KEY}", "--to", str(tmp_path)], env)
    assert result.status == ExitStatus.ACCESS_DENIED, result.stderr
    # the bucket is not at this endpoint (e.g. an EU-jurisdiction bucket via the default one)
    r2_clean.client().delete_bucket(Bucket=r2_clean.bucket)
    try:
        result = run_cli(["fetch", f"s3://{r2_clean.bucket}/{KEY}", "--to", str(tmp_path)], env)
    finally:
        r2_clean.reset_bucket()  # creates it again
    assert result.status == ExitStatus.NOT_FOUND
    assert "bucket not found at http://127.0.0.1:" in result.error_line
    assert "jurisdiction" in result.stderr


def test_verify_local_detects_damage(tmp_path: Path) -> None:
    good = tmp_path / "good.tar.gz"
    good.write_bytes(gz_bytes(1000))
    (tmp_path / "good.tar.gz.sha256").write_text(
        f"{hashlib.sha256(good.read_bytes()).hexdigest()}  good.tar.gz\n"
    )
    assert verify_local(good).sidecar_verified
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(good.read_bytes()[:-10])
    with pytest.raises(IntegrityError, match="truncated"):
        verify_local(bad)
