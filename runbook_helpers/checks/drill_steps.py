"""Steps of a drill: the timed step runner and the on-call engineer's incident path.

:class:`StepRunner` runs named steps into a :class:`DrillReport`; :func:`incident_steps` adds
list -> (fetch) -> inspect -> restore -> verify. Used by ``runbook drill``
(:mod:`runbook_helpers.checks.drill`) and ``runbook restore-test``
(:mod:`runbook_helpers.checks.restore_test`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from runbook_helpers.archive.inspect import check_compatible, inspect
from runbook_helpers.checks.verify import check, load_manifest, verify
from runbook_helpers.errors import ExitStatus, NotFound, RunbookError
from runbook_helpers.r2.backups import list_backups, no_backups_error
from runbook_helpers.r2.fetch import fetch
from runbook_helpers.restore.dispatch import RestoreOptions, restore

TARGET_SECONDS = 3600  # DEP-04: a full restore within one hour


@dataclass
class Step:
    name: str
    seconds: float = 0.0
    ok: bool = False
    skipped: bool = False
    detail: str = ""
    error: str | None = None
    hint: str | None = None
    status: int = 0


@dataclass
class DrillReport:
    mode: str  # "sandbox" | "real"
    started_at: str
    target_seconds: int = TARGET_SECONDS
    steps: list[Step] = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)
    rows: dict[str, dict[str, int | None]] = field(default_factory=dict)
    versions: dict[str, str | None] = field(default_factory=dict)
    backup: str | None = None

    @property
    def total_seconds(self) -> float:
        return sum(s.seconds for s in self.steps)

    @property
    def restore_path_seconds(self) -> float:
        """What an incident costs: every step after the backup exists."""
        incident = {"list", "fetch", "inspect", "restore", "verify"}
        return sum(s.seconds for s in self.steps if s.name in incident)

    @property
    def ok(self) -> bool:
        return (
            bool(self.steps)
            and all(s.ok or s.skipped for s in self.steps)
            and any(s.name == "verify" and s.ok for s in self.steps)
        )

    @property
    def status(self) -> int:
        for step in self.steps:
            if not step.ok and not step.skipped:
                return step.status or int(ExitStatus.ERROR)
        return int(ExitStatus.OK) if self.ok else int(ExitStatus.ERROR)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            ok=self.ok,
            total_seconds=round(self.total_seconds, 3),
            restore_path_seconds=round(self.restore_path_seconds, 3),
            within_target=self.restore_path_seconds <= self.target_seconds,
        )
        for step in data["steps"]:
            step["seconds"] = round(step["seconds"], 3)
        return data

    def write(self, path: Path) -> None:
        """The JSON report at ``path``; its directory is created first (build/ in a fresh clone)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2, default=str) + "\n", encoding="utf-8")


class StepRunner:
    """Runs named steps in order, timing each into ``report``; after a failure the remaining
    steps are recorded as skipped. ``on_step`` sees every step as it ends."""

    def __init__(self, report: DrillReport, on_step: Callable[[Step], None] | None) -> None:
        self.report = report
        self.on_step = on_step
        self.failed = False

    @contextmanager
    def step(self, name: str) -> Iterator[Step]:
        step = Step(name)
        self.report.steps.append(step)
        if self.failed:
            step.skipped = True
            step.detail = "skipped after an earlier failure"
            raise _Skip
        started = time.perf_counter()
        try:
            yield step
            step.ok = True
        except RunbookError as exc:
            step.error, step.hint, step.status = str(exc), exc.hint or None, int(exc.status)
            self.failed = True
        except Exception as exc:  # a bug: recorded, the drill still stops and reports
            step.error = f"{type(exc).__name__}: {exc}"
            step.status = int(ExitStatus.ERROR)
            self.failed = True
        finally:
            step.seconds = time.perf_counter() - started
            if self.on_step:
                self.on_step(step)

    def run(self, name: str, fn: Callable[[Step], None]) -> None:
        """Run ``fn`` as the step ``name`` (or record it skipped after a failure)."""
        try:
            with self.step(name) as step:
                fn(step)
        except _Skip:
            if self.on_step:
                self.on_step(self.report.steps[-1])


class _Skip(Exception):
    pass


def incident_steps(
    runner: StepRunner,
    report: DrillReport,
    ctx: dict[str, Any],
    client: Callable[[], Any],
    bucket: Callable[[], str],
    subfolder: str,
    target_url: Callable[[], str],
    scratch: Path,
    jobs: int,
    *,
    create: bool,
    do_fetch: bool,
) -> None:
    """list -> (fetch) -> inspect -> restore -> verify: what an on-call engineer runs."""

    def do_list(step: Step) -> None:
        backups = list_backups(client(), bucket(), subfolder)
        if not backups:
            raise no_backups_error(client(), bucket(), subfolder)
        latest = backups[0]
        expected = ctx.get("backup")
        if expected is not None and latest.key != expected.key:
            raise RunbookError(f"latest backup is {latest.key}, expected {expected.key}")
        ctx["latest"] = latest
        report.backup = latest.uri
        report.sizes["archive_bytes"] = latest.size
        step.detail = f"{len(backups)} backup(s); latest {latest.key} ({latest.size:,} bytes)"

    def do_fetch_step(step: Step) -> None:
        result = fetch(client(), ctx["latest"].location, scratch)
        sidecar = "sha256 matches sidecar" if result.sidecar_verified else "no sidecar"
        step.detail = f"{result.size:,} bytes to {result.path.name}; {sidecar}"
        result.path.unlink(missing_ok=True)

    def do_inspect(step: Step) -> None:
        info = inspect(ctx["latest"].uri, client=client())
        report.versions.update(
            archive=info.archive_version,
            pg_dump=info.pg_dump_version,
            dumped_from=info.server_version,
            pg_restore=str(info.local_pg_restore_major),
        )
        check_compatible(info)
        step.detail = (
            f"{info.format}, archive {info.archive_version}, pg_dump {info.pg_dump_version}, "
            f"{info.table_count} tables"
        )

    def do_restore(step: Step) -> None:
        result = restore(
            ctx["latest"].uri,
            target_url(),
            RestoreOptions(jobs=jobs, create=create, client=client(), workdir=scratch),
        )
        ctx["restored_url"] = target_url()
        step.detail = f"{result.method}; sha256 {result.checksum}; " + ", ".join(
            f"{k} {v:.1f}s" for k, v in result.stages.items()
        )

    def do_verify(step: Step) -> None:
        uri = ctx["latest"].uri
        try:
            manifest = load_manifest(uri, client=client())
        except NotFound:  # a template backup: count the rows stored in the archive itself
            report_ = verify(ctx["restored_url"], archive=uri, client=client())
        else:
            report_ = verify(ctx["restored_url"], manifest=manifest)
        for t in report_.tables:
            report.rows[t.table] = {"expected": t.expected_rows, "actual": t.actual_rows}
        check(report_)
        step.detail = f"{len(report_.tables)} tables match the {report_.reference}"

    steps: list[tuple[str, Callable[[Step], None]]] = [("list", do_list)]
    if do_fetch:
        steps.append(("fetch", do_fetch_step))
    steps += [("inspect", do_inspect), ("restore", do_restore), ("verify", do_verify)]
    for name, fn in steps:
        runner.run(name, fn)
