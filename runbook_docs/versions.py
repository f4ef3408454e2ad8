"""What a page ran with: its tools' versions, read in the page's own environment.

The ``runbook_versions`` ini lists ``NAME = command`` lines (e.g. ``pg_restore = pg_restore
--version``). After a page's last block, each command runs once with the environment the page's
shell had then (its ``PATH``, its ``PG*`` settings, its working directory), so the answer is the
tool the page's blocks found, or the server they reached; the first word of its output starting
with a digit is kept. The ledger stores the result per page; the site's stamp shows it.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

PROBE_TIMEOUT = 20.0


def parse_probes(lines: Sequence[str]) -> dict[str, list[str]]:
    """``NAME = command`` ini lines as NAME -> argv (blank lines and ``#`` lines ignored)."""
    probes: dict[str, list[str]] = {}
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, command = line.partition("=")
        if not sep or not name.strip() or not command.strip():
            raise ValueError(f"runbook_versions: expected 'NAME = command', got {line!r}")
        probes[name.strip()] = shlex.split(command)
    return probes


def version_word(line: str) -> str:
    """The first word starting with a digit: ``pg_dump (PostgreSQL) 15.14`` -> ``15.14``."""
    for word in line.replace("/", " ").split():
        if word[:1].isdigit():
            return word
    return line


def probe_versions(
    probes: Mapping[str, Sequence[str]], env: Mapping[str, str], cwd: Path
) -> dict[str, str]:
    """NAME -> version for each probe that answered (all started at once); failures are left out."""
    running: dict[str, subprocess.Popen[str]] = {}
    for name, argv in probes.items():
        try:
            running[name] = subprocess.Popen(
                list(argv),
                env=dict(env),
                cwd=cwd if cwd.is_dir() else None,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        except OSError:  # not on the page's PATH
            continue
    versions: dict[str, str] = {}
    for name, process in running.items():
        try:
            out, err = process.communicate(timeout=PROBE_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            continue
        lines = (out or err).strip().splitlines()
        if process.returncode == 0 and lines:
            versions[name] = version_word(lines[0])
    return versions
