"""Restore-side fault injection: every fault ends with one error line + hint, a typed exit code,
a target that is untouched, empty or marked, and no secret in any output (issue 8).

Faults are made by :mod:`tests.support.faults`; the target's state is read back with
:func:`tests.support.faults.target_state`.
"""

from __future__ import annotations

import gzip
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from runbook_helpers.errors import ExitStatus
from runbook_helpers.sandbox.postgres import PostgresServer
from runbook_helpers.sandbox.r2 import R2Mock
from tests.support import faults
from tests.support.backup_files import truncated
from tests.support.cli_checks import assert_clean_failure
from tests.support.cli_runs import interruptible, run_cli
from tests.support.pg_dumps import pg_dump, seed_database

KEY = "vlvt_backup_-2026-01-25T03-00-00-000Z.tar.gz"
# what a failed restore may leave: nothing, or an empty database saying so
CLEAN_STATES = ("untouched", "empty (FAILED)")


@pytest.fixture(scope="module")
def dumps(
    pg_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Path]]:
    seed_database(pg_server, "faults_src", 0.5)
    out = tmp_path_factory.mktemp("faults")
    try:
        yield {
            f: pg_dump(pg_server, "faults_src", f, out) for f in ("tar.gz", "custom.gz", "plain")
        }
    finally:
        pg_server.drop_database("faults_src")


def secret_of(pg_server: PostgresServer) -> list[str]:
    return [pg_server.password] if pg_server.password else []


@pytest.mark.parametrize("fraction", [0.0005, 0.01, 0.3, 0.7, 0.999])
def test_truncated_at_several_offsets(
    fraction: float,
    dumps: dict[str, Path],
    tmp_path: Path,
    pg_url: str,
    sandbox_env: dict[str, str],
    pg_server: PostgresServer,
) -> None:
    bad = faults.write(tmp_path / KEY, truncated(dumps["tar.gz"].read_bytes(), fraction))
    res = run_cli(["restore", str(bad), "--target", pg_url], sandbox_env)
    error = assert_clean_failure(res, ExitStatus.INTEGRITY, secret_of(pg_server))
    assert "truncated" in error or "corrupted" in error or "damaged" in error, error
    assert faults.target_state(pg_url) in CLEAN_STATES


@pytest.mark.parametrize("fraction", [0.001, 0.2, 0.5, 0.9, 0.9995])
def test_flipped_bytes(
    fraction: float,
    dumps: dict[str, Path],
    tmp_path: Path,
    pg_url: str,
    sandbox_env: dict[str, str],
) -> None:
    bad = faults.write(
        tmp_path / KEY, faults.flip_bytes(dumps["tar.gz"].read_bytes(), fraction, 16)
    )
    res = run_cli(["restore", str(bad), "--target", pg_url], sandbox_env)
    assert_clean_failure(res, ExitStatus.INTEGRITY)
    assert faults.target_state(pg_url) in CLEAN_STATES


@pytest.mark.parametrize("damage", [faults.wrong_crc, faults.wrong_length])
def test_wrong_gzip_trailer(
    damage: object,
    dumps: dict[str, Path],
    tmp_path: Path,
    pg_url: str,
    sandbox_env: dict[str, str],
) -> None:
    assert callable(damage)
    bad = faults.write(tmp_path / KEY, damage(dumps["tar.gz"].read_bytes()))
    res = run_cli(["restore", str(bad), "--target", pg_url], sandbox_env)
    assert_clean_failure(res, ExitStatus.INTEGRITY)
    assert faults.target_state(pg_url) in CLEAN_STATES


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_wrong_sidecar_on_s3(
    jobs: str, dumps: dict[str, Path], pg_url: str, r2_clean: R2Mock, sandbox_env: dict[str, str]
) -> None:
    data = dumps["tar.gz"].read_bytes()
    s3 = r2_clean.client()
    s3.put_object(Bucket=r2_clean.bucket, Key=KEY, Body=data)
    s3.put_object(
        Bucket=r2_clean.bucket, Key=KEY + ".sha256", Body=faults.sidecar(data, KEY, wrong=True)
    )
    res = run_cli(
        [
            "restore",
            f"s3://{r2_clean.bucket}/{KEY}",
            "--target",
            pg_url,
            "--jobs",
            jobs,
            "--profile",
            r2_clean.profile,
        ],
        sandbox_env,
        secrets=[r2_clean.secret_access_key],
    )
    error = assert_clean_failure(res, ExitStatus.INTEGRITY, [r2_clean.secret_access_key])
    assert "sha256 mismatch" in error
    if jobs == "1":  # one transaction, rolled back in the target
        assert faults.target_state(pg_url) == "empty (FAILED)"
    else:  # checked before pg_restore ran: the side database is dropped, the target untouched
        assert "(the side database" in error and "was dropped)" in error
        assert faults.target_state(pg_url) == "untouched"
        assert faults.side_databases(pg_url) == {}


@pytest.mark.parametrize(
    ("content", "status"),
    [
        (b"", ExitStatus.INTEGRITY),  # empty object
        (gzip.compress(b"", mtime=0), ExitStatus.INTEGRITY),  # gzip of nothing
        (faults.garbage_gz(), ExitStatus.INCOMPATIBLE),
        (os.urandom(5000), ExitStatus.INCOMPATIBLE),
        (b"PGDMP\x01", ExitStatus.INTEGRITY),  # a custom header cut short
    ],
)
def test_empty_and_non_dump_content(
    content: bytes, status: int, tmp_path: Path, pg_url: str, sandbox_env: dict[str, str]
) -> None:
    bad = faults.write(tmp_path / "x.dump", content)
    res = run_cli(["restore", str(bad), "--target", pg_url], sandbox_env)
    assert_clean_failure(res, status)
    assert faults.target_state(pg_url) == "untouched"


# Hostile plain SQL (refused without --format plain, restricted with it) is covered, with
# stricter assertions, by tests/test_restore_hostile.py: not run twice here.


def test_plain_dump_committing_itself_says_what_it_left(
    tmp_path: Path, pg_url: str, sandbox_env: dict[str, str]
) -> None:
    """A BEGIN;/COMMIT; of the dump's own (outside large objects) commits part: said, marked."""
    sql = (
        "CREATE TABLE public.a (x int);\nBEGIN;\nCOMMIT;\nCREATE TABLE public.b (x int);\n"
        "SELECT 1/0;\n--\n-- PostgreSQL database dump complete\n--\n"
    )
    bad = faults.write(tmp_path / "x.sql", sql.encode())
    res = run_cli(["restore", str(bad), "--target", pg_url, "--format", "plain"], sandbox_env)
    error = assert_clean_failure(res, ExitStatus.RESTORE_FAILED)
    assert "committed part of it" in error and "INCOMPLETE (partially restored)" in error
    assert faults.target_state(pg_url).endswith("(FAILED)")


def test_plain_dump_with_large_objects_is_one_transaction(
    pg_server: PostgresServer, tmp_path: Path, pg_url: str, sandbox_env: dict[str, str]
) -> None:
    """pg_dump's own BEGIN/COMMIT around large objects never commits the outer transaction."""
    src = "faults_lo_src"
    seed_url = pg_server.create_database(src)
    try:
        with psycopg.connect(seed_url, autocommit=True) as conn:
            conn.execute("create table t (id int primary key, o oid)")
            conn.execute("insert into t values (1, lo_from_bytea(0, 'hello'))")
            conn.execute("create role faults_owner_role")
            conn.execute("alter table t owner to faults_owner_role")
            conn.execute("grant select on t to faults_owner_role")
        dump = pg_dump(pg_server, src, "plain", tmp_path)
    finally:
        pg_server.drop_database(src)
        with pg_server.connect() as conn:
            conn.execute("drop role if exists faults_owner_role")
    text = dump.read_bytes()
    assert b"BEGIN;" in text and b"OWNER TO faults_owner_role" in text
    res = run_cli(["restore", str(dump), "--target", pg_url, "--format", "plain"], sandbox_env)
    assert res.status == 0, res.stderr  # the role is gone: owners/grants were left out
    assert faults.target_state(pg_url) == "1 tables (DONE)"
    # a failure after the large objects rolls everything back, large objects included
    broken = faults.write(
        tmp_path / "broken.sql",
        text.replace(
            b"-- PostgreSQL database dump complete",
            b"SELECT 1/0;\n-- PostgreSQL database dump complete",
            1,
        ),
    )
    other = pg_url.rsplit("/", 1)[0] + "/" + pg_url.rsplit("/", 1)[1] + "x"
    pg_server.create_database(other.rsplit("/", 1)[1].split("?")[0])
    try:
        res = run_cli(["restore", str(broken), "--target", other, "--format", "plain"], sandbox_env)
        error = assert_clean_failure(res, ExitStatus.RESTORE_FAILED)
        assert "rolled back: nothing was restored" in error
        assert faults.target_state(other) == "empty (FAILED)"
        with psycopg.connect(other) as conn:
            assert conn.execute("select count(*) from pg_largeobject_metadata").fetchone() == (0,)
    finally:
        pg_server.drop_database(other.rsplit("/", 1)[1].split("?")[0])


def runbook_proc(
    args: list[str], env: dict[str, str], preexec_fn: Callable[[], None] | None = None
) -> subprocess.Popen[str]:
    """``runbook restore ARGS`` as a separate process (to signal or limit it)."""
    return subprocess.Popen(
        [sys.executable, "-m", "runbook_helpers", "restore", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: _prepare(preexec_fn),
    )


def _prepare(then: Callable[[], None] | None) -> None:
    interruptible()
    if then is not None:
        then()


def _stop_when(
    proc: subprocess.Popen[str], url: str, seen: Callable[[psycopg.Connection[Any]], bool]
) -> None:
    """Poll ``seen`` (one connection to the ``postgres`` database, no sleep: a connection to
    the target would be a session there) until it is true, then SIGSTOP runbook: nothing it
    does can finish between the stage being seen and the signal being sent."""
    admin = psycopg.conninfo.make_conninfo(url, dbname="postgres")
    deadline = time.monotonic() + 60
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        while not seen(conn):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
    os.kill(proc.pid, signal.SIGSTOP)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("stage", ["started", "streaming", "parallel", "parallel-tar"])
def test_runbook_killed_at_each_stage(
    sig: signal.Signals,
    stage: str,
    dumps: dict[str, Path],
    pg_url: str,
    sandbox_env: dict[str, str],
) -> None:
    """Runbook is stopped (SIGSTOP) the moment the stage is seen, signalled, then continued:
    the signal always lands in that stage, however fast the machine restores."""
    args = [str(dumps["tar.gz"]), "--target", pg_url, "-j", "1"]
    if stage == "parallel":  # pg_restore -j 2 from an unpacked file: not one transaction
        args = [str(dumps["custom.gz"]), "--target", pg_url, "-j", "2"]
    if stage == "parallel-tar":  # extracted, -j 2 into a side database
        args = [str(dumps["tar.gz"]), "--target", pg_url, "-j", "2"]
    dbname = str(psycopg.conninfo.conninfo_to_dict(pg_url)["dbname"])
    proc = runbook_proc(args, sandbox_env)
    try:
        if stage == "started":  # the CLI is up ("runbook: restoring ..."), the target untouched
            assert proc.stderr is not None
            assert proc.stderr.readline().startswith("runbook: restoring")
            os.kill(proc.pid, signal.SIGSTOP)
        elif stage == "parallel-tar":  # the side database is marked IN PROGRESS
            _stop_when(
                proc,
                pg_url,
                lambda c: "IN PROGRESS" in "".join(faults.side_markers(c, dbname).values()),
            )
        else:  # the target is marked IN PROGRESS
            _stop_when(proc, pg_url, lambda c: "IN PROGRESS" in faults.database_marker(c, dbname))
        assert proc.poll() is None, "runbook ended before it could be stopped in the stage"
        proc.send_signal(sig)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGCONT)
    _, err = proc.communicate(timeout=60)
    if sig == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL
    else:
        assert "Traceback" not in err, err
        errors = [ln for ln in err.splitlines() if ln.startswith("runbook: error: ")]
        assert len(errors) == 1 and "interrupted" in errors[0], err
        assert proc.returncode == ExitStatus.INTERRUPTED, err
    faults.wait_for_no_sessions(pg_url)  # an orphaned psql sees EOF and rolls back
    state = faults.target_state(pg_url)
    if stage == "parallel":  # partly restored is allowed, but never without its marker
        assert state == "untouched" or state.endswith(("(IN PROGRESS)", "(FAILED)")), state
    elif stage == "parallel-tar":  # the target is never touched; the side db dropped if we can
        assert state == "untouched", state
        left = faults.side_databases(pg_url)
        if sig == signal.SIGKILL:  # nothing can clean up: it stays, marked IN PROGRESS
            assert all("IN PROGRESS" in marker for marker in left.values()), left
        else:
            assert left == {}, (left, err)
            assert "was dropped" in err, err
    else:
        assert state in ("untouched", "empty (IN PROGRESS)", "empty (FAILED)"), state


def test_full_disk_while_downloading(
    dumps: dict[str, Path], pg_url: str, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    """A file-size limit (as a full disk would) while a gzip'd custom archive is unpacked for -j."""

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))

    proc = runbook_proc(
        [str(dumps["custom.gz"]), "--target", pg_url, "-j", "2", "--workdir", str(tmp_path)],
        sandbox_env,
        preexec_fn=limit,
    )
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == ExitStatus.NO_SPACE, err
    errors = [ln for ln in err.splitlines() if ln.startswith("runbook: error: ")]
    assert len(errors) == 1 and "nothing was restored" in errors[0], err
    assert "Traceback" not in err
    assert faults.target_state(pg_url) == "untouched"


@pytest.mark.parametrize("dbname", ["postgres", "template1", ""])
def test_maintenance_target_with_password_in_url(
    dbname: str, dumps: dict[str, Path], pg_server: PostgresServer, sandbox_env: dict[str, str]
) -> None:
    """Refused with exit 8 before connecting; the URL's password is never printed."""
    secret = "hunter2-Sekr1t"
    url = f"postgresql://postgres:{secret}@127.0.0.1:{pg_server.port}/{dbname}"
    res = run_cli(["restore", str(dumps["tar.gz"]), "--target", url], sandbox_env, secrets=[secret])
    error = assert_clean_failure(res, ExitStatus.UNSAFE_TARGET, [secret])
    assert "never writes into postgres" in error
