"""Parallel restore of tar backups: the pre-check's choice, all-or-nothing via a side database,
rows checked in the same pass."""

from __future__ import annotations

import gzip
import io
import tarfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from runbook_helpers.archive_source import OpenedSource
from runbook_helpers.errors import ExitStatus
from runbook_helpers.restore_parallel import choose, extracted_size
from runbook_helpers.sandbox.postgres import PostgresServer
from tests.support import faults
from tests.support.cli_runs import run_cli
from tests.support.pg_dumps import pg_dump, seed_database


@pytest.fixture(scope="module")
def tar_gz(pg_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    seed_database(pg_server, "parallel_src", 0.3)
    try:
        yield pg_dump(pg_server, "parallel_src", "tar.gz", tmp_path_factory.mktemp("parallel"))
    finally:
        pg_server.drop_database("parallel_src")


def _opened(path: Path) -> OpenedSource:
    return OpenedSource(str(path), "tar.gz", path.stat().st_size, b"", iter(()), lambda: None)


def test_extracted_size_is_read_from_the_gzip_trailer(tar_gz: Path) -> None:
    assert extracted_size(_opened(tar_gz)) == len(gzip.decompress(tar_gz.read_bytes()))


@pytest.mark.parametrize(
    ("jobs", "tables", "sessions", "workdir_free", "expected"),
    [
        (2, 0, 0, True, "parallel: pg_restore -j 2"),
        (1, 0, 0, True, "serial: --jobs 1"),
        (2, 3, 0, True, "serial: the target already holds tables"),
        (2, 0, 1, True, "serial: 1 other session(s) are connected"),
        (2, 0, 0, False, "serial: the extracted copy needs about"),
    ],
)
def test_the_pre_check_says_which_path_and_why(
    tar_gz: Path,
    tmp_path: Path,
    jobs: int,
    tables: int,
    sessions: int,
    workdir_free: bool,
    expected: str,
) -> None:
    opened = _opened(tar_gz)
    if not workdir_free:  # a source that claims to unpack to more than any disk holds
        opened.size = 1 << 60
        opened.source = "s3://bucket/huge.tar.gz"
    plan = choose(opened, jobs, tmp_path, target_tables=tables, target_sessions=sessions)
    assert plan.reason.startswith(expected), plan.reason
    assert plan.parallel == expected.startswith("parallel")


def test_parallel_restore_takes_the_target_name_only_when_done(
    tar_gz: Path, pg_url: str, sandbox_env: dict[str, str]
) -> None:
    res = run_cli(["restore", str(tar_gz), "--target", pg_url, "--jobs", "2"], sandbox_env)
    assert res.status == 0, res.stderr
    assert "runbook: parallel: pg_restore -j 2" in res.stderr
    assert "match the archive" in res.stderr and "runbook: renamed " in res.stderr
    assert faults.target_state(pg_url).endswith("tables (DONE)")
    assert faults.side_databases(pg_url) == {}  # the empty target it replaced is gone too
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("select count(*) from pg_class where relkind = 'i'").fetchone()


def test_allow_non_empty_restores_serially(
    tar_gz: Path, pg_url: str, sandbox_env: dict[str, str]
) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("create table keep_me (id int)")
    res = run_cli(
        ["restore", str(tar_gz), "--target", pg_url, "-j", "2", "--allow-non-empty"], sandbox_env
    )
    assert res.status == 0, res.stderr
    assert "runbook: serial: the target already holds tables" in res.stderr
    assert "rows of 4 tables match the archive" in res.stderr  # keep_me is not judged


def _extra_row(tar_gz: bytes) -> bytes:
    """The backup with one more row in its first data member (a valid archive that lies)."""
    out = io.BytesIO()
    done = False
    with (
        tarfile.open(fileobj=io.BytesIO(gzip.decompress(tar_gz))) as src,
        tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as dst,
    ):
        for member in src.getmembers():
            body = src.extractfile(member)
            payload = body.read() if body is not None else b""
            if not done and member.name.endswith(".dat") and member.name != "toc.dat":
                first = payload.split(b"\n", 1)[0]
                payload = payload.replace(b"\\.\n", first + b"\n\\.\n", 1)
                done = True
            member.size = len(payload)
            dst.addfile(member, io.BytesIO(payload))
    return gzip.compress(out.getvalue(), compresslevel=1)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_hostile_data_member_never_runs_and_never_lands(
    jobs: str, tar_gz: Path, tmp_path: Path, pg_url: str, sandbox_env: dict[str, str]
) -> None:
    canary = tmp_path / "canary"
    bad = faults.write(tmp_path / tar_gz.name, faults.hostile_tar_gz(tar_gz.read_bytes(), canary))
    res = run_cli(["restore", str(bad), "--target", pg_url, "--jobs", jobs], sandbox_env)
    assert not canary.exists()
    assert res.status != 0
    if jobs == "2":  # pg_restore -Fd: the smuggled line is data; the row check refuses it
        assert res.status == ExitStatus.VERIFY_MISMATCH, res.stderr
        assert faults.target_state(pg_url) == "untouched"
        assert faults.side_databases(pg_url) == {}


def test_a_lying_archive_leaves_the_target_untouched(
    tar_gz: Path, tmp_path: Path, pg_url: str, sandbox_env: dict[str, str]
) -> None:
    """A duplicated first row: the primary key (or the row check) stops it before the rename."""
    bad = faults.write(tmp_path / tar_gz.name, _extra_row(tar_gz.read_bytes()))
    res = run_cli(["restore", str(bad), "--target", pg_url, "--jobs", "2"], sandbox_env)
    assert res.status != 0
    assert faults.target_state(pg_url) == "untouched"
    assert faults.side_databases(pg_url) == {}


def test_without_a_terminal_progress_is_one_line_per_stage(
    tar_gz: Path, pg_url: str, sandbox_env: dict[str, str]
) -> None:
    res = run_cli(["restore", str(tar_gz), "--target", pg_url, "--jobs", "2"], sandbox_env)
    assert res.status == 0, res.stderr
    assert "\r" not in res.stderr and "\033" not in res.stderr
    stages = [
        ln.split(":")[1].split()[0] for ln in res.stderr.splitlines() if ln.startswith("runbook: ")
    ]
    assert stages == [
        "restoring",
        "parallel",
        "created",
        "read",
        "restored",
        "rows",
        "analyze",
        "renamed",
    ]
