"""Exit statuses and the typed errors that map onto them.

Every expected failure is a :class:`RunbookError`: its message says what is wrong and its
``hint`` says what to do. The CLI prints both on one line each and exits with ``status``;
no traceback is shown for them.
"""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    """Documented exit codes of the ``runbook`` command (see docs/reference/exit-codes)."""

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


class RunbookError(Exception):
    """An expected failure: ``str(self)`` says what is wrong, ``hint`` what to do."""

    status: ExitStatus = ExitStatus.ERROR

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


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
