"""``runbook verify --archive`` on damaged backups: bounded in time, exit 6, one line + hint."""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import pytest

from runbook_helpers.errors import ExitStatus
from runbook_helpers.sandbox.ports import free_port
from runbook_helpers.sandbox.postgres import PostgresServer
from runbook_helpers.sandbox.r2 import R2Mock
from tests.support.backup_files import dump_tar_gz, flipped, seed_small, truncated
from tests.support.cli_checks import assert_clean_failure
from tests.support.cli_runs import run_cli


@pytest.fixture(scope="module")
def good_backup(pg_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    from runbook_helpers.sandbox import sandbox_environment

    url = pg_server.create_database("faults_verify_src")
    try:
        seed_small(url)
        path = tmp_path_factory.mktemp("verify") / "good.tar.gz"
        return dump_tar_gz(url, path, sandbox_environment(pg_server, None))
    finally:
        pg_server.drop_database("faults_verify_src")


@pytest.fixture
def target(pg_url: str) -> str:
    seed_small(pg_url)
    return pg_url


def test_intact_backup_verifies(
    good_backup: bytes, target: str, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "good.tar.gz"
    path.write_bytes(good_backup)
    result = run_cli(["verify", "--target", target, "--archive", str(path)], sandbox_env)
    assert result.status == 0, result.stderr
    assert "OK" in result.stdout


@pytest.mark.parametrize("fraction", [0.02, 0.3, 0.6, 0.97])
def test_truncated_archive_ends_with_exit_6(
    fraction: float, good_backup: bytes, target: str, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "cut.tar.gz"
    path.write_bytes(truncated(good_backup, fraction))
    started = time.monotonic()
    result = run_cli(["verify", "--target", target, "--archive", str(path)], sandbox_env)
    assert time.monotonic() - started < 60
    assert_clean_failure(
        result, ExitStatus.INTEGRITY, argv=["verify", "--target", target, "--archive", str(path)]
    )
    assert "truncated" in result.error_line


@pytest.mark.parametrize("where", [0.1, 0.5, 0.9, -8, -3])  # -8: CRC32, -3: length
def test_flipped_byte_ends_with_exit_6(
    where: float, good_backup: bytes, target: str, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "flip.tar.gz"
    offset = int(len(good_backup) * where) if where > 0 else len(good_backup) + int(where)
    path.write_bytes(flipped(good_backup, offset))
    result = run_cli(["verify", "--target", target, "--archive", str(path)], sandbox_env)
    assert_clean_failure(
        result, ExitStatus.INTEGRITY, argv=["verify", "--target", target, "--archive", str(path)]
    )


def cut_tar(tar: bytes, with_end_blocks: bool) -> bytes:
    """The first half of a tar archive; optionally followed by the two zero end blocks."""
    half = tar[: len(tar) // 2 // 512 * 512]
    return half + bytes(1024) if with_end_blocks else half


@pytest.mark.parametrize("with_end_blocks", [False, True], ids=["no-end", "fake-end"])
def test_valid_gzip_of_a_truncated_tar_does_not_hang(
    with_end_blocks: bool,
    good_backup: bytes,
    target: str,
    sandbox_env: dict[str, str],
    tmp_path: Path,
) -> None:
    """The gzip layer is intact, so only the tar layer or pg_restore can notice: without end
    blocks the tar check does; with them, pg_restore spins at EOF until it is stopped."""
    path = tmp_path / "short-tar.tar.gz"
    path.write_bytes(gzip.compress(cut_tar(gzip.decompress(good_backup), with_end_blocks)))
    started = time.monotonic()
    argv = ["verify", "--target", target, "--archive", str(path)]
    result = run_cli(argv, sandbox_env)
    assert time.monotonic() - started < 60
    assert_clean_failure(result, ExitStatus.INTEGRITY, argv=argv)


PASSWORD = "Verify-Db-Pw-7731"


def test_missing_target_database(pg_url: str, sandbox_env: dict[str, str]) -> None:
    url = pg_url.rsplit("/", 1)[0] + "/no_such_db"
    argv = ["verify", "--target", url]
    result = run_cli(argv, sandbox_env)
    assert_clean_failure(result, ExitStatus.NOT_FOUND, argv=argv)


def test_unreachable_target_hides_the_password(sandbox_env: dict[str, str]) -> None:
    url = f"postgresql://vlvt:{PASSWORD}@127.0.0.1:{free_port()}/railway"
    argv = ["verify", "--target", url]
    result = run_cli(argv, sandbox_env, secrets=[PASSWORD])
    assert_clean_failure(result, ExitStatus.UNREACHABLE, [PASSWORD], argv=argv)


@pytest.mark.parametrize(
    ("content", "status"),
    [
        (b"", ExitStatus.INTEGRITY),  # empty object
        (gzip.compress(b"\x00" * 4096, mtime=0), ExitStatus.INCOMPATIBLE),  # gzip of no dump at all
        (b"PK\x03\x04 a zip file, not a dump" * 50, ExitStatus.INCOMPATIBLE),
    ],
    ids=["empty", "gzip-of-zeros", "zip"],
)
def test_not_a_backup(
    content: bytes,
    status: ExitStatus,
    target: str,
    sandbox_env: dict[str, str],
    r2_clean: R2Mock,
    tmp_path: Path,
) -> None:
    key = "vlvt_backup_-2026-01-25T03-00-00-123Z.tar.gz"
    r2_clean.client().put_object(Bucket=r2_clean.bucket, Key=key, Body=content)
    (tmp_path / key).write_bytes(content)
    for source in (f"s3://{r2_clean.bucket}/{key}", str(tmp_path / key)):
        argv = ["verify", "--target", target, "--archive", source]
        result = run_cli(argv, sandbox_env, secrets=[r2_clean.secret_access_key])
        assert_clean_failure(result, status, [r2_clean.secret_access_key], argv=argv)


def test_missing_archive_key(target: str, sandbox_env: dict[str, str], r2_clean: R2Mock) -> None:
    argv = ["verify", "--target", target, "--archive", f"s3://{r2_clean.bucket}/nope.tar.gz"]
    result = run_cli(argv, sandbox_env)
    assert_clean_failure(result, ExitStatus.NOT_FOUND, [r2_clean.secret_access_key], argv=argv)


def test_fetch_notices_a_tar_cut_inside_a_complete_gzip(
    good_backup: bytes, sandbox_env: dict[str, str], r2_clean: R2Mock, tmp_path: Path
) -> None:
    """``pg_dump | gzip`` with pg_dump dying midway: gzip is complete, the tar is not."""
    key = "vlvt_backup_-2026-01-25T03-00-00-123Z.tar.gz"
    cut = gzip.compress(truncated(gzip.decompress(good_backup), 0.5))
    r2_clean.client().put_object(Bucket=r2_clean.bucket, Key=key, Body=cut)
    for argv in (
        ["fetch", f"s3://{r2_clean.bucket}/{key}", "--to", str(tmp_path / "dl")],
        ["fetch", "latest", "--to", str(tmp_path / "dl")],
    ):
        result = run_cli(argv, sandbox_env)
        assert_clean_failure(result, ExitStatus.INTEGRITY, [r2_clean.secret_access_key], argv=argv)
        assert "end-of-archive" in result.error_line
        assert not list((tmp_path / "dl").glob("*"))  # no partial or unverified file kept
    intact = tmp_path / "intact.tar.gz"
    intact.write_bytes(good_backup)
    assert run_cli(["fetch", str(intact)], sandbox_env).status == 0
