"""The nightly restore test: restore the newest backup into a scratch database and prove it.

Steps (each timed against the one-hour budget, DEP-04): ``scratch`` (the scratch server is
reachable and not production; a new database ``vlvt_restore_test_<stamp>`` is created on it),
``freshness`` (age and size of the newest backup against the previous ones,
:func:`runbook_helpers.r2.backups.check_freshness`), ``integrity`` (the tar inside the gzip is
whole: :mod:`runbook_helpers.archive.tar_check`), then the drill's incident path on the real
backup (``list``, ``inspect``, ``restore``, ``verify`` against the archive's own row counts:
:mod:`runbook_helpers.checks.drill_steps`, the same library calls as ``runbook restore`` and
``runbook verify``).
The scratch database is always dropped at the end (unless ``keep``).

A backup much smaller (or older) than the previous ones in the bucket fails the test (exit 11,
like ``runbook freshness``) after it has been restored and verified anyway. A restore much
slower than in the earlier reports (the history), or a restore path over the budget, is a
warning shown first in the summary.
"""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from runbook_helpers.archive.tar_check import check_tar_complete
from runbook_helpers.checks import drill_steps
from runbook_helpers.errors import ExitStatus, RunbookError, UnsafeTarget
from runbook_helpers.pg.target import (
    Target,
    check_not_production,
    create_database,
    database_exists,
    maintenance_connection,
)
from runbook_helpers.r2.backups import DEFAULT_MAX_AGE, DEFAULT_MIN_RATIO, check_freshness
from runbook_helpers.r2.storage import S3Client
from runbook_helpers.redact import redact_text

SCRATCH_PREFIX = "vlvt_restore_test_"
DEFAULT_SLOW_RATIO = 2.0  # a restore path this many times the median of the history: warn
REPORT_KIND = "runbook restore-test"


@dataclass(frozen=True)
class Flag:
    """Something a person should look at; ``fail`` flags make the test fail."""

    kind: str  # small-backup | old-backup | slow-restore | over-budget
    severity: str  # fail | warn
    message: str


@dataclass
class Settings:
    scratch_url: str  # any database on the scratch server; the test creates its own next to it
    client: S3Client
    bucket: str
    subfolder: str = ""
    jobs: int = 0
    max_age: timedelta = DEFAULT_MAX_AGE
    min_ratio: float = DEFAULT_MIN_RATIO
    slow_ratio: float = DEFAULT_SLOW_RATIO
    keep: bool = False
    workdir: Path | None = None


@dataclass
class RestoreTestReport:
    """The drill's step report plus what the restore test adds (flags, history, scratch)."""

    run: drill_steps.DrillReport
    stamp: str
    flags: list[Flag] = field(default_factory=list)
    history: dict[str, Any] = field(default_factory=dict)
    scratch: dict[str, Any] = field(default_factory=dict)
    backup_taken_at: str | None = None

    @property
    def status(self) -> int:
        if self.run.status:
            return self.run.status
        return int(ExitStatus.STALE) if any(f.severity == "fail" for f in self.flags) else 0

    @property
    def verdict(self) -> str:
        if self.status:
            return "FAIL"
        return "PASS with warnings" if self.flags else "PASS"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "kind": REPORT_KIND,
            "verdict": self.verdict,
            "status": self.status,
            "stamp": self.stamp,
            "backup_taken_at": self.backup_taken_at,
            "flags": [asdict(f) for f in self.flags],
            "history": self.history,
            "scratch": self.scratch,
        }
        data.update(self.run.to_dict())
        data["ok"] = self.status == 0
        return data


def run_restore_test(
    settings: Settings,
    history: list[dict[str, Any]],
    *,
    on_step: Callable[[drill_steps.Step], None] | None = None,
    now: datetime | None = None,
) -> RestoreTestReport:
    """Run every step, drop the scratch database, compare with ``history`` (oldest first)."""
    started = now or datetime.now(UTC)
    stamp = started.isoformat(timespec="seconds")
    run = drill_steps.DrillReport(mode="restore-test", started_at=stamp)
    report = RestoreTestReport(run, started.strftime("%Y%m%dT%H%M%S.%fZ"))
    runner = drill_steps.StepRunner(run, on_step)
    server = Target.parse(settings.scratch_url)
    name = SCRATCH_PREFIX + started.strftime("%Y%m%d%H%M%S%f")
    scratch_url = server.conninfo(name)
    report.scratch = {
        "server": server.display,
        "database": name,
        "created": False,
        "dropped": False,
    }
    created: list[bool] = []
    latest: list[str] = []
    ctx: dict[str, Any] = {}  # the drill's list step checks that it finds ctx["backup"] too

    def make_scratch(step: drill_steps.Step) -> None:
        try:
            check_not_production(server, production=False)
        except UnsafeTarget as exc:  # its hint names restore's --production: not an option here
            raise UnsafeTarget(
                f"{exc}: a restore test never runs there",
                hint="point --scratch-url (or $RUNBOOK_SCRATCH_URL) at a scratch server",
            ) from None
        if database_exists(server, name):
            raise UnsafeTarget(
                f"the scratch database {name} already exists on {server.display}",
                hint="another restore test is running; wait for it or drop the database",
            )
        create_database(server, name)
        created.append(True)
        report.scratch["created"] = True
        step.detail = f"created {name} on {server.display}"

    def freshness(step: drill_steps.Step) -> None:
        fresh = check_freshness(
            settings.client,
            settings.bucket,
            settings.subfolder,
            max_age=settings.max_age,
            min_ratio=settings.min_ratio,
            now=now,
        )
        report.backup_taken_at = fresh.latest.taken_at.isoformat(timespec="seconds")
        latest.append(fresh.latest.uri)
        ctx["backup"] = fresh.latest
        kinds = ["old-backup"] if fresh.age > fresh.max_age else []
        if fresh.ratio is not None and fresh.ratio < fresh.min_ratio:
            kinds.append("small-backup")
        for kind, problem in zip(kinds, fresh.problems, strict=True):  # in check_freshness' order
            report.flags.append(Flag(kind, "fail", problem))
        ratio = f"{fresh.ratio:.2f} x" if fresh.ratio is not None else "no previous backup for"
        step.detail = (
            f"{fresh.latest.key}: {fresh.age.total_seconds() / 3600:.1f} h old, "
            f"{fresh.latest.size:,} bytes, {ratio} the median of the previous backups"
        )

    def integrity(step: drill_steps.Step) -> None:
        tar = check_tar_complete(latest[0], client=settings.client)
        step.detail = (
            f"tar complete: {tar.members} members, {tar.data_bytes:,} bytes, ends with restore.sql"
            if tar.checked
            else "not a tar archive: pg_restore checks it while restoring"
        )

    with ExitStack() as stack:
        workdir = settings.workdir or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        stack.callback(lambda: _cleanup(server, name, created, settings.keep, report))
        runner.run("scratch", make_scratch)
        runner.run("freshness", freshness)
        runner.run("integrity", integrity)
        drill_steps.incident_steps(
            runner,
            run,
            ctx,
            lambda: settings.client,
            lambda: settings.bucket,
            settings.subfolder,
            lambda: scratch_url,
            workdir,
            settings.jobs,
            create=False,
            do_fetch=False,
        )
    report.flags += compare_with_history(report, history, settings.slow_ratio)
    return report


def _cleanup(
    server: Target, name: str, created: list[bool], keep: bool, report: RestoreTestReport
) -> None:
    """Drop the scratch database this run created (kept with ``keep``, for a post-mortem)."""
    if created and not keep:
        try:
            _drop(server, name)
        except (RunbookError, psycopg.Error) as exc:  # reported, never hides the test's result
            report.scratch["drop_error"] = redact_text(str(exc)).strip()
        else:
            report.scratch["dropped"] = True


def _drop(server: Target, name: str) -> None:
    with maintenance_connection(server) as conn:
        conn.autocommit = True
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
        )


def _restore_seconds(data: dict[str, Any]) -> float | None:
    steps = [s for s in data.get("steps", []) if s.get("name") == "restore" and s.get("ok")]
    return float(steps[0]["seconds"]) if steps else None


def compare_with_history(
    report: RestoreTestReport, history: list[dict[str, Any]], slow_ratio: float
) -> list[Flag]:
    """Flags from comparing this run with earlier passing ones (and with the budget)."""
    flags: list[Flag] = []
    run = report.run
    if run.restore_path_seconds > run.target_seconds:
        flags.append(
            Flag(
                "over-budget",
                "warn",
                f"the restore path took {run.restore_path_seconds:.0f} s, over the "
                f"{run.target_seconds} s budget (DEP-04)",
            )
        )
    earlier = [h for h in history if h.get("kind") == REPORT_KIND and h.get("status") == 0]
    times = [t for t in map(_restore_seconds, earlier) if t is not None]
    report.history = {"previous_reports": len(earlier)}
    now_seconds = _restore_seconds(run.to_dict())
    if times:
        median_time = statistics.median(times)
        report.history["median_restore_seconds"] = round(median_time, 3)
        if now_seconds is not None and now_seconds > slow_ratio * median_time:
            flags.append(
                Flag(
                    "slow-restore",
                    "warn",
                    f"the restore took {now_seconds:.1f} s, over {slow_ratio:g} x the median "
                    f"{median_time:.1f} s of the last {len(times)} restore tests",
                )
            )
    return flags
