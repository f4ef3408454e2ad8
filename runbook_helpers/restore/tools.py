"""Running pg_restore/psql: wait for them, keep their stderr, turn a failure into a typed cause.

:func:`raise_for` reads a tool's stderr and raises :class:`ToolFailed` (its message is the reason)
whose ``__cause__`` carries the exit status: IntegrityError (damaged archive, a psql meta-command
in the backup), Incompatible (wrong format or version); :class:`PartialCommit` when a plain dump
committed part of itself.
"""

from __future__ import annotations

import subprocess
from typing import IO

from runbook_helpers.archive import inspect as archive
from runbook_helpers.errors import Incompatible, IntegrityError
from runbook_helpers.pg.psql_restricted import RESTRICTED_ERROR
from runbook_helpers.redact import redact_text
from runbook_helpers.restore import plain
from runbook_helpers.restore.stream import ToolFailed

__all__ = ["CORRUPTION_SIGNS", "PartialCommit", "ToolFailed", "first_error", "raise_for", "wait"]

# pg_restore messages that mean the archive's bytes are damaged (exit 6, not 9)
CORRUPTION_SIGNS = (
    "corrupt tar header",
    "could not uncompress data",
    "could not read from input file",
    "unexpected end of file",
    "found unexpected block ID",
    "could not find block ID",
    "unexpected data offset flag",
    "did not find magic string",
    "invalid compressed data",
    "could not decompress",
)


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
    if plain.GUARD_ERROR in text or plain.NESTED_BEGIN in text:
        raise PartialCommit(
            "the dump ran a BEGIN/COMMIT of its own, which committed part of it before it stopped"
        )
    typed = archive.pg_restore_error(text, what=what)
    if what == "pg_restore" and any(p in text for p in CORRUPTION_SIGNS):
        typed = IntegrityError(
            f"pg_restore found the archive damaged: {first_error(text)}",
            hint="fetch the backup again and compare its sha256; if it persists, use an older "
            "backup",
        )
    if isinstance(typed, Incompatible | IntegrityError):
        raise ToolFailed(str(typed)) from typed
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    errors = [ln for ln in lines if "error" in ln.lower()] or lines
    detail = "; ".join(errors[:3]) if errors else f"exit status {code}"
    raise ToolFailed(f"{what} stopped at the first error (exit {code}): {detail}")


def first_error(text: str) -> str:
    """The first line of ``text`` that mentions an error (else its first line)."""
    lines = [ln for ln in text.strip().splitlines() if "error" in ln.lower()]
    return lines[0] if lines else (text.strip().splitlines() or ["?"])[0]
