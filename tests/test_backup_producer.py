"""``runbook backup``: a template-identical backup that restores, with exact manifest counts."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from runbook_helpers.archive.manifest import Manifest
from runbook_helpers.errors import ExitStatus
from runbook_helpers.sandbox.ports import free_port
from runbook_helpers.sandbox.r2 import R2Mock
from tests.support.cli_runs import run_cli

AT = "2026-01-25T03:00:00.123Z"
KEY = "vlvt_backup_-2026-01-25T03-00-00-123Z.tar.gz"
PASSWORD = "Sup3rSecretPw"


@pytest.fixture
def env(r2_clean: R2Mock, sandbox_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    # uploads need the writer token: r2-vlvt is read-only, as on R2 (docs/backups.md)
    return {**sandbox_env, **r2_clean.writer_env(tmp_path / "aws")}


@pytest.fixture
def source(pg_url: str) -> str:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            """
            create table users (id serial primary key, email text,
                                created_at timestamptz not null default now());
            create table messages (id bigserial primary key, body text,
                                   created_at timestamptz default now());
            create table plain (x int);
            insert into users (email) select 'u' || g || '@x' from generate_series(1, 250) g;
            insert into messages (body) select repeat('m', 50) from generate_series(1, 1200);
            insert into plain select generate_series(1, 7);
            """
        )
    return pg_url


def bucket_keys(r2: R2Mock) -> list[str]:
    listing = r2.client().list_objects_v2(Bucket=r2.bucket)
    return sorted(o["Key"] for o in listing.get("Contents", []))


def test_backup_restores_and_manifest_counts_match(
    source: str, env: dict[str, str], r2_clean: R2Mock, tmp_path: Path
) -> None:
    result = run_cli(["backup", "--source", source, "--at", AT], env, secrets=r2_clean.secrets)
    assert result.status == 0, result.stderr
    assert result.stdout == f"s3://{r2_clean.bucket}/{KEY}\n"
    assert "dump " in result.stderr and "upload " in result.stderr  # timings on stderr
    assert bucket_keys(r2_clean) == [KEY, f"{KEY}.manifest.json", f"{KEY}.sha256"]

    fetched = run_cli(["fetch", result.stdout.strip(), "--to", str(tmp_path)], env)
    assert fetched.status == 0, fetched.stderr
    assert "matches the .sha256 sidecar" in fetched.stderr
    archive = Path(fetched.stdout.strip())

    listing = subprocess.run(
        f"gzip -cd '{archive}' | pg_restore -l",
        shell=True,
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    assert "Format: TAR" in listing
    assert "TABLE DATA public users" in listing

    s3 = r2_clean.client()
    sidecar = s3.get_object(Bucket=r2_clean.bucket, Key=f"{KEY}.sha256")["Body"].read().decode()
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    assert sidecar == f"{digest}  {KEY}\n"  # sha256sum format
    body = s3.get_object(Bucket=r2_clean.bucket, Key=f"{KEY}.manifest.json")["Body"].read()
    manifest = Manifest.from_json(body.decode())
    assert manifest.key == KEY and manifest.created_at == AT
    assert manifest.sha256 == digest and manifest.size_bytes == archive.stat().st_size
    assert manifest.pg_dump_version.split(".")[0] == manifest.server_version.split(".")[0]
    with psycopg.connect(source) as conn:
        for name, stats in manifest.tables.items():
            row = conn.execute(f"select count(*) from {name}").fetchone()
            assert row is not None and stats.rows == row[0], name
    assert {k: v.rows for k, v in manifest.tables.items()} == {
        "public.messages": 1200,
        "public.plain": 7,
        "public.users": 250,
    }
    assert manifest.tables["public.users"].newest_created_at is not None
    assert json.loads(body)["format"] == "vlvt-runbooks/manifest@1"


def test_subfolder_and_prefix(source: str, env: dict[str, str], r2_clean: R2Mock) -> None:
    result = run_cli(
        ["backup", "--source", source, "--at", AT, "--subfolder", "prod", "--file-prefix", "b"],
        env,
    )
    assert result.stdout == f"s3://{r2_clean.bucket}/prod/b-2026-01-25T03-00-00-123Z.tar.gz\n"
    latest = run_cli(["backups", "latest", "--subfolder", "prod"], env)
    assert latest.stdout == result.stdout


@pytest.mark.parametrize(
    ("url", "status", "message"),
    [
        (
            f"postgresql://vlvt:{PASSWORD}@127.0.0.1:{free_port()}/db",
            ExitStatus.UNREACHABLE,
            "cannot connect to PostgreSQL at 127.0.0.1:",
        ),
        ("not a url", ExitStatus.USAGE, "not a valid database URL"),
    ],
    ids=["unreachable", "not-a-url"],  # the port is free_port()'s: ids the same on every worker
)
def test_bad_source_uploads_nothing(
    env: dict[str, str], r2_clean: R2Mock, url: str, status: ExitStatus, message: str
) -> None:
    result = run_cli(["backup", "--source", url], env, secrets=[PASSWORD])
    assert result.status == status, result.stderr
    assert message in result.error_line
    assert result.stdout == ""
    assert bucket_keys(r2_clean) == []


def test_missing_database_uploads_nothing(
    pg_url: str, env: dict[str, str], r2_clean: R2Mock
) -> None:
    url = pg_url.rsplit("/", 1)[0] + "/no_such_db"
    result = run_cli(["backup", "--source", url], env)
    assert result.status == ExitStatus.NOT_FOUND
    assert 'database "no_such_db" does not exist' in result.error_line
    assert bucket_keys(r2_clean) == []


def fake_pg_dump(directory: Path, body: str) -> dict[str, str]:
    """A ``pg_dump`` first on PATH claiming version 99 (so find_tool picks it)."""
    directory.mkdir()
    script = directory / "pg_dump"
    script.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "--version" ]; then echo "pg_dump (PostgreSQL) 99.0"; exit 0; fi\n' + body
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return {"PATH": f"{directory}{os.pathsep}{os.environ['PATH']}"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            'echo "pg_dump: error: query failed: server closed the connection" >&2\n'
            "printf 'partial'\nexit 1\n",
            "pg_dump exited with status 1: pg_dump: error: query failed: server closed the "
            "connection; nothing was uploaded",
        ),
        ("exit 0\n", "the backup is only 20 bytes (an empty dump); nothing was uploaded"),
        (
            "head -c 100000 /dev/urandom\nexit 0\n",
            "pg_dump's output is not a tar archive",
        ),
    ],
)
def test_pg_dump_failure_uploads_nothing(
    source: str, env: dict[str, str], r2_clean: R2Mock, tmp_path: Path, body: str, message: str
) -> None:
    env = dict(env, **fake_pg_dump(tmp_path / "bin", body))
    result = run_cli(["backup", "--source", source], env)
    assert result.status == ExitStatus.BACKUP_FAILED, result.stderr
    assert message in result.error_line
    assert result.stdout == ""
    assert bucket_keys(r2_clean) == []


def test_real_command_no_traceback(env: dict[str, str], tmp_path: Path) -> None:
    runbook = Path(sys.executable).with_name("runbook")
    url = f"postgresql://vlvt:{PASSWORD}@127.0.0.1:{free_port()}/db"
    proc = subprocess.run(
        [str(runbook), "backup", "--source", url],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert proc.returncode == ExitStatus.UNREACHABLE
    assert proc.stdout == ""
    assert PASSWORD not in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("runbook: error: cannot connect to")
