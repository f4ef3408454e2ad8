"""``runbook restore-test`` against the sandbox: the four nights a restore test must tell apart.

A good backup passes; a backup whose tar was cut before gzip (the template's pipeline has no
``pipefail``: gzip exits 0 and writes a valid .gz) fails its integrity step with 6 (pg_restore
would spin forever on it); a backup much smaller than
the previous ones is restored but fails with 11; an empty bucket fails with 3. In every case
the scratch database is gone afterwards and the summary says what happened, verdict first.
"""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import tarfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from runbook_helpers.archive.tar_check import check_tar_complete
from runbook_helpers.errors import IntegrityError
from runbook_helpers.produce.backup import create_backup
from runbook_helpers.produce.seed import seed
from runbook_helpers.r2.naming import backup_key
from runbook_helpers.sandbox.postgres import PostgresServer
from runbook_helpers.sandbox.r2 import R2Mock
from tests.support.cli_runs import CliResult, run_cli


@pytest.fixture
def source_url(pg_server: PostgresServer) -> Iterator[str]:
    """A small seeded VLVT-like database to back up."""
    name = f"rt_src_{uuid.uuid4().hex[:8]}"
    url = pg_server.create_database(name)
    try:
        seed(url, scale=0.05, seed=7)
        yield url
    finally:
        pg_server.drop_database(name)


def _backup(url: str, r2: R2Mock, tmp: Path, hours_ago: float) -> str:
    """A backup as the template writes it (no sidecars), taken ``hours_ago``."""
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=hours_ago)  # not at import
    result = create_backup(url, r2.client(), r2.bucket, tmp_dir=tmp, at=at)
    for suffix in (".sha256", ".manifest.json"):
        r2.client().delete_object(Bucket=r2.bucket, Key=result.key + suffix)
    return result.key


def _restore_test(
    env: dict[str, str], r2: R2Mock, scratch: str, tmp: Path, *extra: str
) -> tuple[CliResult, dict[str, object], str]:
    env = {**env, "AWS_PROFILE": r2.profile, "RUNBOOK_BUCKET": r2.bucket}
    run_dir = tmp / f"run-{uuid.uuid4().hex[:6]}"
    run_dir.mkdir()
    report, summary = run_dir / "report.json", run_dir / "summary.md"
    argv = ["restore-test", "--scratch-url", scratch, "--report", str(report)]
    res = run_cli([*argv, "--summary", str(summary), *extra], env, secrets=[r2.secret_access_key])
    assert summary.read_text() == res.stdout  # the same summary on screen and in the file
    return res, json.loads(report.read_text()), res.stdout


def _scratch_databases(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select datname from pg_database where datname like 'vlvt_restore_test_%'"
        ).fetchall()
    return [r[0] for r in rows]


def _steps(data: dict[str, object]) -> dict[str, dict[str, object]]:
    steps = data["steps"]
    assert isinstance(steps, list)
    return {s["name"]: s for s in steps}


def test_a_good_backup_passes_and_the_scratch_database_is_dropped(
    source_url: str, pg_url: str, sandbox_env: dict[str, str], r2_clean: R2Mock, tmp_path: Path
) -> None:
    _backup(source_url, r2_clean, tmp_path, hours_ago=25)
    key = _backup(source_url, r2_clean, tmp_path, hours_ago=1)
    timings = tmp_path / "timings.csv"
    res, data, summary = _restore_test(
        sandbox_env, r2_clean, pg_url, tmp_path, "--timings", str(timings)
    )
    assert res.status == 0, res.stdout + res.stderr
    assert summary.splitlines()[0] == "## Restore test: PASS (exit 0)"
    header, row = timings.read_text().splitlines()
    assert header.startswith("date,backup,archive_bytes,scratch,freshness,integrity,list,")
    assert row.startswith(f"{datetime.now(UTC):%Y-%m-%d},{key.rsplit('/', 1)[-1]},")
    assert row.endswith(",PASS")
    assert data["verdict"] == "PASS" and data["ok"] is True and data["flags"] == []
    steps = _steps(data)
    assert list(steps) == [
        "scratch",
        "freshness",
        "integrity",
        "list",
        "inspect",
        "restore",
        "verify",
    ]
    assert all(s["ok"] for s in steps.values())
    assert data["backup"] == f"s3://{r2_clean.bucket}/{key}"
    rows = data["rows"]
    assert (
        isinstance(rows, dict)
        and rows["public.users"]["expected"] == rows["public.users"]["actual"] > 0
    )
    assert data["scratch"]["dropped"] is True and _scratch_databases(pg_url) == []
    assert "| verify |" in summary and "of the 3600 s budget" in summary


def test_a_truncated_dump_in_a_valid_gzip_fails_at_restore(
    source_url: str,
    pg_server: PostgresServer,
    pg_url: str,
    sandbox_env: dict[str, str],
    r2_clean: R2Mock,
    tmp_path: Path,
) -> None:
    """pg_dump's tar cut in the middle, then gzip'd completely: the gzip check cannot see it."""
    dump = _pg_dump_tar(source_url, sandbox_env)
    cut = gzip.compress(dump[: len(dump) // 2])
    gzip.decompress(cut)  # a complete, valid gzip stream
    key = backup_key(datetime.now(UTC) - timedelta(hours=1))
    r2_clean.client().put_object(Bucket=r2_clean.bucket, Key=key, Body=cut)
    res, data, summary = _restore_test(sandbox_env, r2_clean, pg_url, tmp_path)
    assert res.status == 6, res.stdout + res.stderr
    assert summary.startswith("## Restore test: FAIL (exit 6)")
    steps = _steps(data)
    assert steps["integrity"]["status"] == 6 and "is truncated" in str(steps["integrity"]["error"])
    assert all(steps[name]["skipped"] for name in ("list", "inspect", "restore", "verify"))
    assert "| integrity |" in summary and "hint: the dump was cut before it ended" in summary
    assert "troubleshooting.md#error-messages-and-what-to-do" in summary
    assert data["scratch"]["dropped"] is True and _scratch_databases(pg_url) == []


def _pg_dump_tar(url: str, env: dict[str, str]) -> bytes:
    cmd = ["pg_dump", f"--dbname={url}", "--format=tar"]
    return subprocess.run(cmd, check=True, capture_output=True, env=env).stdout


@pytest.mark.parametrize("cut", ["none", "mid-member", "member-boundary", "trailer"])
def test_check_tar_complete_finds_every_cut(
    source_url: str, sandbox_env: dict[str, str], tmp_path: Path, cut: str
) -> None:
    """A whole pg_dump tar passes; cut anywhere (even between members) it is IntegrityError."""
    dump = _pg_dump_tar(source_url, sandbox_env)
    with tarfile.open(fileobj=io.BytesIO(dump)) as tar:
        members = tar.getmembers()
    ends = {
        "none": len(dump),
        "mid-member": members[2].offset_data + members[2].size // 2,
        "member-boundary": members[-1].offset,  # everything but restore.sql
        "trailer": members[-1].offset_data + members[-1].size,  # restore.sql, no end marker
    }
    path = tmp_path / "backup.tar.gz"
    path.write_bytes(gzip.compress(dump[: ends[cut]]))
    if cut == "none":
        summary = check_tar_complete(str(path))
        assert summary.checked and summary.members == len(members)
        assert summary.data_bytes == sum(m.size for m in members)
    else:
        with pytest.raises(IntegrityError, match="truncated"):
            check_tar_complete(str(path))


def test_a_much_smaller_backup_is_restored_but_fails_with_11(
    source_url: str, pg_url: str, sandbox_env: dict[str, str], r2_clean: R2Mock, tmp_path: Path
) -> None:
    _backup(source_url, r2_clean, tmp_path, hours_ago=49)
    _backup(source_url, r2_clean, tmp_path, hours_ago=25)
    with psycopg.connect(source_url, autocommit=True) as conn:  # a night that lost most rows
        conn.execute("truncate messages, matches, profiles, users cascade")
    _backup(source_url, r2_clean, tmp_path, hours_ago=1)
    res, data, summary = _restore_test(sandbox_env, r2_clean, pg_url, tmp_path)
    assert res.status == 11, res.stdout + res.stderr
    assert summary.startswith("## Restore test: FAIL (exit 11)")
    assert [f["kind"] for f in data["flags"]] == ["small-backup"]
    assert "**FAIL** small-backup: newest backup is" in summary
    assert all(s["ok"] for s in _steps(data).values())  # restored and verified all the same
    assert _scratch_databases(pg_url) == []


def test_a_backup_older_than_25_hours_is_restored_but_fails_with_11(
    source_url: str, pg_url: str, sandbox_env: dict[str, str], r2_clean: R2Mock, tmp_path: Path
) -> None:
    """The backup service stopped: the last backup still restores, but the night failed."""
    _backup(source_url, r2_clean, tmp_path, hours_ago=30)
    res, data, summary = _restore_test(sandbox_env, r2_clean, pg_url, tmp_path)
    assert res.status == 11, res.stdout + res.stderr
    assert [f["kind"] for f in data["flags"]] == ["old-backup"]
    assert "**FAIL** old-backup: newest backup is 30.0 h old (max 25.0 h)" in summary
    assert all(s["ok"] for s in _steps(data).values())


def test_no_backup_fails_with_3_and_drops_the_scratch_database(
    pg_url: str, sandbox_env: dict[str, str], r2_clean: R2Mock, tmp_path: Path
) -> None:
    res, data, summary = _restore_test(sandbox_env, r2_clean, pg_url, tmp_path)
    assert res.status == 3, res.stdout + res.stderr
    assert summary.startswith("## Restore test: FAIL (exit 3)")
    steps = _steps(data)
    assert steps["freshness"]["status"] == 3 and "no backups" in str(steps["freshness"]["error"])
    assert [s["skipped"] for s in steps.values()] == [False, False, True, True, True, True, True]
    assert "| freshness |" in summary and "[troubleshooting](docs/troubleshooting.md#" in summary
    assert data["scratch"]["dropped"] is True and _scratch_databases(pg_url) == []


def test_history_flags_a_much_slower_restore(
    source_url: str, pg_url: str, sandbox_env: dict[str, str], r2_clean: R2Mock, tmp_path: Path
) -> None:
    """Earlier reports in a history directory: a restore far slower than theirs is a warning."""
    _backup(source_url, r2_clean, tmp_path, hours_ago=1)
    history = tmp_path / "history"
    first, data, _ = _restore_test(
        sandbox_env, r2_clean, pg_url, tmp_path, "--history", str(history)
    )
    assert first.status == 0 and data["history"] == {"previous_reports": 0}
    (saved,) = history.glob("restore-test-*.json")
    earlier = json.loads(saved.read_text())
    for step in earlier["steps"]:  # that night restored 1000 times faster
        step["seconds"] = step["seconds"] / 1000
    saved.write_text(json.dumps(earlier))
    res, data, summary = _restore_test(
        sandbox_env, r2_clean, pg_url, tmp_path, "--history", str(history)
    )
    assert res.status == 0, res.stdout + res.stderr
    assert summary.splitlines()[0] == "## Restore test: PASS with warnings (exit 0)"
    assert [f["kind"] for f in data["flags"]] == ["slow-restore"]
    assert data["history"]["previous_reports"] == 1


def test_a_production_scratch_server_is_refused(
    sandbox_env: dict[str, str], r2_clean: R2Mock, tmp_path: Path
) -> None:
    url = "postgresql://postgres:secret@db.proxy.rlwy.net:5432/railway"
    res = run_cli(
        ["restore-test", "--scratch-url", url],
        {**sandbox_env, "AWS_PROFILE": r2_clean.profile},
        secrets=["secret"],
    )
    assert res.status == 8, res.stdout + res.stderr
    assert res.stdout.startswith("## Restore test: FAIL (exit 8)")
    assert "` not created." in res.stdout and "looks like production" in res.stdout
    assert "hint: point --scratch-url (or $RUNBOOK_SCRATCH_URL) at a scratch server" in res.stdout
    assert "--production" not in res.stdout  # restore's flag: not an option of restore-test


def test_without_a_scratch_server_it_is_a_usage_error(sandbox_env: dict[str, str]) -> None:
    env = {k: v for k, v in sandbox_env.items() if k != "RUNBOOK_SCRATCH_URL"}
    res = run_cli(["restore-test"], env)
    assert res.status == 2
    assert res.error_line == "runbook: error: no scratch database server given"


def test_history_in_the_bucket_needs_a_writer_profile_and_keeps_reports(
    source_url: str, pg_url: str, sandbox_env: dict[str, str], r2_clean: R2Mock, tmp_path: Path
) -> None:
    _backup(source_url, r2_clean, tmp_path, hours_ago=1)
    where = f"s3://{r2_clean.bucket}/restore-tests"
    env = {**sandbox_env, "AWS_PROFILE": r2_clean.profile, "RUNBOOK_BUCKET": r2_clean.bucket}
    refused = run_cli(["restore-test", "--scratch-url", pg_url, "--history", where], env)
    assert refused.status == 2 and "needs a profile that may write" in refused.error_line
    assert _scratch_databases(pg_url) == []  # refused before anything was created
    # The writer profile as docs/backups.md has the reader create it (the strict R2 stand-in's
    # r2-vlvt is read-only); a stand-in without a separate writer key uses its one profile.
    writer_env = getattr(r2_clean, "writer_env", None)
    if writer_env is not None:
        env = {**sandbox_env, **writer_env(tmp_path / "aws")}
        writer = r2_clean.write_profile
    else:
        env, writer = sandbox_env, r2_clean.profile
    extra = ("--history", where, "--history-profile", writer)
    for previous in (0, 1):
        res, data, _ = _restore_test(env, r2_clean, pg_url, tmp_path, *extra)
        assert res.status == 0, res.stdout + res.stderr
        assert data["history"]["previous_reports"] == previous
    listed = r2_clean.client().list_objects_v2(Bucket=r2_clean.bucket, Prefix="restore-tests/")
    keys = [o["Key"] for o in listed["Contents"]]
    assert len(keys) == 2 and all(k.startswith("restore-tests/restore-test-") for k in keys)


def test_keep_leaves_the_restored_scratch_database_for_a_post_mortem(
    source_url: str,
    pg_server: PostgresServer,
    pg_url: str,
    sandbox_env: dict[str, str],
    r2_clean: R2Mock,
    tmp_path: Path,
) -> None:
    _backup(source_url, r2_clean, tmp_path, hours_ago=1)
    res, data, summary = _restore_test(sandbox_env, r2_clean, pg_url, tmp_path, "--keep")
    assert res.status == 0, res.stdout + res.stderr
    name = data["scratch"]["database"]
    try:
        assert _scratch_databases(pg_url) == [name]
        assert f"`{name}` kept (--keep): drop it when done." in summary
        with psycopg.connect(pg_server.url(name)) as conn:
            (users,) = conn.execute("select count(*) from users").fetchone() or (0,)
        assert users == data["rows"]["public.users"]["actual"] > 0
    finally:
        pg_server.drop_database(name)
