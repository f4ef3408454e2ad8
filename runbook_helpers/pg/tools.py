"""Locate the PostgreSQL client programs and read their versions."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from runbook_helpers.errors import NotFound

# Where distributions install versioned PostgreSQL binaries (Debian/Ubuntu, RHEL, Homebrew).
VERSIONED_BIN_GLOBS: tuple[str, ...] = (
    "/usr/lib/postgresql/*/bin",
    "/usr/pgsql-*/bin",
    "/opt/homebrew/opt/postgresql@*/bin",
    "/usr/local/opt/postgresql@*/bin",
)

_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")


def tool_version(path: Path | str) -> tuple[int, int]:
    """``(major, minor)`` from ``<tool> --version``, e.g. ``pg_restore (PostgreSQL) 15.18``."""
    text = subprocess.run(
        [str(path), "--version"], capture_output=True, text=True, check=True
    ).stdout
    match = _VERSION.search(text)
    if not match:
        raise NotFound(f"could not read the version of {path}: {text.strip()!r}")
    return int(match.group(1)), int(match.group(2) or 0)


def candidate_bin_dirs() -> list[Path]:
    """Versioned install dirs found on this machine, newest major first."""
    found: list[tuple[int, Path]] = []
    for pattern in VERSIONED_BIN_GLOBS:
        for bin_dir in Path("/").glob(pattern.lstrip("/")):
            digits = re.search(r"(\d+)", bin_dir.as_posix().rsplit("/", 2)[-2])
            if digits and bin_dir.is_dir():
                found.append((int(digits.group(1)), bin_dir))
    return [path for _, path in sorted(found, reverse=True)]


def find_tool(name: str, *, min_major: int | None = None) -> Path:
    """The ``name`` program to use: PATH first, then versioned install dirs.

    With ``min_major``, the first one whose major version is at least that is returned
    (pg_dump must be at least the server's version; pg_restore at least the archive's).
    """
    tried: list[str] = []
    candidates: list[Path] = []
    on_path = shutil.which(name)
    if on_path:
        candidates.append(Path(on_path))
    candidates += [d / name for d in candidate_bin_dirs() if (d / name).exists()]
    for path in candidates:
        if min_major is None:
            return path
        major, _ = tool_version(path)
        tried.append(f"{path} ({major})")
        if major >= min_major:
            return path
    need = f" version {min_major} or newer" if min_major else ""
    looked = ", ".join(tried) if tried else os.environ.get("PATH", "")
    raise NotFound(
        f"no {name}{need} found (looked at: {looked})",
        hint=f"install the PostgreSQL {min_major or ''} client tools "
        f"(Debian/Ubuntu: apt-get install postgresql-client-{min_major or 'NN'}; "
        "macOS: brew install postgresql@NN) and put its bin directory first on PATH",
    )
