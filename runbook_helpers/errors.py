"""Exit statuses and the typed errors that map onto them.

Every expected failure is a :class:`RunbookError`: its message says what is wrong and its
``hint`` says what to do. The CLI prints both on one line each and exits with ``status``;
no traceback is shown for them.
"""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    """Documented exit codes of the ``runbook`` command (table: :func:`exit_code_table`)."""

    OK = 0
    ERROR = 1  # unexpected failure (a bug): traceback shown
    USAGE = 2  # bad arguments
    NOT_FOUND = 3  # no such bucket, key, backup or database
    ACCESS_DENIED = 4  # wrong or missing credentials, no permission
    UNREACHABLE = 5  # endpoint or server cannot be reached
    INTEGRITY = 6  # truncated, corrupted, checksum mismatch
    INCOMPATIBLE = 7  # wrong format, or archive newer than the local pg_restore
    UNSAFE_TARGET = 8  # target not empty / looks like production: refused without a flag
    RESTORE_FAILED = 9  # restore stopped; the target is incomplete
    VERIFY_MISMATCH = 10  # restored data differs from the manifest / reference
    STALE = 11  # newest backup too old or anomalous in size
    NO_SPACE = 12  # not enough disk space
    BACKUP_FAILED = 13  # pg_dump failed or produced an empty/invalid archive: nothing uploaded
    INTERRUPTED = 130  # Ctrl-C


#: What each exit code tells the reader; docs/troubleshooting.md's table is this, rendered.
EXIT_MEANINGS: dict[ExitStatus, str] = {
    ExitStatus.OK: "done",
    ExitStatus.ERROR: "unexpected failure (a bug): run it again with `RUNBOOK_DEBUG=1` for the "
    "traceback and report it",
    ExitStatus.USAGE: "wrong arguments",
    ExitStatus.NOT_FOUND: "not found: bucket, backup, key or database",
    ExitStatus.ACCESS_DENIED: "access denied: credentials or permissions",
    ExitStatus.UNREACHABLE: "endpoint or server unreachable, or no answer within "
    "`RUNBOOK_TIMEOUT` seconds",
    ExitStatus.INTEGRITY: "integrity: truncated, corrupted, checksum mismatch",
    ExitStatus.INCOMPATIBLE: "incompatible: wrong format, or archive newer than your `pg_restore`",
    ExitStatus.UNSAFE_TARGET: "unsafe target refused: not empty, or production without "
    "`--production`",
    ExitStatus.RESTORE_FAILED: "restore failed: the target is incomplete and says so",
    ExitStatus.VERIFY_MISMATCH: "verification found differences",
    ExitStatus.STALE: "backups stale or anomalous (`runbook freshness`)",
    ExitStatus.NO_SPACE: "not enough disk space",
    ExitStatus.BACKUP_FAILED: "backup failed: `pg_dump` or `gzip` failed, or wrote no valid "
    "archive; nothing was uploaded",
    ExitStatus.INTERRUPTED: "interrupted (Ctrl-C)",
}


def exit_code_table() -> str:
    """The Markdown table of exit codes shown in docs/troubleshooting.md (a test compares)."""
    rows = [f"| {int(status)} | {EXIT_MEANINGS[status]} |" for status in ExitStatus]
    return "\n".join(["| Exit | Meaning |", "| --- | --- |", *rows])


class RunbookError(Exception):
    """An expected failure: ``str(self)`` says what is wrong, ``hint`` what to do."""

    status: ExitStatus = ExitStatus.ERROR

    def __init__(self, message: str, hint: str = "", *, left: str = "") -> None:
        super().__init__(f"{message}; {left}" if left else message)
        self.hint = hint
        #: what is wrong, without ``left``: what the failure left behind ("nothing was
        #: restored"), kept apart so that a caller who knows more can say it instead
        self.reason = message
        self.left = left


class UsageError(RunbookError):
    status = ExitStatus.USAGE


class NotFound(RunbookError):
    status = ExitStatus.NOT_FOUND


class AccessDenied(RunbookError):
    status = ExitStatus.ACCESS_DENIED


class Unreachable(RunbookError):
    status = ExitStatus.UNREACHABLE


class IntegrityError(RunbookError):
    status = ExitStatus.INTEGRITY


class Incompatible(RunbookError):
    status = ExitStatus.INCOMPATIBLE


class UnsafeTarget(RunbookError):
    status = ExitStatus.UNSAFE_TARGET


class RestoreFailed(RunbookError):
    status = ExitStatus.RESTORE_FAILED


class VerifyMismatch(RunbookError):
    status = ExitStatus.VERIFY_MISMATCH


class Stale(RunbookError):
    status = ExitStatus.STALE


class NoSpace(RunbookError):
    status = ExitStatus.NO_SPACE


class BackupFailed(RunbookError):
    status = ExitStatus.BACKUP_FAILED
