"""``runbook restore``: every path restores the data; every kind of bad input is refused."""

from __future__ import annotations

import hashlib
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from runbook_helpers.archive.manifest import Manifest, table_stats
from runbook_helpers.errors import ExitStatus, RestoreFailed
from runbook_helpers.restore.dispatch import RestoreOptions, restore
from runbook_helpers.sandbox.postgres import PostgresServer
from runbook_helpers.sandbox.r2 import R2Mock
from tests.support.cli_runs import run_cli
from tests.support.pg_dumps import DUMP_FORMATS, pg_dump, seed_database

KEY = "vlvt_backup_-2026-01-25T03-00-00-000Z.tar.gz"


@pytest.fixture(scope="module")
def source(pg_server: PostgresServer) -> Iterator[str]:
    seed_database(pg_server, "restore_src", 0.2)
    yield "restore_src"
    pg_server.drop_database("restore_src")


@pytest.fixture(scope="module")
def manifest(
    pg_server: PostgresServer, source: str, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    with psycopg.connect(pg_server.url(source)) as conn:
        tables = table_stats(conn)
    m = Manifest(
        key=KEY,
        created_at="2026-01-25T03:00:00Z",
        pg_dump_version="x",
        server_version="x",
        size_bytes=0,
        sha256="",
        tables=tables,
    )
    path = tmp_path_factory.mktemp("manifest") / "m.manifest.json"
    path.write_text(m.to_json())
    return path


@pytest.fixture(scope="module")
def dumps(
    pg_server: PostgresServer, source: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("rdumps")
    return {fmt: pg_dump(pg_server, source, fmt, out) for fmt in DUMP_FORMATS}


def count_tables(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "select count(*) from pg_tables"
            " where schemaname not in ('pg_catalog', 'information_schema')"
        ).fetchone()
    assert row is not None
    return int(row[0])


def marker(url: str) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "select shobj_description(oid, 'pg_database') from pg_database"
            " where datname = current_database()"
        ).fetchone()
    assert row is not None
    return str(row[0])


@pytest.mark.parametrize("fmt", list(DUMP_FORMATS))
def test_restore_each_format_then_verify_matches_manifest(
    fmt: str, dumps: dict[str, Path], pg_url: str, manifest: Path, sandbox_env: dict[str, str]
) -> None:
    plain = ["--format", "plain"] if fmt.startswith("plain") else []
    res = run_cli(
        ["restore", str(dumps[fmt]), "--target", pg_url, "--jobs", "2", *plain], sandbox_env
    )
    assert res.status == 0, res.stderr
    assert res.stdout.startswith("restored ")
    if fmt in ("custom", "directory"):
        assert "pg_restore -j 2" in res.stdout
    if fmt.startswith("plain"):
        assert "psql -v ON_ERROR_STOP=1" in res.stdout
    if fmt.startswith("tar"):  # streamed, -j 2 into a side database renamed after the checks
        assert "rows streamed into 2 COPY sessions, then pg_restore -j 2" in res.stdout
        assert "runbook: parallel: rows streamed into 2 COPY sessions" in res.stderr
        assert "rows of 4 tables match the archive" in res.stderr
    assert "analyze" in res.stderr  # per-stage timings
    assert marker(pg_url).startswith("runbook: restored from")
    ver = run_cli(["verify", "--target", pg_url, "--manifest", str(manifest)], sandbox_env)
    assert ver.status == 0, ver.stdout + ver.stderr
    assert "public.messages" in ver.stdout and "OK" in ver.stdout


def test_restore_template_backup_streamed_from_s3(
    dumps: dict[str, Path],
    pg_url: str,
    manifest: Path,
    r2_clean: R2Mock,
    sandbox_env: dict[str, str],
) -> None:
    data = dumps["tar.gz"].read_bytes()
    s3 = r2_clean.client()
    s3.put_object(Bucket=r2_clean.bucket, Key=KEY, Body=data)
    s3.put_object(
        Bucket=r2_clean.bucket,
        Key=KEY + ".sha256",
        Body=f"{hashlib.sha256(data).hexdigest()}  {KEY}\n".encode(),
    )
    s3.put_object(Bucket=r2_clean.bucket, Key=KEY + ".manifest.json", Body=manifest.read_bytes())
    uri = f"s3://{r2_clean.bucket}/{KEY}"
    res = run_cli(
        ["restore", uri, "--target", pg_url, "--jobs", "1", "--profile", r2_clean.profile],
        sandbox_env,
    )
    assert res.status == 0, res.stderr
    assert "sha256 verified" in res.stdout and "streamed" in res.stdout
    ver = run_cli(
        ["verify", "--target", pg_url, "--manifest", uri, "--profile", r2_clean.profile],
        sandbox_env,
    )
    assert ver.status == 0, ver.stdout + ver.stderr


def test_custom_from_s3_is_downloaded_and_restored_with_jobs(
    dumps: dict[str, Path], pg_url: str, r2_clean: R2Mock, sandbox_env: dict[str, str]
) -> None:
    r2_clean.client().upload_file(str(dumps["custom"]), r2_clean.bucket, "x.dump")
    res = run_cli(
        [
            "restore",
            f"s3://{r2_clean.bucket}/x.dump",
            "--target",
            pg_url,
            "-j",
            "2",
            "--profile",
            r2_clean.profile,
        ],
        sandbox_env,
    )
    assert res.status == 0, res.stderr
    assert "pg_restore -j 2 from a file" in res.stdout and "fetch" in res.stderr


def test_non_empty_target_is_refused(
    dumps: dict[str, Path], pg_server: PostgresServer, source: str, sandbox_env: dict[str, str]
) -> None:
    res = run_cli(["restore", str(dumps["tar.gz"]), "--target", pg_server.url(source)], sandbox_env)
    assert res.status == ExitStatus.UNSAFE_TARGET
    assert "is not empty" in res.error_line and "--allow-non-empty" in res.stderr


def test_production_looking_host_is_refused_without_connecting(
    dumps: dict[str, Path], sandbox_env: dict[str, str], pg_url: str
) -> None:
    secret = "s3cr3t-pw-xyz"
    url = f"postgresql://postgres:{secret}@db.railway.internal:5432/railway"
    res = run_cli(["restore", str(dumps["tar.gz"]), "--target", url], sandbox_env, secrets=[secret])
    assert res.status == ExitStatus.UNSAFE_TARGET
    assert "looks like production" in res.error_line and "--production" in res.stderr
    # and by the RUNBOOK_PRODUCTION_HOSTS glob
    env = {**sandbox_env, "RUNBOOK_PRODUCTION_HOSTS": "127.0.0.*, prod-*"}
    res = run_cli(["restore", str(dumps["tar.gz"]), "--target", pg_url], env)
    assert res.status == ExitStatus.UNSAFE_TARGET


def test_missing_target_database(
    dumps: dict[str, Path], pg_server: PostgresServer, sandbox_env: dict[str, str]
) -> None:
    name = f"missing_{uuid.uuid4().hex[:8]}"
    res = run_cli(["restore", str(dumps["tar.gz"]), "--target", pg_server.url(name)], sandbox_env)
    assert res.status == ExitStatus.NOT_FOUND
    assert f'database "{name}" does not exist' in res.error_line
    assert "createdb" in res.stderr and "--create" in res.stderr
    res = run_cli(
        ["restore", str(dumps["tar.gz"]), "--target", pg_server.url(name), "--create"], sandbox_env
    )
    try:
        assert res.status == 0, res.stderr
    finally:
        pg_server.drop_database(name)


def test_plain_dump_mislabelled_is_refused(
    dumps: dict[str, Path], tmp_path: Path, pg_url: str, sandbox_env: dict[str, str]
) -> None:
    fake = tmp_path / KEY  # plain SQL under the template's .tar.gz name
    fake.write_bytes(dumps["plain"].read_bytes())
    res = run_cli(["restore", str(fake), "--target", pg_url], sandbox_env)
    assert res.status == ExitStatus.INCOMPATIBLE
    assert "is plain SQL, not a pg_dump archive" in res.error_line
    assert count_tables(pg_url) == 0


def test_plain_dump_given_to_pg_restore_is_explained(dumps: dict[str, Path]) -> None:
    from runbook_helpers.archive.inspect import pg_restore_error

    proc = subprocess.run(["pg_restore", "-l", str(dumps["plain"])], capture_output=True, text=True)
    err = pg_restore_error(proc.stderr)
    assert err.status == ExitStatus.INCOMPATIBLE and "plain SQL dump" in str(err)
    assert "psql" in err.hint


def test_truncated_archive_rolls_back(
    dumps: dict[str, Path], tmp_path: Path, pg_url: str, sandbox_env: dict[str, str]
) -> None:
    data = dumps["tar.gz"].read_bytes()
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(data[: len(data) * 2 // 3])
    res = run_cli(["restore", str(cut), "--target", pg_url, "--jobs", "1"], sandbox_env)
    assert res.status == ExitStatus.INTEGRITY
    assert "truncated" in res.error_line and "rolled back: nothing was restored" in res.error_line
    assert count_tables(pg_url) == 0
    assert "FAILED" in marker(pg_url)


def test_truncated_plain_dump_is_not_committed(
    dumps: dict[str, Path], tmp_path: Path, pg_url: str, sandbox_env: dict[str, str]
) -> None:
    data = dumps["plain"].read_bytes()
    cut = tmp_path / "cut.sql"
    cut.write_bytes(data[: len(data) // 2])
    res = run_cli(["restore", str(cut), "--target", pg_url, "--format", "plain"], sandbox_env)
    assert res.status == ExitStatus.INTEGRITY and "truncated" in res.error_line
    assert count_tables(pg_url) == 0


def test_corrupted_bytes_at_the_start_restore_nothing(
    dumps: dict[str, Path], tmp_path: Path, pg_url: str, sandbox_env: dict[str, str]
) -> None:
    data = bytearray(dumps["tar.gz"].read_bytes())
    for i in range(len(data) // 2, len(data) // 2 + 64):
        data[i] ^= 0x5A
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(bytes(data))
    res = run_cli(["restore", str(bad), "--target", pg_url], sandbox_env)
    assert res.status == ExitStatus.INTEGRITY
    assert "corrupted" in res.error_line and "nothing was restored" in res.error_line
    assert count_tables(pg_url) == 0


@pytest.fixture(scope="module")
def big_dump(pg_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tar.gz of a few MiB: streamed in several 1 MiB chunks."""
    seed_database(pg_server, "restore_big", 1.5)
    try:
        dump = pg_dump(pg_server, "restore_big", "tar.gz", tmp_path_factory.mktemp("big"))
    finally:
        pg_server.drop_database("restore_big")
    assert dump.stat().st_size > 1_200_000
    return dump


def test_corrupted_bytes_mid_stream_are_caught(
    big_dump: Path, tmp_path: Path, pg_url: str, sandbox_env: dict[str, str]
) -> None:
    data = bytearray(big_dump.read_bytes())
    for i in range(len(data) * 3 // 4, len(data) * 3 // 4 + 64):
        data[i] ^= 0x5A
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(bytes(data))
    res = run_cli(["restore", str(bad), "--target", pg_url, "--jobs", "1"], sandbox_env)
    assert res.status == ExitStatus.INTEGRITY, res.stderr  # corruption is exit 6, never 9
    assert "rolled back: nothing was restored" in res.error_line
    assert "FAILED" in marker(pg_url)
    ver = run_cli(["verify", "--target", pg_url], sandbox_env)
    assert ver.status == ExitStatus.RESTORE_FAILED and "INCOMPLETE" in ver.error_line


def test_sha256_sidecar_mismatch(
    dumps: dict[str, Path],
    tmp_path: Path,
    pg_url: str,
    r2_clean: R2Mock,
    sandbox_env: dict[str, str],
) -> None:
    s3 = r2_clean.client()
    s3.upload_file(str(dumps["tar.gz"]), r2_clean.bucket, KEY)
    s3.put_object(Bucket=r2_clean.bucket, Key=KEY + ".sha256", Body=f"{'0' * 64}  {KEY}\n".encode())
    res = run_cli(
        [
            "restore",
            f"s3://{r2_clean.bucket}/{KEY}",
            "--jobs",
            "1",
            "--target",
            pg_url,
            "--profile",
            r2_clean.profile,
        ],
        sandbox_env,
    )
    assert res.status == ExitStatus.INTEGRITY
    assert "sha256 mismatch" in res.error_line and "rolled back" in res.error_line
    assert "FAILED" in marker(pg_url)
    # a custom archive is checked before anything is restored
    local = tmp_path / "c.dump"
    local.write_bytes(dumps["custom"].read_bytes())
    (tmp_path / "c.dump.sha256").write_text(f"{'1' * 64}  c.dump\n")
    res = run_cli(["restore", str(local), "--target", pg_url, "--allow-non-empty"], sandbox_env)
    assert res.status == ExitStatus.INTEGRITY and "nothing was restored" in res.error_line


def test_killed_pg_restore_reports_incomplete(
    big_dump: Path, pg_url: str, sandbox_env: dict[str, str]
) -> None:
    """SIGKILL pg_restore after 1 MiB of a streamed tar.gz: rolled back, exit 9, marker FAILED."""
    dump = big_dump
    procs: list[subprocess.Popen[bytes]] = []

    def kill_midway(total: int) -> None:
        if total > 1_000_000 and procs and procs[0].poll() is None:
            procs[0].kill()

    opts = RestoreOptions(jobs=1, on_process=procs.append, on_bytes=kill_midway)
    with pytest.raises(RestoreFailed) as info:
        restore(str(dump), pg_url, opts)
    assert "killed by signal 9" in str(info.value)
    assert "rolled back: nothing was restored" in str(info.value)
    assert count_tables(pg_url) == 0
    assert marker(pg_url).startswith("runbook: restore FAILED")
    ver = run_cli(["verify", "--target", pg_url], sandbox_env)
    assert ver.status == ExitStatus.RESTORE_FAILED
    assert "INCOMPLETE" in ver.error_line and "[failed]" in ver.stdout


def test_side_db_and_swap(
    dumps: dict[str, Path], pg_server: PostgresServer, sandbox_env: dict[str, str]
) -> None:
    name = f"swap_{uuid.uuid4().hex[:8]}"
    pg_server.create_database(name)
    created: list[str] = []
    try:
        res = run_cli(
            ["restore", str(dumps["tar.gz"]), "--target", pg_server.url(name), "--swap"],
            sandbox_env,
        )
        assert res.status == 0, res.stderr
        created = [d for d in pg_server.list_databases() if d.startswith(name)]
        assert any(d.startswith(f"{name}_old_") for d in created)
        assert count_tables(pg_server.url(name)) == 4
        # with a session connected to the target, the swap refuses and keeps the side copy
        with psycopg.connect(pg_server.url(name)):
            res = run_cli(
                ["restore", str(dumps["tar.gz"]), "--target", pg_server.url(name), "--swap"],
                sandbox_env,
            )
        assert res.status == ExitStatus.UNSAFE_TARGET
        assert f"session(s) are connected (1 to {name})" in res.error_line, res.stderr
        assert "_restore_" in res.stderr
    finally:
        for db in pg_server.list_databases():
            if db.startswith(name):
                pg_server.drop_database(db)
