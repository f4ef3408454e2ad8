"""Exceptions that are not :class:`RunbookError` turned into one typed, hinted error.

The CLI never shows a traceback: a full disk is exit 12, a database connection failure exit 5,
an interrupted stream or unreadable value a typed error, and anything else exit 1 with a hint
to re-run with ``RUNBOOK_DEBUG=1`` (which shows the traceback) and report it.
"""

from __future__ import annotations

import errno
import sys

from runbook_helpers.errors import (
    AccessDenied,
    ExitStatus,
    IntegrityError,
    NoSpace,
    NotFound,
    RunbookError,
    Unreachable,
)

DEBUG_ENV = "RUNBOOK_DEBUG"
_NO_SPACE = {errno.ENOSPC, errno.EDQUOT}
_BUG_HINT = (
    f"this is a bug: run the command again with {DEBUG_ENV}=1 for the traceback and report it"
)

#: The hint shown for an error raised without one (every error line gets a hint line).
DEFAULT_HINTS: dict[ExitStatus, str] = {
    ExitStatus.ERROR: _BUG_HINT,
    ExitStatus.USAGE: "see `runbook --help` and the command's own --help",
    ExitStatus.NOT_FOUND: "check the name; `runbook backups list` shows the backups that exist",
    ExitStatus.ACCESS_DENIED: "check the R2 token of the profile (--profile / $AWS_PROFILE) or "
    "the database password",
    ExitStatus.UNREACHABLE: "check the network and the endpoint or database URL",
    ExitStatus.INTEGRITY: "fetch the backup again and compare its sha256; else use an older one",
    ExitStatus.INCOMPATIBLE: "`runbook inspect SOURCE` says what it is and which client it needs",
    ExitStatus.UNSAFE_TARGET: "see `runbook restore --help` for the flags that allow it",
    ExitStatus.RESTORE_FAILED: "the lines above say why; the target is incomplete",
    ExitStatus.VERIFY_MISMATCH: "the restore is not a faithful copy of the backup",
    ExitStatus.STALE: "check the backup service's deploy logs on Railway",
    ExitStatus.NO_SPACE: "free space (or point TMPDIR at a larger disk) and run it again",
    ExitStatus.BACKUP_FAILED: "fix the cause above and run `runbook backup` again",
    ExitStatus.INTERRUPTED: "nothing was swapped or deleted; re-run the command",
}


def hint_for(err: RunbookError) -> str:
    """The error's own hint, else the default one for its exit status."""
    return err.hint or DEFAULT_HINTS.get(err.status, _BUG_HINT)


def as_runbook_error(exc: BaseException) -> RunbookError:
    """The typed error to report for ``exc`` (one line + a hint naming no invented option)."""
    if isinstance(exc, RunbookError):
        return exc
    if isinstance(exc, OSError) and exc.errno in _NO_SPACE:
        where = f" while writing {exc.filename}" if exc.filename else ""
        return NoSpace(
            f"the disk is full ({exc.strerror}){where}",
            hint="free space (or point TMPDIR at a larger disk) and run the command again",
        )
    if isinstance(exc, PermissionError):
        return AccessDenied(
            f"permission denied: {exc.filename or exc}",
            hint="run from a directory you can write to, or fix the file's permissions",
        )
    if isinstance(exc, FileNotFoundError):
        return NotFound(f"no such file or directory: {exc.filename or exc}", hint="check the path")
    psycopg = sys.modules.get("psycopg")  # not imported (start-up stays fast): not its error
    if psycopg is not None and isinstance(exc, psycopg.OperationalError):
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return Unreachable(
            f"the database connection failed: {first}",
            hint="check the URL, that the server is up, and PGCONNECT_TIMEOUT if it is slow",
        )
    if psycopg is not None and isinstance(exc, psycopg.DataError):
        return IntegrityError(
            f"the database returned a value this tool cannot read: {exc}".strip(),
            hint=f"report it with the output of the same command under {DEBUG_ENV}=1",
        )
    if isinstance(exc, (EOFError, ConnectionError)):
        return Unreachable(
            f"the connection was lost ({type(exc).__name__}: {exc})",
            hint="check the network and run the command again",
        )
    return RunbookError(f"unexpected {type(exc).__name__}: {exc}", hint=_BUG_HINT)
