"""The library's import layers ([tool.importlinter] in pyproject.toml) are enforced, and bite.

``nox -s lint`` runs ``lint-imports`` on the real tree; here it runs on a copy of the library
with one upward import added, and must fail naming it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(
    not LINT_IMPORTS.exists(), reason="import-linter (the lint extra) is not installed"
)


def lint_copy(tmp_path: Path, module: str | None, line: str) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` on a copy of the library, ``line`` prepended to ``module`` (if any)."""
    shutil.copytree(
        ROOT / "runbook_helpers",
        tmp_path / "runbook_helpers",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    if module is not None:
        path = tmp_path / "runbook_helpers" / module
        path.write_text(line + "\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_copy_keeps_the_contract(tmp_path: Path) -> None:
    result = lint_copy(tmp_path, None, "")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


@pytest.mark.parametrize("module", ["archive/stream.py", "archive/__init__.py"])
def test_archive_importing_the_cli_fails_lint(tmp_path: Path, module: str) -> None:
    result = lint_copy(tmp_path, module, "from runbook_helpers.cli import main  # noqa")
    assert result.returncode != 0
    assert "BROKEN" in result.stdout
    assert "runbook_helpers.archive is not allowed to import runbook_helpers.cli" in result.stdout
