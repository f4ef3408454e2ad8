"""Running pg_restore/psql: wait for them, keep their stderr, turn a failure into a typed cause.

:func:`raise_for` reads a tool's stderr and raises :class:`ToolFailed` (its message is the reason)
whose ``__cause__`` carries the exit status: IntegrityError (damaged archive, a psql meta-command
in the backup), Incompatible (wrong format or version), as the one classifier
:func:`runbook_helpers.archive.inspect.pg_restore_error` says; :class:`PartialCommit` when a
plain dump committed part of itself.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from typing import IO

from runbook_helpers.archive.inspect import pg_restore_error
from runbook_helpers.errors import Incompatible, IntegrityError
from runbook_helpers.pg.psql_restricted import RESTRICTED_ERROR
from runbook_helpers.redact import redact_text

__all__ = [
    "GUARD_ERROR",
    "NESTED_BEGIN",
    "Into",
    "PartialCommit",
    "ToolFailed",
    "raise_for",
    "wait",
]

# raised by the guard a plain dump's script ends with (runbook_helpers.restore.plain)
GUARD_ERROR = "runbook-guard: the dump ended the restore transaction itself"
# psql's stderr when the dump's own BEGIN met ours: its COMMIT then committed part of the dump
NESTED_BEGIN = "there is already a transaction in progress"


@dataclass(frozen=True)
class Into:
    """Where pg_restore or psql writes: the database's conninfo (without the password) and the
    tools' environment (which carries it)."""

    conninfo: str
    env: dict[str, str]


class ToolFailed(Exception):
    """pg_restore or psql failed (or was killed); the message says which and why."""


class PartialCommit(ToolFailed):
    """The dump ended the restore transaction itself: part of it is committed."""


def wait(proc: subprocess.Popen[bytes]) -> int:
    """``proc``'s exit status; on Ctrl-C (or any exception) it is killed first."""
    try:
        return proc.wait()
    except BaseException:
        proc.kill()
        proc.wait()
        raise


def raise_for(code: int, err: IO[bytes], what: str) -> None:
    """Nothing for exit 0; else ToolFailed with the reason (and a typed ``__cause__``)."""
    if code == 0:
        return
    err.seek(0)
    text = redact_text(err.read().decode(errors="replace"))
    if code < 0:
        raise ToolFailed(f"{what} was killed by signal {-code}")
    if RESTRICTED_ERROR in text:
        raise ToolFailed(
            "the backup contains a psql meta-command (a backslash command such as \\! or "
            "\\connect), refused by psql's restricted mode"
        ) from IntegrityError(
            "meta-command",
            hint="pg_dump never writes one into its data: treat this file as tampered with "
            "and restore another backup",
        )
    if GUARD_ERROR in text or NESTED_BEGIN in text:
        raise PartialCommit(
            "the dump ran a BEGIN/COMMIT of its own, which committed part of it before it stopped"
        )
    typed = pg_restore_error(text, what=what)
    if isinstance(typed, Incompatible | IntegrityError):
        raise ToolFailed(str(typed)) from typed
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    errors = [ln for ln in lines if "error" in ln.lower()] or lines
    detail = "; ".join(errors[:3]) if errors else f"exit status {code}"
    raise ToolFailed(f"{what} stopped at the first error (exit {code}): {detail}")
