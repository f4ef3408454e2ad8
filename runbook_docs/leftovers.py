"""What a page left behind: the files in its work dir and home, the databases on its server.

The reader's terminal run of a page (``reader``) must leave the same things as the suite's run:
a line that a reader's zsh takes differently (``rm -rf x   # the backup`` without
``INTERACTIVE_COMMENTS``) may exit 0 and print nothing, yet delete or create files. After a
page's last block, ``record_leftovers`` lists, in the environment the page's shell ended with:

- every path under the page's work dir (``work/...``) and under its own ``HOME`` (``~/...``),
  with its type (not its size or content: dumps carry timestamps; a timestamp in a name reads
  ``<time>``). The process's own ``HOME``
  (a page run without a fixtures plugin) is the developer's, and is never walked;
- when that environment names a server (``PGHOST`` or ``PGSERVICE``), its non-template databases
  with their tables (a timestamp in a name reads ``<time>`` here too). Each page environment
  starts from a server reset to its session baseline (the fixtures drop what an earlier run
  created), so the two runs' listings compare as they are.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PSQL_TIMEOUT = 20.0

# Names never compared, anywhere under the walked dirs: each is written by a tool for itself,
# differently per shell or per run, and says nothing about what the page's commands did.
IGNORED = frozenset(
    {
        ".bash_history",  # bash -i writes its history on exit; the suite's bash has none
        ".zsh_history",  # likewise zsh's, where a HISTFILE points into the home
        ".psql_history",  # psql's, written only by an interactive psql session
        ".python_history",  # the Python REPL's
        ".lesshst",  # less's search history
        "__pycache__",  # Python's bytecode cache, written or not by each interpreter run
        ".cache",  # tools' own caches (pip, uv): their entries depend on what was cached before
    }
)

# A timestamp in a name says when a file or database was made, not what made it (the
# restore-test history's ``restore-test-20261207T123223.646707Z.json``, a backup key's
# ``2026-12-07T12-32-23-646Z``, bad-migration.md's ``railway_broken_20261207_1236``): both
# runs' names read ``<time>`` there.
TIMESTAMP = re.compile(
    r"\d{8}[T_]\d{4}(?:\d{2})?(?:\.\d+)?Z?"
    r"|\d{4}-\d{2}-\d{2}(?:T\d{2}[-:]\d{2}[-:]\d{2}(?:[-.:]\d+)?Z?)?"
)

_DATABASES = "SELECT datname FROM pg_database WHERE NOT datistemplate AND datallowconn ORDER BY 1"
_TABLES = (
    "SELECT schemaname || '.' || tablename FROM pg_tables "
    "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"
)


@dataclass(frozen=True)
class Leftovers:
    """Sorted entries: ``work/a (file)``, ``~/x (dir)``, ``database railway: public.t`` (an
    entry appears as often as there are paths with that name once timestamps are ``<time>``)."""

    entries: tuple[str, ...]


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISDIR(mode):
        return "dir"
    return "file" if stat.S_ISREG(mode) else "other"


def list_files(root: Path, label: str) -> list[str]:
    """``label/relative (type)`` for every path under ``root`` (symlinks are not followed)."""
    found: list[str] = []
    if not root.is_dir():
        return found
    for top, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in IGNORED)
        for name in [*dirs, *files]:
            if name in IGNORED:
                continue
            path = Path(top, name)
            try:
                kind = _kind(path.lstat().st_mode)
            except OSError:  # gone while walking
                continue
            relative = TIMESTAMP.sub("<time>", path.relative_to(root).as_posix())
            found.append(f"{label}/{relative} ({kind})")
    return found


def _psql(env: Mapping[str, str], cwd: Path, sql: str, database: str | None) -> list[str] | None:
    """The rows of ``sql`` (``psql -X -At`` with the page's env), or None if it failed."""
    run_env = {**env, "PGCONNECT_TIMEOUT": env.get("PGCONNECT_TIMEOUT", "5")}
    if database is not None:
        run_env["PGDATABASE"] = database
    psql = shutil.which("psql", path=env.get("PATH"))
    if psql is None:
        return None
    try:
        done = subprocess.run(
            [psql, "-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
            env=run_env,
            cwd=cwd if cwd.is_dir() else None,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=PSQL_TIMEOUT,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.splitlines() if done.returncode == 0 else None


def list_databases(env: Mapping[str, str], cwd: Path) -> list[str]:
    """``database NAME: schema.table, ...`` per database on the env's server (none if no server)."""
    if not (env.get("PGHOST") or env.get("PGSERVICE")):
        return []
    names = _psql(env, cwd, _DATABASES, None)
    if names is None:
        return ["(the page's server did not answer)"]
    entries = []
    for name in names:
        tables = _psql(env, cwd, _TABLES, name)
        listed = ", ".join(tables) if tables is not None else "(tables not readable)"
        shown = TIMESTAMP.sub("<time>", name)
        entries.append(f"database {shown}: {listed}" if listed else f"database {shown}")
    return entries


def record_leftovers(env: Mapping[str, str], work: Path) -> Leftovers:
    """What the page left: files under ``work`` and its own ``HOME``, its server's databases."""
    entries = list_files(work, "work")
    home = env.get("HOME")
    if home and home != os.environ.get("HOME") and Path(home).resolve() != work.resolve():
        entries += list_files(Path(home), "~")
    entries += list_databases(env, work)
    return Leftovers(tuple(sorted(entries)))


def leftover_differences(suite: Leftovers, reader: Leftovers, shell: str) -> list[str]:
    """One line per direction that differs; empty when both runs left the same things."""
    ours, theirs = Counter(suite.entries), Counter(reader.entries)
    lines = []
    if only := sorted((ours - theirs).elements()):
        lines.append(f"left behind in the suite's run but not in the reader's {shell}: ")
        lines[-1] += ", ".join(only)
    if only := sorted((theirs - ours).elements()):
        lines.append(f"left behind in the reader's {shell} but not in the suite's run: ")
        lines[-1] += ", ".join(only)
    return lines
