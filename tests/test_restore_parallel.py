"""Parallel restore of tar backups: the pre-check's choice, the same database as the serial
path, all-or-nothing via a side database, rows checked in the same pass, no extracted copy."""

from __future__ import annotations

import gzip
import io
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import psycopg
import pytest

from runbook_helpers.archive.stream import iter_file, iter_gunzip
from runbook_helpers.errors import ExitStatus
from runbook_helpers.pg import target as pg_target
from runbook_helpers.pg.target import Target, connect
from runbook_helpers.restore.parallel import build_post_data, choose, load_streamed
from runbook_helpers.restore.side_database import count_sessions
from runbook_helpers.restore.tools import Into
from runbook_helpers.sandbox.postgres import PostgresServer
from tests.support import faults
from tests.support.backup_files import dump_tar_gz
from tests.support.cli_runs import run_cli


@pytest.mark.parametrize(
    ("jobs", "tables", "sessions", "expected"),
    [
        (
            2,
            0,
            0,
            "parallel: rows streamed into 2 COPY sessions, then indexes and constraints with "
            "pg_restore -j 2",
        ),
        (1, 0, 0, "serial: --jobs 1"),
        (2, 3, 0, "serial: the target already holds tables"),
        (2, 0, 1, "serial: 1 other session(s) are connected"),
    ],
)
def test_the_pre_check_says_which_path_and_why(
    tmp_path: Path, jobs: int, tables: int, sessions: int, expected: str
) -> None:
    plan = choose(jobs, target_tables=tables, target_sessions=sessions)
    assert plan.reason.startswith(expected), plan.reason
    assert plan.parallel == expected.startswith("parallel")


def test_the_pre_check_counts_on_its_own_connection_one_left_open_is_counted(pg_url: str) -> None:
    """The target's sessions are counted on the pre-check's own connection to it, which is never
    one of them (counted on a second connection once the pre-check's had closed, its backend
    could still be listed for a moment, which chose the serial path once)."""
    dbname = Target.parse(pg_url).dbname
    with connect(pg_url) as conn:
        for _ in range(20):
            assert count_sessions(conn, dbname) == {}
        with psycopg.connect(pg_url):
            assert count_sessions(conn, dbname) == {dbname: 1}
        assert conn.execute("select current_database()").fetchone() == (dbname,)


def test_the_production_guard_leaves_no_session_on_the_target(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The restore's first session on the target database is its pre-check's, so no session of
    its own can still be listed when that one counts: the production guard reads the server's
    identifier from a maintenance database (on the target first, a just-closed session was seen
    by 2 of 100 restore-like counts)."""
    asked: list[str | None] = []
    real = pg_target.connect

    def spy(url: str, *, dbname: str | None = None, autocommit: bool = True) -> Any:
        asked.append(dbname)
        return real(url, dbname=dbname, autocommit=autocommit)

    monkeypatch.setattr(pg_target, "connect", spy)
    assert pg_target.server_identifier(Target.parse(pg_url)) is not None
    assert asked == ["postgres"]


def test_only_toc_dat_is_written_locally(
    seeded_tar_gz: Path, tmp_path: Path, pg_server: PostgresServer, sandbox_env: dict[str, str]
) -> None:
    """Rows go straight from the stream into the database: no extracted copy of the data."""
    url = pg_server.create_database("parallel_steps")
    tool = pg_server.bin_dir / "pg_restore" if pg_server.bin_dir else Path("pg_restore")
    try:
        with seeded_tar_gz.open("rb") as f:
            into = Into(url, sandbox_env)
            stats = load_streamed(tool, iter_gunzip(iter_file(f)), tmp_path, into, 2)
        assert sorted(p.name for p in tmp_path.iterdir()) == [
            "runbook-rest-of-data.list",  # sequence values, large objects: from toc.dat
            "toc.dat",
        ]
        with psycopg.connect(url) as conn:  # rows, no index yet
            rows = conn.execute("select count(*) from users").fetchone()
            indexes = conn.execute("select count(*) from pg_indexes where schemaname = 'public'")
            assert rows == (stats.stats["public.users"].rows,) and indexes.fetchone() == (0,)
        build_post_data(tool, tmp_path, into, 2)
        with psycopg.connect(url) as conn:
            indexes = conn.execute("select count(*) from pg_indexes where schemaname = 'public'")
            assert indexes.fetchone()[0] > 0  # type: ignore[index]
    finally:
        pg_server.drop_database("parallel_steps")


def _schema(pg_server: PostgresServer, url: str) -> str:
    tool = pg_server.bin_dir / "pg_dump" if pg_server.bin_dir else Path("pg_dump")
    out = subprocess.run(
        [str(tool), "--schema-only", "--no-owner", "--no-privileges", url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return "\n".join(ln for ln in out.splitlines() if not ln.startswith(("--", "\\")))


def test_parallel_and_serial_restores_give_the_same_database(
    seeded_tar_gz: Path, pg_server: PostgresServer, sandbox_env: dict[str, str]
) -> None:
    """Same tables, columns, indexes, constraints, triggers, sequences and rows either way."""
    urls = [pg_server.url(f"parallel_same_{jobs}") for jobs in (1, 2)]
    try:
        for jobs, url in zip((1, 2), urls, strict=True):
            res = run_cli(
                ["restore", str(seeded_tar_gz), "--target", url, "--create", "-j", str(jobs)],
                sandbox_env,
            )
            assert res.status == 0, res.stderr
        serial, parallel = (_schema(pg_server, url) for url in urls)
        assert "CREATE INDEX" in serial and "FOREIGN KEY" in serial
        assert parallel == serial
        counts = []
        for url in urls:
            with psycopg.connect(url) as conn:
                counts.append(
                    conn.execute(
                        "select (select count(*) from messages), (select last_value from "
                        "pg_sequences where sequencename = 'messages_id_seq')"
                    ).fetchone()
                )
        assert counts[0] == counts[1]
    finally:
        for jobs in (1, 2):
            pg_server.drop_database(f"parallel_same_{jobs}")


def test_parallel_restore_takes_the_target_name_only_when_done(
    seeded_tar_gz: Path, pg_url: str, sandbox_env: dict[str, str]
) -> None:
    res = run_cli(["restore", str(seeded_tar_gz), "--target", pg_url, "--jobs", "2"], sandbox_env)
    assert res.status == 0, res.stderr
    assert "runbook: parallel: rows streamed into 2 COPY sessions" in res.stderr
    assert "match the archive" in res.stderr and "runbook: renamed " in res.stderr
    assert faults.target_state(pg_url).endswith("tables (DONE)")
    assert faults.side_databases(pg_url) == {}  # the empty target it replaced is gone too
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("select count(*) from pg_class where relkind = 'i'").fetchone()


def test_allow_non_empty_restores_serially(
    seeded_tar_gz: Path, pg_url: str, sandbox_env: dict[str, str]
) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("create table keep_me (id int)")
    res = run_cli(
        ["restore", str(seeded_tar_gz), "--target", pg_url, "-j", "2", "--allow-non-empty"],
        sandbox_env,
    )
    assert res.status == 0, res.stderr
    assert "runbook: serial: the target already holds tables" in res.stderr
    assert "rows of 4 tables match the archive" in res.stderr  # keep_me is not judged


def _extra_row(seeded_tar_gz: bytes) -> bytes:
    """The backup with one more row in its first data member (a valid archive that lies)."""
    out = io.BytesIO()
    done = False
    with (
        tarfile.open(fileobj=io.BytesIO(gzip.decompress(seeded_tar_gz))) as src,
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
    jobs: str, seeded_tar_gz: Path, tmp_path: Path, pg_url: str, sandbox_env: dict[str, str]
) -> None:
    canary = tmp_path / "canary"
    bad = faults.write(
        tmp_path / seeded_tar_gz.name, faults.hostile_tar_gz(seeded_tar_gz.read_bytes(), canary)
    )
    res = run_cli(["restore", str(bad), "--target", pg_url, "--jobs", jobs], sandbox_env)
    assert not canary.exists()
    assert res.status != 0
    if jobs == "2":  # the smuggled line is sent as a row, which the server refuses
        assert res.status == ExitStatus.INTEGRITY, res.stderr
        assert "the backup's rows do not load: invalid input syntax" in res.stderr
        assert faults.target_state(pg_url) == "untouched"
        assert faults.side_databases(pg_url) == {}


def test_a_lying_archive_leaves_the_target_untouched(
    seeded_tar_gz: Path, tmp_path: Path, pg_url: str, sandbox_env: dict[str, str]
) -> None:
    """A duplicated first row: the primary key (or the row check) stops it before the rename."""
    bad = faults.write(tmp_path / seeded_tar_gz.name, _extra_row(seeded_tar_gz.read_bytes()))
    res = run_cli(["restore", str(bad), "--target", pg_url, "--jobs", "2"], sandbox_env)
    assert res.status != 0
    assert faults.target_state(pg_url) == "untouched"
    assert faults.side_databases(pg_url) == {}


def test_without_a_terminal_progress_is_one_line_per_stage(
    seeded_tar_gz: Path, pg_url: str, sandbox_env: dict[str, str]
) -> None:
    res = run_cli(["restore", str(seeded_tar_gz), "--target", pg_url, "--jobs", "2"], sandbox_env)
    assert res.status == 0, res.stderr
    assert "\r" not in res.stderr and "\033" not in res.stderr
    stages = [
        ln.split(":")[1].split()[0] for ln in res.stderr.splitlines() if ln.startswith("runbook: ")
    ]
    assert stages == [
        "restoring",
        "parallel",
        "created",
        "tables",
        "indexes",
        "rows",  # counted, while ANALYZE runs
        "newest",  # created_at, read in a second pass over the local file
        "restored",
        "rows",  # match the archive
        "renamed",
    ]


def test_sequence_values_large_objects_and_odd_names_survive(
    pg_server: PostgresServer, tmp_path: Path, sandbox_env: dict[str, str]
) -> None:
    """The rest of the data section (setval, large objects) comes from toc.dat and the kept
    files; quoted names and a table without a column list still load by COPY."""
    src = pg_server.create_database("parallel_odd_src")
    try:
        with psycopg.connect(src, autocommit=True) as conn:
            conn.execute(
                'create schema "My Schema"; create table "My Schema"."T ""1""" '
                '("a b" int, "c,d" text, created_at timestamptz);'
                'insert into "My Schema"."T ""1""" select g, \'x,\ty\', now() '
                "from generate_series(1, 500) g;"
                "create table nocols ();"
                "create sequence s; select setval('s', 4242);"
                "select lo_from_bytea(777001, 'large object bytes');"
            )
        archive = tmp_path / "odd.tar.gz"
        dump_tar_gz(src, archive, sandbox_env)
        target = pg_server.url("parallel_odd")
        res = run_cli(
            ["restore", str(archive), "--target", target, "--create", "-j", "2"], sandbox_env
        )
        assert res.status == 0, res.stderr
        assert "runbook: parallel:" in res.stderr
        with psycopg.connect(target) as conn:
            assert conn.execute('select count(*) from "My Schema"."T ""1"""').fetchone() == (500,)
            assert conn.execute("select last_value from s").fetchone() == (4242,)
            lo = conn.execute("select lo_get(777001)").fetchone()
            assert lo == (b"large object bytes",)
    finally:
        pg_server.drop_database("parallel_odd")
        pg_server.drop_database("parallel_odd_src")
