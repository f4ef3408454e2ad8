"""A real full disk for ENOSPC tests: a tiny tmpfs mounted for one test (needs root)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest


@contextmanager
def small_disk(where: Path, kib: int) -> Iterator[Path]:
    """``where`` with a ``kib``-KiB tmpfs mounted on it; skips the test when mounting is refused."""
    where.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={kib}k", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"a full disk needs a small tmpfs, and mount was refused: {mounted.stderr}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


@dataclass(frozen=True)
class Run:
    status: int
    stdout: str
    stderr: str


def run_runbook(argv: list[str], env: Mapping[str, str], timeout: float = 120) -> Run:
    """``runbook ARGV`` in a fresh interpreter (so $TMPDIR is read anew), bounded in time."""
    proc = subprocess.run(
        [sys.executable, "-m", "runbook_helpers", *argv],
        capture_output=True,
        text=True,
        env=dict(env),
        timeout=timeout,
        check=False,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)
