"""The preflight checklist: one :class:`Check` per line, a :class:`Report` of them all, and the
:class:`State` earlier checks leave for later ones (see :mod:`runbook_helpers.checks.preflight`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from runbook_helpers.archive.inspect import ArchiveInfo
from runbook_helpers.errors import ExitStatus, RunbookError
from runbook_helpers.r2.backups import BackupObject

Status = Literal["OK", "WARN", "FAIL"]


@dataclass(frozen=True)
class Check:
    """One line of the checklist."""

    name: str
    status: Status
    detail: str
    hint: str = ""
    exit_status: ExitStatus = ExitStatus.OK


@dataclass
class Report:
    """Every check, in order; failed when any check failed."""

    checks: list[Check] = field(default_factory=list)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.status == "FAIL"]

    @property
    def exit_status(self) -> int:
        """The typed status of the first failure (0 when none failed)."""
        failures = self.failures
        return int(failures[0].exit_status) if failures else int(ExitStatus.OK)


@dataclass
class State:
    """What earlier checks found, for the later ones."""

    backup: BackupObject | None = None
    info: ArchiveInfo | None = None
    existing_bytes: int | None = None
    max_wal_bytes: int | None = None  # None: the server was not reached
    free_bytes: int | None = None


def failed(name: str, exc: RunbookError) -> Check:
    """A FAIL line from a typed error (its message and hint, its exit status)."""
    return Check(name, "FAIL", str(exc), exc.hint, exc.status)
