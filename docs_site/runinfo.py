"""pytest plugin: record when, where and with what the docs pages ran (for the site's stamps).

Registered in conftest.py. After a run that executed docs blocks (the engine has written its
ledger), writes ``docs-runinfo.json`` next to the ledger: the UTC date, the commit, the
PostgreSQL server and client-tool versions used, and the sandbox's own values (endpoint, host,
port, temporary directory) so the site can show stable, reader-facing values in their place.
"""

from __future__ import annotations

import json
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from runbook_docs.plugin import STATE
from runbook_helpers.sandbox import SandboxError
from tests.fixtures.registry import sandbox_of


def _run(argv: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    try:
        done = subprocess.run(
            argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0] if done.returncode == 0 and lines else ""


def collect(root: Path) -> dict[str, object]:
    """Date and commit of this session's docs run."""
    commit = _run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root)
    if commit and _run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root):
        commit += " (with local changes)"
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit,
        "sandbox": {},
        "python": platform.python_version(),
    }


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    state = config.stash.get(STATE, None)
    if state is None or not any(
        e.status in ("passed", "failed", "hidden") for e in state.ledger.entries.values()
    ):
        return  # no docs block ran: keep the last docs run's info, like the ledger
    info = collect(config.rootpath)
    sandbox_values: dict[str, str] = {}
    sandbox = sandbox_of(config)
    try:
        pg, r2 = sandbox.pg(), sandbox.r2()  # already started by the pages
    except SandboxError:  # a failed backend: no sandbox values to hide
        pass
    else:
        sandbox_values = {
            "ENDPOINT": r2.endpoint,
            "BUCKET": r2.bucket,
            "PGHOST": pg.host,
            "PGPORT": str(pg.port),
            "TMP": str(sandbox.base),
        }
    info["sandbox"] = sandbox_values
    ledger = config.rootpath / str(config.getini("runbook_ledger"))
    ledger.parent.mkdir(parents=True, exist_ok=True)
    ledger.with_name("docs-runinfo.json").write_text(json.dumps(info, indent=2) + "\n")
