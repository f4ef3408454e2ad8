"""pytest plugin: record when, where and with what the docs pages ran (for the site's stamps).

Registered in conftest.py. After a run that executed docs blocks (the engine has written its
ledger), writes ``docs-runinfo.json`` next to the ledger: the UTC date, the commit, the
PostgreSQL server and client-tool versions used, and the sandbox's own values (endpoint, host,
port, temporary directory) so the site can show stable, reader-facing values in their place.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from runbook_docs.plugin import STATE
from runbook_helpers.sandbox import SandboxError
from tests.fixtures.registry import sandbox_of

TOOLS = {  # name shown on the site -> command printing its version
    "pg_dump": ["pg_dump", "--version"],
    "pg_restore": ["pg_restore", "--version"],
    "aws-cli": ["aws", "--version"],
}


def _run(argv: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    try:
        done = subprocess.run(
            argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0] if done.returncode == 0 and lines else ""


def _version_word(line: str) -> str:
    """The first word starting with a digit: ``pg_dump (PostgreSQL) 15.14`` -> ``15.14``."""
    for word in line.replace("/", " ").split():
        if word[:1].isdigit():
            return word
    return line


def collect(root: Path) -> dict[str, object]:
    """Date, commit and the versions this session's docs pages ran with."""
    commit = _run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root)
    if commit and _run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root):
        commit += " (with local changes)"
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit,
        "versions": {},
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
    versions: dict[str, str] = {}
    sandbox_values: dict[str, str] = {}
    sandbox = sandbox_of(config)
    try:
        pg, r2 = sandbox.pg(), sandbox.r2()  # already started by the pages
    except SandboxError:  # a failed backend: the stamp then shows no server version
        pass
    else:
        with pg.connect() as conn:
            row = conn.execute("show server_version").fetchone()
        versions["PostgreSQL"] = str(row[0]).split()[0] if row else "?"
        path_env = None
        if pg.bin_dir is not None:
            path_env = {**os.environ, "PATH": f"{pg.bin_dir}{os.pathsep}{os.environ['PATH']}"}
        for name, argv in TOOLS.items():
            line = _run(argv, env=path_env)
            if line:
                versions[name] = _version_word(line)
        sandbox_values = {
            "ENDPOINT": r2.endpoint,
            "BUCKET": r2.bucket,
            "PGHOST": pg.host,
            "PGPORT": str(pg.port),
            "TMP": str(sandbox.base),
        }
    info["versions"], info["sandbox"] = versions, sandbox_values
    ledger = config.rootpath / str(config.getini("runbook_ledger"))
    ledger.parent.mkdir(parents=True, exist_ok=True)
    ledger.with_name("docs-runinfo.json").write_text(json.dumps(info, indent=2) + "\n")
