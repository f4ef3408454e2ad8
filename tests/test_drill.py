"""``runbook drill``: the whole procedure end to end on the embedded sandbox."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import psycopg
import pytest

from runbook_helpers.produce.backup import BackupResult, create_backup
from runbook_helpers.produce.seed import SeedResult, seed
from runbook_helpers.sandbox import sandbox_environment
from runbook_helpers.sandbox.postgres import PostgresServer
from runbook_helpers.sandbox.r2 import R2Mock
from tests.support.cli_runs import run_cli
from tests.support.pg_dumps import written_archive_version


def _seeded_backup(
    pg_server: PostgresServer, r2: R2Mock, tmp_path: Path
) -> tuple[BackupResult, SeedResult]:
    """A backup in the bucket of a small seeded database that no longer exists on the server."""
    name = f"drill_src_{uuid.uuid4().hex[:8]}"
    src_url = pg_server.create_database(name)
    try:
        seeded = seed(src_url, scale=0.05, seed=3)
        backup = create_backup(src_url, r2.client(), r2.bucket, tmp_dir=tmp_path)
    finally:
        pg_server.drop_database(name)
    return backup, seeded


def _real_mode_env(sandbox_env: dict[str, str], target_url: str, r2: R2Mock) -> dict[str, str]:
    """The drill's real mode pointed at ``target_url`` and the sandbox bucket."""
    return {
        **sandbox_env,
        "RUNBOOK_DRILL_TARGET_URL": target_url,
        "AWS_PROFILE": r2.profile,
        "RUNBOOK_BUCKET": r2.bucket,
    }


@pytest.mark.slow(seconds=8)
def test_drill_end_to_end(tmp_path: Path) -> None:
    env = sandbox_environment(None, None)
    env["RUNBOOK_PG"] = os.environ.get("RUNBOOK_PG", "local")
    # in a directory that does not exist yet, as build/ in a fresh clone
    report = tmp_path / "build" / "r.json"
    res = run_cli(
        ["drill", "--scale", "0.2", "--report", str(report), "--workdir", str(tmp_path / "w")], env
    )
    assert res.status == 0, res.stdout + res.stderr
    data = json.loads(report.read_text())
    assert data["ok"] is True and data["within_target"] is True
    names = [s["name"] for s in data["steps"]]
    assert names == ["sandbox", "seed", "backup", "list", "fetch", "inspect", "restore", "verify"]
    assert all(s["ok"] for s in data["steps"])
    assert data["rows"]["public.messages"] == {"expected": 8000, "actual": 8000}
    # the drill's own server (RUNBOOK_PG) and its pg_dump decide the archive version
    dump_major = int(str(data["versions"]["pg_dump"]).split(".")[0])
    assert dump_major == int(data["versions"]["server"])
    assert data["versions"]["archive"] == written_archive_version(dump_major)
    assert data["sizes"]["archive_bytes"] > 0
    assert "drill OK" in res.stdout and "DEP-04" in res.stdout


def test_drill_real_mode_without_backups_stops_at_list(
    pg_url: str, sandbox_env: dict[str, str], tmp_path: Path, r2_clean: object
) -> None:
    """Real mode with an empty bucket stops at `list` (NotFound) and restores nothing."""
    env = {**sandbox_env, "RUNBOOK_DRILL_TARGET_URL": pg_url, "AWS_PROFILE": "r2-vlvt"}
    res = run_cli(["drill", "--report", str(tmp_path / "r.json")], env)
    assert res.status == 3, res.stdout + res.stderr
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["mode"] == "real" and data["ok"] is False
    assert [s["name"] for s in data["steps"]] == ["target", "list", "inspect", "restore", "verify"]
    assert [s["skipped"] for s in data["steps"]] == [False, False, True, True, True]


def test_drill_real_mode_refuses_a_non_empty_target_before_downloading(
    pg_server: PostgresServer,
    pg_url: str,
    sandbox_env: dict[str, str],
    tmp_path: Path,
    r2_clean: R2Mock,
) -> None:
    """A target holding a table is refused with exit 8 before the backup is listed or read."""
    backup, _ = _seeded_backup(pg_server, r2_clean, tmp_path)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("create table public.keep_me (id int)")
        conn.execute("insert into public.keep_me values (1)")
    env = _real_mode_env(sandbox_env, pg_url, r2_clean)
    workdir = tmp_path / "w"
    res = run_cli(["drill", "--report", str(tmp_path / "r.json"), "--workdir", str(workdir)], env)
    assert res.status == 8, res.stdout + res.stderr
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["mode"] == "real" and data["ok"] is False
    names = [s["name"] for s in data["steps"]]
    assert names == ["target", "list", "inspect", "restore", "verify"]
    first = data["steps"][0]
    assert first["status"] == 8 and "is not empty" in first["error"] and "keep_me" in first["error"]
    assert [s["skipped"] for s in data["steps"][1:]] == [True] * 4
    # nothing listed, fetched or restored: the backup was never looked at
    assert data["backup"] is None and data["sizes"] == {}
    assert list(workdir.iterdir()) == []
    assert r2_clean.client().head_object(Bucket=r2_clean.bucket, Key=backup.key)["ContentLength"]
    with psycopg.connect(pg_url) as conn:
        tables = conn.execute(
            "select tablename from pg_tables where schemaname = 'public'"
        ).fetchall()
    assert tables == [("keep_me",)]


def test_drill_real_mode_verifies_a_template_backup_by_its_archive(
    pg_server: PostgresServer,
    pg_url: str,
    sandbox_env: dict[str, str],
    tmp_path: Path,
    r2_clean: R2Mock,
) -> None:
    """A template backup has no manifest: the drill verifies against the archive's own rows."""
    backup, seeded = _seeded_backup(pg_server, r2_clean, tmp_path)
    for suffix in (".sha256", ".manifest.json"):  # as the Railway template writes it
        r2_clean.client().delete_object(Bucket=r2_clean.bucket, Key=backup.key + suffix)
    env = _real_mode_env(sandbox_env, pg_url, r2_clean)
    res = run_cli(["drill", "--report", str(tmp_path / "r.json")], env)
    assert res.status == 0, res.stdout + res.stderr
    data = json.loads((tmp_path / "r.json").read_text())
    verify_step = data["steps"][-1]
    assert verify_step["name"] == "verify" and verify_step["ok"]
    assert f"archive {backup.uri}" in verify_step["detail"]
    messages = seeded.rows["messages"]
    assert data["rows"]["public.messages"] == {"expected": messages, "actual": messages}
