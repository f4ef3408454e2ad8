"""R2 endpoints that stall or answer half a response, through the CLI: bounded waits.

Each case waits for a real timeout (``$RUNBOOK_TIMEOUT``, default 30 s), so these live apart
from tests/faults/test_storage_faults.py: ``--dist loadfile`` runs the two files side by side.
Each case: the documented exit code, exactly one error line and one hint line, no secret.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from runbook_helpers.errors import ExitStatus
from runbook_helpers.sandbox.r2 import R2Mock
from tests.support.cli_checks import assert_clean_failure
from tests.support.cli_runs import run_cli
from tests.support.r2_endpoints import COMMANDS, KEY, SECRET, command_id, with_endpoint
from tests.support.tcp_servers import misbehaving_server


@pytest.fixture
def env(r2_clean: R2Mock, sandbox_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return dict(sandbox_env, TMPDIR=str(tmp_path))


@pytest.mark.slow(seconds=40)
def test_stalled_endpoint_ends_within_a_minute_by_default(
    env: dict[str, str], tmp_path: Path
) -> None:
    with misbehaving_server("stall") as endpoint:
        started = time.monotonic()
        result = run_cli(["backups", "latest"], with_endpoint(env, tmp_path, endpoint))
        elapsed = time.monotonic() - started
    assert_clean_failure(result, ExitStatus.UNREACHABLE, [SECRET], argv=["backups", "latest"])
    assert elapsed < 60, elapsed
    assert f"no answer from {endpoint}" in result.error_line
    assert "RUNBOOK_TIMEOUT=SECONDS" in result.stderr  # the hint names the real setting
    retries = [ln for ln in result.stderr.splitlines() if "retrying" in ln]
    assert retries and retries[0].startswith("runbook: warning: no answer within"), result.stderr


@pytest.mark.slow(seconds=4)
@pytest.mark.parametrize("argv", COMMANDS, ids=command_id)
def test_stalled_endpoint_honours_runbook_timeout(
    argv: list[str], env: dict[str, str], tmp_path: Path
) -> None:
    with misbehaving_server("stall") as endpoint:
        started = time.monotonic()
        env = dict(with_endpoint(env, tmp_path, endpoint), RUNBOOK_TIMEOUT="3")
        result = run_cli(argv, env)
        elapsed = time.monotonic() - started
    assert_clean_failure(result, ExitStatus.UNREACHABLE, [SECRET], argv=argv)
    assert elapsed < 15, elapsed
    assert list(tmp_path.glob("*.part")) == [] and not (tmp_path / KEY).exists()


@pytest.mark.slow(seconds=4)
@pytest.mark.parametrize(  # presign only needs a HEAD, which this server answers in full
    "argv", [c for c in COMMANDS if c[0] != "presign"], ids=command_id
)
def test_endpoint_answering_half_a_response(
    argv: list[str], env: dict[str, str], tmp_path: Path
) -> None:
    """Headers and the first bytes, then silence: the read timeout ends it (also mid-body)."""
    with misbehaving_server("half") as endpoint:
        started = time.monotonic()
        result = run_cli(argv, dict(with_endpoint(env, tmp_path, endpoint), RUNBOOK_TIMEOUT="3"))
        elapsed = time.monotonic() - started
    assert_clean_failure(result, ExitStatus.UNREACHABLE, [SECRET], argv=argv)
    assert elapsed < 20, elapsed
    assert list(tmp_path.glob("*.part")) == [] and not (tmp_path / KEY).exists()
