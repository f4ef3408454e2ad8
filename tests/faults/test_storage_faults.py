"""R2 faults through the CLI: closing endpoints, bad credentials, missing things, Ctrl-C.

Stalled and half-answering endpoints: tests/faults/test_storage_stalls.py.
Each case: the documented exit code, exactly one error line and one hint line, no secret.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from runbook_helpers.errors import ExitStatus
from runbook_helpers.r2.naming import backup_key
from runbook_helpers.sandbox.r2 import R2Mock
from tests.support.cli_checks import assert_clean_failure
from tests.support.cli_runs import CliResult, interruptible, run_cli
from tests.support.r2_endpoints import COMMANDS, KEY, SECRET, command_id, with_endpoint
from tests.support.tcp_servers import misbehaving_server

FUTURE_KEY = "vlvt_backup_-2099-01-01T03-00-00-000Z.tar.gz"


@pytest.fixture
def env(r2_clean: R2Mock, sandbox_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return dict(sandbox_env, TMPDIR=str(tmp_path))


@pytest.mark.slow(seconds=3)
@pytest.mark.parametrize("argv", COMMANDS, ids=command_id)
def test_endpoint_closing_connections(argv: list[str], env: dict[str, str], tmp_path: Path) -> None:
    with misbehaving_server("close") as endpoint:
        result = run_cli(argv, dict(with_endpoint(env, tmp_path, endpoint), RUNBOOK_TIMEOUT="5"))
    assert_clean_failure(result, ExitStatus.UNREACHABLE, [SECRET], argv=argv)
    assert endpoint in result.error_line


def test_bad_timeout_setting_is_a_usage_error(env: dict[str, str]) -> None:
    result = run_cli(["backups", "list"], dict(env, RUNBOOK_TIMEOUT="soon"))
    assert_clean_failure(result, ExitStatus.USAGE, argv=["backups", "list"])
    assert "RUNBOOK_TIMEOUT" in result.error_line


@pytest.mark.parametrize("argv", COMMANDS, ids=command_id)
def test_wrong_credentials_exit_4(
    argv: list[str], env: dict[str, str], tmp_path: Path, r2_clean: R2Mock
) -> None:
    # the session R2 stand-in checks credentials
    result = run_cli(argv, with_endpoint(env, tmp_path, r2_clean.endpoint))
    assert_clean_failure(result, ExitStatus.ACCESS_DENIED, [SECRET], argv=argv)


@pytest.mark.parametrize("argv", COMMANDS, ids=command_id)
def test_missing_bucket_exit_3(argv: list[str], env: dict[str, str], r2_clean: R2Mock) -> None:
    # a gone bucket (a mistyped one is AccessDenied for a bucket-scoped token); the next
    # r2_clean creates it again
    r2_clean.client().delete_bucket(Bucket=r2_clean.bucket)
    result = run_cli(argv, env, secrets=[r2_clean.secret_access_key])
    assert_clean_failure(result, ExitStatus.NOT_FOUND, [r2_clean.secret_access_key], argv=argv)


@pytest.mark.parametrize("argv", COMMANDS, ids=command_id)
def test_missing_key_or_empty_bucket_exit_3(
    argv: list[str], env: dict[str, str], r2_clean: R2Mock
) -> None:
    result = run_cli(argv, env)
    assert_clean_failure(result, ExitStatus.NOT_FOUND, [r2_clean.secret_access_key], argv=argv)


def test_latest_among_more_than_1000_keys(env: dict[str, str], r2_clean: R2Mock) -> None:
    """ListObjectsV2 returns 1,000 keys a page: the newest sits on the second page."""
    s3 = r2_clean.client()
    start = datetime.now(UTC) - timedelta(hours=1100)
    keys = [backup_key(start + timedelta(hours=i)) for i in range(1050)]
    r2_clean.put_many(keys)
    s3.put_object(Bucket=r2_clean.bucket, Key=keys[-1] + ".sha256", Body=b"sidecar")
    s3.put_object(Bucket=r2_clean.bucket, Key=FUTURE_KEY, Body=b"x")
    result = run_cli(["backups", "latest"], env)
    assert result.stdout.strip() == f"s3://{r2_clean.bucket}/{keys[-1]}", result.stderr
    listed = run_cli(["backups", "list", "--json"], env)
    assert len(json.loads(listed.stdout)) == 1051  # every backup, no sidecar


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_while_waiting(sig: int, env: dict[str, str], tmp_path: Path) -> None:
    """Ctrl-C or ``kill`` while R2 does not answer: exit 130, one line + hint, nothing left."""
    asked = threading.Event()
    with misbehaving_server("stall", asked) as endpoint:
        env = with_endpoint(env, tmp_path, endpoint)
        argv = ["fetch", f"s3://vlvt-backups/{KEY}", "--to", str(tmp_path / "dl")]
        proc = subprocess.Popen(
            [sys.executable, "-m", "runbook_helpers", *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            preexec_fn=interruptible,
        )
        # signalled once it waits for R2's answer, not while a loaded machine still imports it
        assert asked.wait(60), "the command never sent its request"
        time.sleep(0.5)
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=30)
    result = CliResult(proc.returncode, stdout, stderr)
    assert_clean_failure(result, ExitStatus.INTERRUPTED, [SECRET], argv=argv)
    assert not list((tmp_path / "dl").glob("*"))
