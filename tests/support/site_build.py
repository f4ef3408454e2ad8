"""The site built by mkdocs exactly as ``nox -s docs`` builds it, for the site tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def build_site(out: Path, env: Mapping[str, str] | None = None) -> Path:
    """``mkdocs build --strict`` into ``out`` with ``env`` (default: this process's)."""
    full = {**(os.environ if env is None else env), "PYTHONPATH": str(ROOT)}
    full["NO_MKDOCS_2_WARNING"] = "1"
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env=full,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return out
