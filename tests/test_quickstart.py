"""The README's quick start: two commands through pipx, run by .ci/run first, and working on a
python3 that is externally managed (PEP 668: Debian 12, Ubuntu 24.04, Homebrew)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEBIAN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def quickstart() -> list[str]:
    """The commands .ci/run runs: what .ci/quickstart reads out of README.md."""
    out = subprocess.run(
        [str(ROOT / ".ci" / "quickstart")], capture_output=True, text=True, check=True
    )
    return out.stdout.splitlines()


def test_the_quick_start_is_the_drill_then_the_tests_through_pipx() -> None:
    assert quickstart() == ["pipx run nox -s drill", "pipx run nox -s tests"]
    sessions = set(re.findall(r"^def (\w+)\(session", (ROOT / "noxfile.py").read_text(), re.M))
    assert {"drill", "tests"} <= sessions
    readme = (ROOT / "README.md").read_text()
    # the one prerequisite line installs pipx (apt on Debian/Ubuntu, brew on macOS)
    assert "\nsudo apt-get install pipx postgresql zsh libarchive-tools\n" in readme
    assert "`brew install pipx postgresql@16`" in readme
    quick = readme[readme.index("## Quick start") : readme.index("## What is here")]
    assert "pip install" not in quick.replace("Not `pip install nox`", "")


def test_ci_runs_the_quick_start_first_after_installing_pipx() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    assert "command -v pipx >/dev/null || need_apt+=(pipx)" in script
    first_nox = min(m.start() for m in re.finditer(r"nox -s ", script))
    assert script.index("mapfile -t quickstart < <(.ci/quickstart)") < first_nox
    assert 'bash -euo pipefail -c "$command"' in script
    assert "pip install" not in script  # nothing installed into the machine's python3


def _externally_managed_python() -> str | None:
    """A python3 that refuses ``pip install`` (PEP 668), as Debian 12's /usr/bin/python3."""
    for candidate in ("/usr/bin/python3", "/opt/homebrew/bin/python3", "/usr/local/bin/python3"):
        if not os.access(candidate, os.X_OK):
            continue
        probe = subprocess.run(
            [
                candidate,
                "-c",
                "import sys, sysconfig, pathlib; "
                "print(sys.prefix == sys.base_prefix and "
                "(pathlib.Path(sysconfig.get_path('stdlib')) / 'EXTERNALLY-MANAGED').exists())",
            ],
            capture_output=True,
            text=True,
        )
        if probe.stdout.strip() == "True":
            return candidate
    return None


@pytest.mark.slow(seconds=70)
def test_the_drill_command_works_with_an_externally_managed_python3(tmp_path: Path) -> None:
    python3 = _externally_managed_python()
    if python3 is None or shutil.which("pipx", path=DEBIAN_PATH) is None:
        pytest.skip(
            "needs an externally managed python3 (Debian 12's) and pipx (apt-get install pipx)"
        )
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "PIPX_"))
    }
    env |= {
        "PATH": f"{Path(python3).parent}:{DEBIAN_PATH}",
        "PIPX_HOME": str(tmp_path / "pipx"),
        "PIPX_DEFAULT_PYTHON": python3,
        # No .pyc written at install time (pipx's nox, nox's session venv): pip's bytecode
        # compilation is only a cache, it ignores a module that does not compile (so it can
        # fail nothing), and the drill's imports compile what it runs anyway. Saves ~1.5 s CPU.
        "PIP_NO_COMPILE": "1",
    }
    # the old quick start is refused there: that is what the README's pipx avoids
    refused = subprocess.run(
        ["python3", "-m", "pip", "install", "--dry-run", "nox"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert refused.returncode != 0 and "externally-managed-environment" in refused.stderr
    # a fresh clone: no build/, no .nox/
    clone = tmp_path / "clone"
    shutil.copytree(
        ROOT,
        clone,
        ignore=shutil.ignore_patterns(".git", "build", ".nox", "*.egg-info", "__pycache__", "site"),
    )
    drill = quickstart()[0]
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", drill],
        capture_output=True,
        text=True,
        env=env,
        cwd=clone,
        timeout=1200,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "drill OK" in result.stdout
    report = json.loads((clone / "build" / "drill-report.json").read_text())
    assert report["ok"] is True
