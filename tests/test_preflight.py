"""``runbook preflight``: every prerequisite passes on a healthy sandbox, and each missing one
fails on its own line with its typed exit status (one test per prerequisite)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from runbook_helpers.checks.preflight import SIZE_RATIO, check_space, estimated_restored_bytes
from runbook_helpers.checks.preflight_checklist import Check, State
from runbook_helpers.errors import ExitStatus
from runbook_helpers.produce.seed import seed
from runbook_helpers.r2.backups import BackupObject
from runbook_helpers.r2.naming import backup_key
from runbook_helpers.sandbox.ports import free_port
from runbook_helpers.sandbox.postgres import PostgresServer, pgserver_bin_dir
from runbook_helpers.sandbox.r2 import R2Key, R2Mock, write_profiles
from tests.support.cli_runs import CliResult, run_cli

TEMPLATE_DUMP = 'pg_dump --dbname="$URL" --format=tar | gzip > "$OUT"'


@pytest.fixture(scope="module")
def source_db(pg_server: PostgresServer) -> Iterator[str]:
    """A small seeded database to back up (kept for the module)."""
    url = pg_server.create_database("preflight_source")
    seed(url, scale=0.05)
    yield url
    pg_server.drop_database("preflight_source")


def template_dump(env: dict[str, str], url: str, tmp: Path, bin_dir: Path | None = None) -> Path:
    """Back up ``url`` as the Railway template does (pg_dump from ``bin_dir`` when given)."""
    out = tmp / "b.tar.gz"
    path = f"{bin_dir}:{env['PATH']}" if bin_dir else env["PATH"]
    subprocess.run(
        ["bash", "-c", f"set -euo pipefail; {TEMPLATE_DUMP}"],
        env={**env, "PATH": path, "URL": url, "OUT": str(out)},
        check=True,
    )
    return out


def upload_template_backup(
    r2: R2Mock, env: dict[str, str], url: str, tmp: Path, *, pg_dump_dir: Path | None = None
) -> None:
    """A template backup of ``url``, uploaded under a template key (taken 2 h ago)."""
    out = template_dump(env, url, tmp, pg_dump_dir)
    key = backup_key(datetime.now(UTC) - timedelta(hours=2))
    r2.client().upload_file(str(out), r2.bucket, key)


@pytest.fixture
def env(r2_clean: R2Mock, sandbox_env: dict[str, str]) -> dict[str, str]:
    return {**sandbox_env, "AWS_PROFILE": r2_clean.profile, "RUNBOOK_BUCKET": r2_clean.bucket}


@pytest.fixture
def ready(r2_clean: R2Mock, env: dict[str, str], source_db: str, tmp_path: Path) -> dict[str, str]:
    """A bucket holding one template backup of ``source_db``."""
    upload_template_backup(r2_clean, env, source_db, tmp_path)
    return env


def write_profile(directory: Path, endpoint: str, key_id: str, secret: str) -> tuple[Path, Path]:
    """AWS config + credentials files with one ``r2-vlvt`` profile holding this key pair."""
    return write_profiles(directory, endpoint, {"r2-vlvt": R2Key(key_id, secret)})


def preflight(env: dict[str, str], target: str, *extra: str) -> CliResult:
    return run_cli(["preflight", "--target", target, *extra], env)


def lines(result: CliResult) -> dict[str, str]:
    """check name -> its checklist line."""
    found = {}
    for line in result.stdout.splitlines():
        parts = line.split()
        if parts and parts[0] in {"OK", "WARN", "FAIL"}:
            name = " ".join(parts[1:3]) if parts[1] == "R2" else parts[1]
            found[name] = line
    return found


def only_failure(result: CliResult, name: str) -> str:
    failing = [n for n, line in lines(result).items() if line.startswith("FAIL")]
    assert failing == [name], result.stdout + result.stderr
    assert f"runbook: error: 1 prerequisite(s) missing: {name}" in result.stderr
    return lines(result)[name]


def test_all_prerequisites_met(ready: dict[str, str], pg_server: PostgresServer) -> None:
    result = preflight(ready, pg_server.url("vlvt_restored"))
    assert result.status == 0, result.stdout + result.stderr
    checks = lines(result)
    assert list(checks) == [
        "R2 list",
        "R2 read",
        "R2 token",
        "tools",
        "psql",
        "aws",
        "target",
        "space",
        "duration",
    ]
    assert checks["R2 read"].startswith("OK") and "archive 1.1" in checks["R2 read"]
    assert (
        checks["tools"].startswith("OK") and "reads the newest backup's archive" in checks["tools"]
    )
    assert (
        checks["target"].startswith("OK") and "vlvt_restored does not exist yet" in checks["target"]
    )
    # a local server: free space is read from its data directory's volume
    assert (
        checks["space"].startswith("OK")
        and "free (on the data directory's volume)" in checks["space"]
    )
    assert "under 1 min" in checks["duration"]
    assert result.stdout.rstrip().endswith("warning(s))")


def test_no_backup_in_bucket(env: dict[str, str], pg_server: PostgresServer) -> None:
    result = preflight(env, pg_server.url("vlvt_restored"))
    assert result.status == ExitStatus.NOT_FOUND
    assert "no backups" in only_failure(result, "R2 list")


def test_wrong_bucket(ready: dict[str, str], pg_server: PostgresServer) -> None:
    # R2 tokens are scoped to their bucket: a mistyped bucket name is AccessDenied, not NoSuchBucket
    result = preflight(ready, pg_server.url("vlvt_restored"), "--bucket", "vlvt-backup")
    assert result.status == ExitStatus.ACCESS_DENIED
    assert "access denied" in only_failure(result, "R2 list")


def test_r2_unreachable(
    ready: dict[str, str], r2_clean: R2Mock, pg_server: PostgresServer, tmp_path: Path
) -> None:
    config, credentials = write_profile(
        tmp_path, f"http://127.0.0.1:{free_port()}", r2_clean.access_key_id, "x" * 40
    )
    env = {**ready, "AWS_CONFIG_FILE": str(config), "AWS_SHARED_CREDENTIALS_FILE": str(credentials)}
    result = preflight(env, pg_server.url("vlvt_restored"))
    assert result.status == ExitStatus.UNREACHABLE
    assert "cannot reach" in only_failure(result, "R2 list")


def test_pg_restore_older_than_the_archive(
    r2_clean: R2Mock, env: dict[str, str], source_db: str, tmp_path: Path, pg_server: PostgresServer
) -> None:
    if pg_server.server_version_num() >= 160000:
        pytest.skip("needs a server and client older than 16 (the Debian 15 backend)")
    upload_template_backup(r2_clean, env, source_db, tmp_path, pg_dump_dir=pgserver_bin_dir())
    result = preflight(env, pg_server.url("vlvt_restored"))
    assert result.status == ExitStatus.INCOMPATIBLE
    line = only_failure(result, "tools")
    assert "archive version 1.15 (pg_dump 16" in line and "needs pg_restore 16 or newer" in line
    assert "postgresql-client-16" in result.stdout  # the hint line names the client to install


def test_client_tools_not_on_path(
    ready: dict[str, str], pg_server: PostgresServer, tmp_path: Path
) -> None:
    result = preflight({**ready, "PATH": str(tmp_path)}, pg_server.url("vlvt_restored"))
    assert result.status == ExitStatus.NOT_FOUND
    assert "not on PATH: psql, createdb, gzip" in only_failure(result, "tools")


def test_target_unreachable(ready: dict[str, str]) -> None:
    result = preflight(ready, f"postgresql://postgres@127.0.0.1:{free_port()}/vlvt_restored")
    assert result.status == ExitStatus.UNREACHABLE
    assert "cannot connect to PostgreSQL" in only_failure(result, "target")


def test_production_host_without_flag(ready: dict[str, str]) -> None:
    result = preflight(ready, "postgresql://postgres@shortline.proxy.rlwy.net:41234/vlvt_restored")
    assert result.status == ExitStatus.UNSAFE_TARGET
    assert "looks like production" in only_failure(result, "target")
    assert "--production" in result.stdout


def test_target_database_not_empty(ready: dict[str, str], source_db: str) -> None:
    result = preflight(ready, source_db)
    assert result.status == ExitStatus.UNSAFE_TARGET
    assert "already exists and holds tables" in only_failure(result, "target")


def test_role_cannot_create_databases(ready: dict[str, str], pg_server: PostgresServer) -> None:
    with pg_server.connect() as conn:
        conn.autocommit = True
        conn.execute("drop role if exists preflight_nocreate")
        conn.execute("create role preflight_nocreate login")
    try:
        url = pg_server.url("vlvt_restored").replace("postgres@", "preflight_nocreate@", 1)
        if "preflight_nocreate@" not in url:
            pytest.skip(f"cannot rewrite the user in {pg_server.url()!r}")
        result = preflight(ready, url)
        assert result.status == ExitStatus.ACCESS_DENIED
        assert "may not create databases" in only_failure(result, "target")
    finally:
        with pg_server.connect() as conn:
            conn.autocommit = True
            conn.execute("drop role preflight_nocreate")


def test_not_enough_space(ready: dict[str, str], pg_server: PostgresServer) -> None:
    result = preflight(ready, pg_server.url("vlvt_restored"), "--free", "1M")
    assert result.status == ExitStatus.NO_SPACE
    assert "only 1.0 MiB free (as given)" in only_failure(result, "space")


def test_free_space_unknown_is_a_warning_not_a_guess() -> None:
    backup = BackupObject("k", datetime.now(UTC), 10 * 1024**2, datetime.now(UTC))
    check = check_space(State(backup=backup, max_wal_bytes=1024**3), None)
    assert check == Check(
        "space",
        "WARN",
        "need about 1.1 GiB (7 x 10.0 MiB backup, + max_wal_size 1.0 GiB); free space on the "
        "server's volume: unknown (PostgreSQL does not report it)",
        check.hint,
    )
    assert estimated_restored_bytes(100, 10_000) == 10_000
    assert estimated_restored_bytes(100, None) == SIZE_RATIO * 100


def scoped_env(
    r2: R2Mock,
    sandbox_env: dict[str, str],
    source_db: str,
    tmp_path: Path,
    key: R2Key,
) -> dict[str, str]:
    """A template backup in the bucket; the environment of a ``r2-vlvt`` profile holding ``key``.

    The R2 stand-in checks credentials and scopes as R2 does (read, write, other-bucket tokens).
    """
    upload_template_backup(r2, sandbox_env, source_db, tmp_path)
    config, credentials = write_profile(
        tmp_path, r2.endpoint, key.access_key_id, key.secret_access_key
    )
    return {
        **sandbox_env,
        "AWS_CONFIG_FILE": str(config),
        "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
        "AWS_PROFILE": "r2-vlvt",
        "RUNBOOK_BUCKET": r2.bucket,
    }


@pytest.mark.parametrize(
    ("token", "status", "text"),
    [
        ("reader", "OK", "read-only: a write was refused (AccessDenied)"),
        ("writer", "WARN", "this token can also write to vlvt-backups (nothing was written)"),
    ],
)
def test_token_scope_with_checked_credentials(
    r2_clean: R2Mock,
    sandbox_env: dict[str, str],
    source_db: str,
    pg_server: PostgresServer,
    tmp_path: Path,
    token: str,
    status: str,
    text: str,
) -> None:
    key = {"reader": r2_clean.read_key, "writer": r2_clean.write_key}[token]
    env = scoped_env(r2_clean, sandbox_env, source_db, tmp_path, key)
    result = run_cli(["preflight", "--target", pg_server.url("vlvt_restored")], env)
    assert result.status == 0, result.stdout + result.stderr
    assert lines(result)["R2 token"] == f"{status:<5} R2 token  {text}"
    probe = r2_clean.client().list_objects_v2(Bucket="vlvt-backups", Prefix="runbook-preflight")
    assert probe.get("KeyCount") == 0  # nothing was written by the probe


@pytest.mark.parametrize(
    ("token", "failing", "status", "text"),
    [
        ("other-bucket", "R2 list", ExitStatus.ACCESS_DENIED, "access denied"),
        ("stranger", "R2 list", ExitStatus.ACCESS_DENIED, "InvalidAccessKeyId"),
    ],
)
def test_r2_access_denied(
    r2_clean: R2Mock,
    sandbox_env: dict[str, str],
    source_db: str,
    pg_server: PostgresServer,
    tmp_path: Path,
    token: str,
    failing: str,
    status: ExitStatus,
    text: str,
) -> None:
    keys = {"other-bucket": r2_clean.other_key, "stranger": R2Key("AKIANOBODYNOBODY0000", "n" * 40)}
    env = scoped_env(r2_clean, sandbox_env, source_db, tmp_path, keys[token])
    result = preflight(env, pg_server.url("vlvt_restored"))
    assert result.status == status
    assert text in only_failure(result, failing)
