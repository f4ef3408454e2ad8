"""What a page ran with: its tools' versions, read in the page's own environment.

The ``runbook_versions`` ini lists ``NAME = command`` lines (e.g. ``pg_restore = pg_restore
--version``). After a page's last block, each command runs once with the environment the page's
shell had then (its ``PATH``, its ``PG*`` settings, its working directory), so the answer is the
tool the page's blocks found, or the server they reached; the first word of its output starting
with a digit is kept. The ledger stores the result per page; the site's stamp shows it.

A ``--version`` probe answers from the executable alone, so its answer is kept for the session
(:func:`_executable_identity`): asked again with the same file found on the page's ``PATH`` -
same real path, inode, size and change time, the same interpreter for a ``#!`` script, the
same loader and ``PG*`` variables - it is not run again. ``aws --version`` costs half a second
of CPU, and the suite's pages asked for it 57 times. A probe that asks a server (``psql -c``)
always runs.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

PROBE_TIMEOUT = 20.0
# What else decides which code an executable runs, besides its file and its #! interpreter.
LOADER_VARIABLES = ("PYTHONPATH", "PYTHONHOME", "PYTHONSAFEPATH", "LD_LIBRARY_PATH", "LD_PRELOAD")
Identity = tuple[object, ...]
_ANSWERS: dict[Identity, str] = {}


def _file_identity(path: str) -> tuple[str, int, int, int] | None:
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
    except OSError:
        return None
    return real, st.st_ino, st.st_size, st.st_ctime_ns


def _interpreter(path: str, search: str | None) -> str | None:
    """The program a ``#!`` line starts (``/usr/bin/env NAME`` resolved on ``search``)."""
    try:
        with open(path, "rb") as script:
            first = script.readline(512)
    except OSError:
        return None
    if not first.startswith(b"#!"):
        return None
    words = first[2:].decode(errors="replace").split()
    if not words:
        return None
    if os.path.basename(words[0]) == "env":
        named = [w for w in words[1:] if not w.startswith("-")]
        return shutil.which(named[0], path=search) if named else None
    return words[0]


def _executable_identity(argv: Sequence[str], env: Mapping[str, str]) -> Identity | None:
    """What a ``--version`` answer depends on, or None when the probe is not one (or the
    program is not found)."""
    if not argv or argv[-1] != "--version":
        return None
    search = env.get("PATH")
    found = shutil.which(argv[0], path=search)
    if found is None or (program := _file_identity(found)) is None:
        return None
    interpreter = _interpreter(found, search)
    started = _file_identity(interpreter) if interpreter else None
    loaders = tuple(env.get(name) for name in LOADER_VARIABLES)
    # Debian's pg_wrapper (what `pg_dump` is on its PATH) picks the real program by PGCLUSTER,
    # PGPORT and the like: every PG* variable is part of what its answer depends on
    postgres = tuple(sorted((k, v) for k, v in env.items() if k.startswith("PG")))
    return (tuple(argv), program, started, loaders, postgres)


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
    versions: dict[str, str] = {}
    identities: dict[str, Identity] = {}
    for name, argv in probes.items():
        identity = _executable_identity(argv, env)
        if identity is not None:
            if identity in _ANSWERS:
                versions[name] = _ANSWERS[identity]
                continue
            identities[name] = identity
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
            if name in identities:
                _ANSWERS[identities[name]] = versions[name]
    return {name: versions[name] for name in probes if name in versions}
