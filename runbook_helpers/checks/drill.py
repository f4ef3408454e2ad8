"""The restore drill: run every step of the runbook end to end and time it (DEP-04: < 1 hour).

Sandbox mode (default): start an embedded PostgreSQL (16, production's major, unless
``RUNBOOK_PG`` says otherwise or no backend has it) and a moto "R2", seed a VLVT-like source
database, back it up exactly like the Railway template, then list, fetch, inspect, restore into
a fresh database and verify against the backup's manifest. Everything started is stopped.

Real mode (``RUNBOOK_DRILL_TARGET_URL`` set to a scratch database, plus R2 credentials/profile):
no seeding or backup; the target is checked first (reachable, empty, not production: refused
before anything is downloaded), then the newest real backup is restored into it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runbook_helpers.checks.drill_steps import DrillReport, Step, StepRunner, incident_steps
from runbook_helpers.pg.target import Target, check_not_production, connect, ensure_empty
from runbook_helpers.produce.backup import create_backup
from runbook_helpers.produce.seed import seed
from runbook_helpers.r2.storage import s3_client

REAL_TARGET_ENV = "RUNBOOK_DRILL_TARGET_URL"
PRODUCTION_MAJOR = 16  # Railway's PostgreSQL, and the backup template's pg_dump
SOURCE_DB = "vlvt_drill_source"
RESTORE_DB = "vlvt_drill_restore"


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
    runner = StepRunner(report, on_step)
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
    runner: StepRunner,
    report: DrillReport,
    stack: ExitStack,
    scale: float,
    seed_value: int,
    scratch: Path,
    jobs: int,
    environ: Any,
) -> None:
    # the sandbox needs the optional `sandbox` extra (moto): imported only in sandbox mode
    from runbook_helpers.sandbox import SandboxError
    from runbook_helpers.sandbox.postgres import PostgresServer, postgres_server
    from runbook_helpers.sandbox.r2 import R2Mock, r2_mock

    ctx: dict[str, Any] = {}

    def start(step: Step) -> None:
        kind = environ.get("RUNBOOK_PG", "auto")
        pg: PostgresServer | None = None
        if kind == "auto":  # production's major first (its pg_dump writes archive 1.15)
            with contextlib.suppress(SandboxError):
                pg = stack.enter_context(
                    postgres_server(kind, workdir=scratch, major=PRODUCTION_MAJOR)
                )
        if pg is None:  # RUNBOOK_PG, or no PostgreSQL 16 here: the first server there is
            pg = stack.enter_context(postgres_server(kind, workdir=scratch))
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
        runner.run(name, fn)

    def target_url() -> str:
        url: str = ctx["pg"].url(RESTORE_DB)
        return url

    incident_steps(
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
    runner: StepRunner,
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

    runner.run("target", check_target)
    incident_steps(
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
