"""The helper installs as users install it (docs/setup.md): into a fresh virtual environment,
from this checkout, with pip (what ``pipx install`` and ``uv tool install`` do underneath), and
its ``runbook`` command runs there."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from runbook_helpers import __version__

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow(seconds=30)
def test_fresh_venv_install_runs_runbook(tmp_path: Path) -> None:
    # a copy of the checkout, so the build writes nothing into the worktree
    src = tmp_path / "src"
    shutil.copytree(
        ROOT,
        src,
        ignore=shutil.ignore_patterns(".git", "build", ".nox", "*.egg-info", "__pycache__", "site"),
    )
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True, clear=True)
    python = env_dir / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    # No .pyc at install time: pip's bytecode compilation is only a cache (it fails nothing),
    # and `runbook --version` below compiles what it imports. Saves seconds of CPU.
    env["PIP_NO_COMPILE"] = "1"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", str(src)],
        check=True,
        env=env,
        timeout=600,
    )
    result = subprocess.run(
        [str(env_dir / "bin" / "runbook"), "--version"],
        capture_output=True,
        text=True,
        env={**env, "PATH": f"{env_dir / 'bin'}:/usr/bin:/bin"},
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"runbook {__version__}"
    # it runs from the fresh venv, not from this checkout
    where = subprocess.run(
        [str(python), "-c", "import runbook_helpers; print(runbook_helpers.__file__)"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=True,
    ).stdout
    assert str(env_dir) in where and sys.prefix not in where
    # both packages are installed as typed (PEP 561), for mypy in users' code
    typed = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib.resources as r;"
            "print([r.files(p).joinpath('py.typed').is_file()"
            " for p in ('runbook_helpers', 'runbook_docs')])",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=True,
    ).stdout
    assert typed.strip() == "[True, True]"
