"""The restore drill: run every step of the runbook end to end and time it (DEP-04: < 1 hour).

Sandbox mode (default): start an embedded PostgreSQL and a moto "R2", seed a VLVT-like source
database, back it up exactly like the Railway template, then list, fetch, inspect, restore into
a fresh database and verify against the backup's manifest. Everything started is stopped.

Real mode (``RUNBOOK_DRILL_TARGET_URL`` set to a scratch database, plus R2 credentials/profile):
no seeding or backup; the target is checked first (reachable, empty, not production: refused
before anything is downloaded), then the newest real backup is restored into it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runbook_helpers.archive import check_compatible, inspect
from runbook_helpers.backup import create_backup
from runbook_helpers.backups import list_backups, no_backups_error
from runbook_helpers.errors import ExitStatus, NotFound, RunbookError
from runbook_helpers.fetch import fetch
from runbook_helpers.restore import RestoreOptions, restore
from runbook_helpers.seed import seed
from runbook_helpers.storage import s3_client
from runbook_helpers.target import Target, check_not_production, connect, ensure_empty
from runbook_helpers.verify import check, load_manifest, verify

TARGET_SECONDS = 3600  # DEP-04: a full restore within one hour
REAL_TARGET_ENV = "RUNBOOK_DRILL_TARGET_URL"
SOURCE_DB = "vlvt_drill_source"
RESTORE_DB = "vlvt_drill_restore"


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
        path.write_text(json.dumps(self.to_dict(), indent=2, default=str) + "\n", encoding="utf-8")


class _Runner:
    """Runs named steps in order; after a failure the remaining steps are skipped."""

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


class _Skip(Exception):
    pass


def _run(runner: _Runner, name: str, fn: Callable[[Step], None]) -> None:
    try:
        with runner.step(name) as step:
            fn(step)
    except _Skip:
        if runner.on_step:
            runner.on_step(runner.report.steps[-1])


def run_drill(
    *,
    scale: float = 1.0,
    seed: int = 42,
    workdir: Path | None = None,
    jobs: int = 0,
    on_step: Callable[[Step], None] | None = None,
    env: dict[str, str] | None = None,
) -> DrillReport:
    """Run the drill (real mode when ``RUNBOOK_DRILL_TARGET_URL`` is set in ``env``)."""
    environ = os.environ if env is None else env
    real_target = environ.get(REAL_TARGET_ENV)
    report = DrillReport(
        mode="real" if real_target else "sandbox",
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    runner = _Runner(report, on_step)
    with ExitStack() as stack:
        if workdir is None:
            scratch = Path(tempfile.mkdtemp(prefix="runbook-drill-"))
            stack.callback(shutil.rmtree, scratch, ignore_errors=True)
        else:
            scratch = workdir
            scratch.mkdir(parents=True, exist_ok=True)
        if real_target:
            _real(runner, report, real_target, scratch, jobs, environ)
        else:
            _sandbox(runner, report, stack, scale, seed, scratch, jobs, environ)
    return report


def _sandbox(
    runner: _Runner,
    report: DrillReport,
    stack: ExitStack,
    scale: float,
    seed_value: int,
    scratch: Path,
    jobs: int,
    environ: Any,
) -> None:
    # the sandbox needs the optional `sandbox` extra (moto): imported only in sandbox mode
    from runbook_helpers.sandbox.postgres import PostgresServer, postgres_server
    from runbook_helpers.sandbox.r2 import R2Mock, r2_mock

    ctx: dict[str, Any] = {}

    def start(step: Step) -> None:
        pg: PostgresServer = stack.enter_context(
            postgres_server(environ.get("RUNBOOK_PG", "auto"), workdir=scratch)
        )
        r2: R2Mock = stack.enter_context(r2_mock(scratch))
        r2.reset_bucket()
        ctx.update(pg=pg, r2=r2, client=r2.client())
        step.detail = f"{pg.kind} PostgreSQL {pg.major} + moto R2 at {r2.endpoint}"
        # the sandbox's client tools come first (pg_dump must match the server)
        if pg.bin_dir is not None:
            path = os.environ.get("PATH", "")
            os.environ["PATH"] = f"{pg.bin_dir}{os.pathsep}{path}"
            stack.callback(os.environ.__setitem__, "PATH", path)
        report.versions["server"] = str(pg.major)

    def do_seed(step: Step) -> None:
        url = ctx["pg"].create_database(SOURCE_DB)
        result = seed(url, scale=scale, seed=seed_value)
        ctx["source_url"] = url
        report.sizes["source_database_bytes"] = result.size_bytes
        step.detail = f"scale {scale:g}: " + ", ".join(f"{t} {n:,}" for t, n in result.rows.items())

    def do_backup(step: Step) -> None:
        r2 = ctx["r2"]
        result = create_backup(ctx["source_url"], ctx["client"], r2.bucket, tmp_dir=scratch)
        ctx["backup"] = result
        report.backup = result.uri
        report.sizes["archive_bytes"] = result.size
        report.versions["pg_dump"] = result.manifest.pg_dump_version
        step.detail = f"{result.key} ({result.size:,} bytes) + .sha256 + .manifest.json"

    stack_steps: list[tuple[str, Callable[[Step], None]]] = [
        ("sandbox", start),
        ("seed", do_seed),
        ("backup", do_backup),
    ]
    for name, fn in stack_steps:
        _run(runner, name, fn)

    def target_url() -> str:
        url: str = ctx["pg"].url(RESTORE_DB)
        return url

    _incident_steps(
        runner,
        report,
        ctx,
        lambda: ctx["client"],
        lambda: ctx["r2"].bucket,
        "",
        target_url,
        scratch,
        jobs,
        create=True,
        do_fetch=True,
    )


def _real(
    runner: _Runner,
    report: DrillReport,
    target: str,
    scratch: Path,
    jobs: int,
    environ: Any,
) -> None:
    ctx: dict[str, Any] = {}
    bucket = environ.get("RUNBOOK_BUCKET") or "vlvt-backups"
    subfolder = environ.get("RUNBOOK_SUBFOLDER", "")

    def client() -> Any:
        if "client" not in ctx:
            ctx["client"] = s3_client(environ.get("AWS_PROFILE") or None)
        return ctx["client"]

    def check_target(step: Step) -> None:
        """Before anything is downloaded: the target must be reachable, not production, empty."""
        parsed = Target.parse(target)
        check_not_production(parsed, production=False)
        with connect(target) as conn:
            ensure_empty(conn, target, allow_non_empty=False)
        step.detail = f"{parsed.display} is empty and not production"

    _run(runner, "target", check_target)
    _incident_steps(
        runner,
        report,
        ctx,
        client,
        lambda: bucket,
        subfolder,
        lambda: target,
        scratch,
        jobs,
        create=False,
        do_fetch=False,
    )


def _incident_steps(
    runner: _Runner,
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
        _run(runner, name, fn)
