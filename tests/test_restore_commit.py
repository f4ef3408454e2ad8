"""A streamed restore commits only after every integrity check has passed.

Damage that shows only at the very end of a ``pg_dump --format=tar | gzip`` stream (the gzip
CRC32 trailer, truncation after the last data member, a ``.sha256`` sidecar) is invisible to
pg_restore, which has read every data member by then. Each case must end with exit 6 and an
empty target (nothing committed), its marker saying FAILED. Also: a killed ``-j`` restore and a
killed ``runbook`` process.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import signal
import subprocess
import tarfile
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from runbook_helpers.errors import ExitStatus, IntegrityError, RestoreFailed
from runbook_helpers.pg.psql_restricted import restricted_psql
from runbook_helpers.restore.dispatch import RestoreOptions, restore
from runbook_helpers.restore.stream import split_commit, stream_restore
from runbook_helpers.restore.tools import Into
from runbook_helpers.sandbox.postgres import PostgresServer
from runbook_helpers.sandbox.r2 import R2Mock
from tests.support.cli_runs import run_cli, spawn_runbook
from tests.support.pg_dumps import pg_dump, seed_database
from tests.test_restore import count_tables, marker

KEY = "vlvt_backup_-2026-01-25T03-00-00-000Z.tar.gz"
SOURCE_DB = "commit_src"


@pytest.fixture(scope="module")
def source(pg_server: PostgresServer) -> Iterator[str]:
    seed_database(pg_server, SOURCE_DB, 1.0)
    yield SOURCE_DB
    pg_server.drop_database(SOURCE_DB)


@pytest.fixture(scope="module")
def tar_gz(
    pg_server: PostgresServer, source: str, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    return pg_dump(pg_server, source, "tar.gz", tmp_path_factory.mktemp("commit"))


@pytest.fixture(scope="module")
def custom(
    pg_server: PostgresServer, source: str, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    return pg_dump(pg_server, source, "custom", tmp_path_factory.mktemp("commit_custom"))


def user_tables(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select schemaname || '.' || tablename from pg_tables"
            " where schemaname not in ('pg_catalog', 'information_schema')"
        ).fetchall()
    return [str(r[0]) for r in rows]


def pg_restore_accepts(tar: bytes) -> bool:
    """Whether pg_restore alone reads ``tar`` (from a pipe) without any error."""
    proc = subprocess.run(["pg_restore", "-f", os.devnull], input=tar, capture_output=True)
    return proc.returncode == 0


def assert_nothing_committed(res_status: int, error: str, url: str) -> None:
    assert res_status == ExitStatus.INTEGRITY, error
    assert "rolled back: nothing was restored into" in error
    assert user_tables(url) == []
    assert marker(url).startswith("runbook: restore FAILED"), marker(url)


def test_wrong_gzip_crc_in_trailer_commits_nothing(
    tar_gz: Path, tmp_path: Path, pg_url: str, sandbox_env: dict[str, str]
) -> None:
    data = bytearray(tar_gz.read_bytes())
    data[-8] ^= 0xFF  # CRC32 (little-endian) is bytes -8..-5, ISIZE -4..-1
    data[-7] ^= 0xFF
    bad = tmp_path / KEY
    bad.write_bytes(bytes(data))
    res = run_cli(["restore", str(bad), "--target", pg_url, "--jobs", "1"], sandbox_env)
    assert_nothing_committed(res.status, res.error_line, pg_url)
    assert "corrupted" in res.error_line


def test_sha256_sidecar_mismatch_on_s3_commits_nothing(
    tar_gz: Path, pg_url: str, r2_clean: R2Mock, sandbox_env: dict[str, str]
) -> None:
    s3 = r2_clean.client()
    s3.upload_file(str(tar_gz), r2_clean.bucket, KEY)
    s3.put_object(
        Bucket=r2_clean.bucket, Key=KEY + ".sha256", Body=f"{'ab' * 32}  {KEY}\n".encode()
    )
    uri = f"s3://{r2_clean.bucket}/{KEY}"
    res = run_cli(
        ["restore", uri, "--target", pg_url, "--jobs", "1", "--profile", r2_clean.profile],
        sandbox_env,
    )
    assert_nothing_committed(res.status, res.error_line, pg_url)
    assert "sha256 mismatch" in res.error_line and "untrusted" not in res.error_line


def cut_after_last_data_member(tar: bytes) -> tuple[bytes, bytes]:
    """``(tar prefix, gzip of it without its end)``: all data members, no restore.sql/trailer."""
    with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
        members = tf.getmembers()
    data = [m for m in members if m.name.endswith(".dat") and m.name != "toc.dat"]
    assert data and members[-1].name == "restore.sql"
    end = max(m.offset_data + m.size for m in data)
    prefix = tar[:end]
    comp = zlib.compressobj(1, zlib.DEFLATED, 31)
    return prefix, comp.compress(prefix) + comp.flush(zlib.Z_FULL_FLUSH)  # no final block


def test_stream_cut_after_last_data_member_commits_nothing(
    tar_gz: Path, tmp_path: Path, pg_url: str, sandbox_env: dict[str, str]
) -> None:
    prefix, cut = cut_after_last_data_member(gzip.decompress(tar_gz.read_bytes()))
    assert pg_restore_accepts(prefix)  # pg_restore alone cannot see this damage
    bad = tmp_path / KEY
    bad.write_bytes(cut)
    res = run_cli(["restore", str(bad), "--target", pg_url, "--jobs", "1"], sandbox_env)
    assert_nothing_committed(res.status, res.error_line, pg_url)
    assert "truncated" in res.error_line


def psql_backend_state(url: str) -> str | None:
    """The psql session's state, ``+ClientRead`` when it waits for input, ``+xid`` if it wrote."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "select state, wait_event, backend_xid is not null from pg_stat_activity"
            " where application_name = 'psql' and datname = current_database()"
        ).fetchone()
    if row is None:
        return None
    waiting = "+ClientRead" if row[1] == "ClientRead" else ""
    return str(row[0]) + waiting + ("+xid" if row[2] else "")


def test_failed_check_after_everything_was_loaded_rolls_back(
    tar_gz: Path, pg_url: str, pg_server: PostgresServer
) -> None:
    """Deterministic: the check fails once pg_restore has exited 0 and psql holds all the data."""
    bin_dir = pg_server.bin_dir or Path(shutil.which("pg_restore") or "pg_restore").parent
    states: list[str | None] = []
    procs: list[subprocess.Popen[bytes]] = []

    def failing_check() -> None:
        assert procs[0].returncode == 0  # pg_restore is done: it would have committed by now
        deadline = time.monotonic() + 30
        while "+ClientRead+xid" not in str(psql_backend_state(pg_url)):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        states.append(psql_backend_state(pg_url))
        raise IntegrityError("sha256 mismatch (test)")

    data = gzip.decompress(tar_gz.read_bytes())
    chunks = iter([data[i : i + 65536] for i in range(0, len(data), 65536)])
    with pytest.raises(IntegrityError):
        stream_restore(
            bin_dir / "pg_restore",
            restricted_psql(bin_dir / "psql"),  # as the restore picks it: one with restricted mode
            chunks,
            Into(pg_url, dict(os.environ)),
            checks=failing_check,
            on_process=procs.append,
        )
    # psql had written in its open transaction and was waiting for the rest (the COMMIT)
    assert states and "+ClientRead+xid" in str(states[0])
    assert user_tables(pg_url) == []


def test_split_commit() -> None:
    tail = b"ALTER TABLE x;\n\n\nCOMMIT;\n\n--\n-- PostgreSQL database dump complete\n--\n\n"
    assert split_commit(tail + b"\\unrestrict abc\n\n") == (
        b"ALTER TABLE x;\n\n\n",
        b"COMMIT;\n\n--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict abc\n\n",
    )
    assert split_commit(b"ALTER TABLE x;\n") is None
    assert split_commit(b"\nCOMMIT;\nINSERT INTO t VALUES (1);\n") is None


def test_sql_error_reports_psql_first_error(
    tar_gz: Path, pg_url: str, sandbox_env: dict[str, str]
) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("create table public.users (id int)")
    res = run_cli(["restore", str(tar_gz), "--target", pg_url, "--allow-non-empty"], sandbox_env)
    assert res.status == ExitStatus.RESTORE_FAILED, res.stderr
    assert "psql stopped at the first error" in res.error_line
    assert 'relation "users" already exists' in res.error_line
    assert "errors ignored" not in res.stderr
    # the database already held a table: it is left as it was, not marked FAILED, and nothing
    # tells the operator to drop a database this restore did not create (issue 8, item 4)
    assert "rolled back: nothing was restored" in res.error_line and "as it was" in res.error_line
    assert "drop" not in res.stderr.lower()
    assert user_tables(pg_url) == ["public.users"]  # matches, messages, profiles rolled back
    assert "FAILED" not in marker(pg_url) and "IN PROGRESS" not in marker(pg_url)


def test_killed_runbook_process_commits_nothing(
    tar_gz: Path, pg_url: str, sandbox_env: dict[str, str]
) -> None:
    """SIGKILL the runbook process mid-stream: psql sees EOF without COMMIT and rolls back."""
    proc = spawn_runbook(["restore", str(tar_gz), "-j1", "--target", pg_url], sandbox_env)
    try:
        deadline = time.monotonic() + 60
        while psql_backend_state(pg_url) is None and proc.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert proc.poll() is None, "the restore finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    deadline = time.monotonic() + 30
    while psql_backend_state(pg_url) is not None and time.monotonic() < deadline:
        time.sleep(0.05)  # the orphaned psql/pg_restore exit on EOF / broken pipe
    assert psql_backend_state(pg_url) is None
    assert user_tables(pg_url) == []
    assert "IN PROGRESS" in marker(pg_url)


def test_killed_parallel_restore_reports_partial_target(
    custom: Path, pg_url: str, sandbox_env: dict[str, str]
) -> None:
    """SIGKILL ``pg_restore -j 2`` once the target has started to fill: exit 9, verify says 9."""
    killed = threading.Event()

    def kill_when_filling(proc: subprocess.Popen[bytes]) -> None:
        def watch() -> None:
            while proc.poll() is None:
                if count_tables(pg_url) > 0:
                    proc.kill()
                    killed.set()
                    return
                time.sleep(0.005)

        threading.Thread(target=watch, daemon=True).start()

    opts = RestoreOptions(jobs=2, on_process=kill_when_filling)
    with pytest.raises(RestoreFailed) as info:
        restore(str(custom), pg_url, opts)
    assert killed.is_set()
    assert info.value.status == ExitStatus.RESTORE_FAILED
    message = str(info.value)
    assert "pg_restore was killed by signal 9" in message
    assert "INCOMPLETE (partially restored): drop it and re-run" in message
    assert "dropdb" in info.value.hint
    assert marker(pg_url).startswith("runbook: restore FAILED")
    ver = run_cli(["verify", "--target", pg_url], sandbox_env)
    assert ver.status == ExitStatus.RESTORE_FAILED
    assert "INCOMPLETE" in ver.error_line


def test_good_archive_with_matching_sidecar_still_restores(
    tar_gz: Path, pg_url: str, r2_clean: R2Mock, sandbox_env: dict[str, str]
) -> None:
    data = tar_gz.read_bytes()
    s3 = r2_clean.client()
    s3.put_object(Bucket=r2_clean.bucket, Key=KEY, Body=data)
    digest = hashlib.sha256(data).hexdigest()
    s3.put_object(Bucket=r2_clean.bucket, Key=KEY + ".sha256", Body=f"{digest}  {KEY}\n".encode())
    uri = f"s3://{r2_clean.bucket}/{KEY}"
    res = run_cli(
        ["restore", uri, "--target", pg_url, "--jobs", "1", "--profile", r2_clean.profile],
        sandbox_env,
    )
    assert res.status == 0, res.stderr
    assert "sha256 verified" in res.stdout and "committed after the checks" in res.stdout
    assert count_tables(pg_url) == 4
    assert marker(pg_url).startswith("runbook: restored from")
