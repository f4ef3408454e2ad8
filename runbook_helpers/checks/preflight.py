"""``runbook preflight``: everything a restore needs, checked before it starts.

Each check returns one :class:`Check` (OK / WARN / FAIL, one line of detail, a hint for a
failure); :func:`run_preflight` runs them in order and never stops at the first failure, so
the reader sees every missing prerequisite at once. Nothing here writes: the bucket is only
listed and the newest backup's first bytes read; the token's write scope is probed with a
conditional PUT that cannot succeed (``If-Match`` on a key that does not exist); the target
server is only queried.

Estimates come from measurements (docs/time-estimates.md): a restored database takes about
:data:`SIZE_RATIO` times its template backup (``pg_dump --format=tar | gzip``), and restoring
plus verifying takes about :data:`SECONDS_PER_GB` seconds per GB of database on 2 cores.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from runbook_helpers.archive.inspect import inspect
from runbook_helpers.checks.preflight_checklist import Check, Report, State, failed
from runbook_helpers.checks.preflight_clients import check_aws_cli, check_psql
from runbook_helpers.errors import ExitStatus, NoSpace, RunbookError
from runbook_helpers.human import human_age, human_size
from runbook_helpers.pg.target import (
    Target,
    check_not_production,
    connect,
    maintenance_connection,
    user_tables,
)
from runbook_helpers.r2.backups import latest_backup
from runbook_helpers.r2.storage import S3Client, S3Location

# Restored database bytes per byte of template backup: measured 7.3 on the seed at scale 1
# (database minus an empty database's 7.6 MB), 6.5-7.1 at 200-450 MB (docs/time-estimates.md).
SIZE_RATIO = 7
# Restore + ANALYZE + verification, seconds per GB of database on 2 cores (time-estimates.md).
SECONDS_PER_GB = 60
PROBE_KEY = "runbook-preflight-write-probe"
# Client programs the pages run by name (pg_restore is checked against the archive below).
TYPED_TOOLS = ("psql", "createdb", "gzip")
_LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "")


def estimated_restored_bytes(backup_bytes: int, existing_bytes: int | None = None) -> int:
    """Restored size: SIZE_RATIO x the backup, or the existing database if that is larger."""
    return max(SIZE_RATIO * backup_bytes, existing_bytes or 0)


def estimated_seconds(database_bytes: int) -> float:
    """Machine time to restore and verify a database of this size (measured rate)."""
    return SECONDS_PER_GB * database_bytes / 1e9


def check_r2_list(client: S3Client, bucket: str, subfolder: str, st: State) -> Check:
    try:
        st.backup = latest_backup(client, bucket, subfolder)
    except RunbookError as exc:
        return failed("R2 list", exc)
    return Check(
        "R2 list",
        "OK",
        f"newest backup {st.backup.key} "
        f"({human_size(st.backup.size)}, taken {human_age(st.backup.taken_at)})",
    )


def check_r2_read(client: S3Client, st: State) -> Check:
    assert st.backup is not None, "check_r2_list first"
    try:
        st.info = inspect(st.backup.uri, client=client, with_toc=False)
    except RunbookError as exc:
        return failed("R2 read", exc)
    return Check(
        "R2 read",
        "OK",
        f"read the newest backup's header: archive {st.info.archive_version}, "
        f"pg_dump {st.info.pg_dump_version}",
    )


def check_token_scope(client: S3Client, bucket: str) -> Check:
    """Whether the token may write, found without writing (a PUT that cannot succeed)."""
    loc = S3Location(bucket, PROBE_KEY)
    try:
        client.put_object(Bucket=bucket, Key=PROBE_KEY, Body=b"", IfMatch='"preflight"')
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in {"AccessDenied", "Unauthorized", "Forbidden", "403"}:
            return Check("R2 token", "OK", "read-only: a write was refused (AccessDenied)")
        if code in {"NoSuchKey", "PreconditionFailed", "404", "412"}:
            return Check(
                "R2 token",
                "WARN",
                f"this token can also write to {bucket} (nothing was written)",
                "use the read-only token for restores: Cloudflare → R2 → Manage R2 API Tokens",
            )
        return Check("R2 token", "WARN", f"write scope unknown: the probe answered {code}")
    return Check(
        "R2 token",
        "WARN",
        f"this token can write, and the endpoint ignored If-Match: it wrote {loc.uri} (empty)",
        f"delete it with the writer token: aws s3 rm {loc.uri}",
    )


def check_tools(st: State) -> Check:
    missing = [name for name in TYPED_TOOLS if shutil.which(name) is None]
    if missing:
        return Check(
            "tools",
            "FAIL",
            f"not on PATH: {', '.join(missing)} (the pages type them)",
            "install the PostgreSQL client tools (setup.md) and put their bin directory on PATH",
            ExitStatus.NOT_FOUND,
        )
    info = st.info
    if info is None:
        return Check("tools", "WARN", "pg_restore not checked (no backup)")
    if not info.compatible:
        return Check(
            "tools",
            "FAIL",
            info.incompatibility or "pg_restore cannot read the newest backup",
            info.install_hint or "",
            ExitStatus.INCOMPATIBLE,
        )
    return Check(
        "tools",
        "OK",
        f"pg_restore {info.local_pg_restore_major} reads the newest backup's archive "
        f"{info.archive_version} (needs >= {info.required_pg_restore_major}); "
        f"{', '.join(TYPED_TOOLS)} found",
    )


def check_target(target: Target, *, production: bool, st: State) -> Check:
    try:
        check_not_production(target, production=production)
        with maintenance_connection(target) as conn:
            version = conn.execute("show server_version").fetchone()
            can_create = conn.execute(
                "select rolcreatedb or rolsuper from pg_roles where rolname = current_user"
            ).fetchone()
            exists = conn.execute(
                "select pg_database_size(datname) from pg_database where datname = %s",
                (target.dbname,),
            ).fetchone()
            largest = conn.execute(
                "select max(pg_database_size(datname)) from pg_database where datallowconn"
            ).fetchone()
            wal = conn.execute(
                "select pg_size_bytes(setting || coalesce(unit, '')) "
                "from pg_settings where name = 'max_wal_size'"
            ).fetchone()
            st.existing_bytes = int(largest[0]) if largest and largest[0] else None
            st.max_wal_bytes = int(wal[0]) if wal else None
            st.free_bytes = _local_free_bytes(conn, target)
    except RunbookError as exc:
        return failed("target", exc)
    where = f"{target.host}:{target.port}"
    server = f"PostgreSQL {version[0] if version else '?'}"
    if exists is not None and _has_tables(target):
        return Check(
            "target",
            "FAIL",
            f"{where} ({server}): database {target.dbname} already exists "
            f"and holds tables ({human_size(int(exists[0]))})",
            "restore into a new database name, or drop it first if it is a leftover",
            ExitStatus.UNSAFE_TARGET,
        )
    if not (can_create and can_create[0]):
        return Check(
            "target",
            "FAIL",
            f"{where} ({server}): role {target.user} may not create databases",
            "connect as the database owner (Railway: the postgres user of DATABASE_PUBLIC_URL)",
            ExitStatus.ACCESS_DENIED,
        )
    state = "exists and is empty" if exists is not None else "does not exist yet"
    return Check("target", "OK", f"{where} reachable ({server}); {target.dbname} {state}")


def _has_tables(target: Target) -> bool:
    with connect(target.url) as conn:
        return bool(user_tables(conn))


def _local_free_bytes(conn: Any, target: Target) -> int | None:
    """Free bytes on the data directory's volume when the server runs on this machine."""
    host = target.host
    if not (host in _LOCAL_HOSTS or host.startswith("/")):
        return None
    try:
        row = conn.execute("show data_directory").fetchone()
    except Exception:  # not superuser / pg_read_all_settings: the path is hidden
        return None
    path = Path(str(row[0])) if row else None
    if path is None or not path.exists():
        return None
    return shutil.disk_usage(path).free


def check_space(st: State, free_override: int | None) -> Check:
    if st.backup is None:
        return Check("space", "WARN", "not estimated: no backup listed")
    need = estimated_restored_bytes(st.backup.size, st.existing_bytes) + (st.max_wal_bytes or 0)
    largest = st.existing_bytes
    how = (
        f"{SIZE_RATIO} x {human_size(st.backup.size)} backup"
        + (f" or the largest database ({human_size(largest)})" if largest else "")
        + (
            f", + max_wal_size {human_size(st.max_wal_bytes)}"
            if st.max_wal_bytes is not None
            else ", + WAL (max_wal_size unknown: server not reached)"
        )
    )
    free = free_override if free_override is not None else st.free_bytes
    if free is None:
        return Check(
            "space",
            "WARN",
            f"need about {human_size(need)} ({how}); free space on the server's volume: unknown "
            "(PostgreSQL does not report it)",
            "read it in Railway → Postgres → Metrics (volume usage), then pass --free SIZE",
        )
    source = "as given" if free_override is not None else "on the data directory's volume"
    if free < need:
        err = NoSpace(
            f"need about {human_size(need)} ({how}); only {human_size(free)} free ({source})",
            "grow the volume (Railway → Postgres → Settings → Volume) or drop old copies",
        )
        return failed("space", err)
    detail = f"need about {human_size(need)} ({how}); {human_size(free)} free ({source})"
    return Check("space", "OK", detail)


def check_duration(st: State) -> Check:
    if st.backup is None:
        return Check("duration", "WARN", "not estimated: no backup listed")
    size = estimated_restored_bytes(st.backup.size, st.existing_bytes)
    seconds = estimated_seconds(size)
    when = "under 1 min" if seconds < 60 else f"about {seconds / 60:.0f} min"
    return Check(
        "duration",
        "OK",
        f"{when} of machine time for ~{human_size(size)} of database "
        f"({SECONDS_PER_GB} s per GB measured on 2 cores; see Time estimates)",
    )


def run_preflight(
    client_factory: Callable[[], S3Client],
    bucket: str,
    subfolder: str,
    target: Target,
    *,
    production: bool = False,
    free_bytes: int | None = None,
    profile: str | None = None,
) -> Report:
    """Run every check, in the order the checklist prints them."""
    st = State()
    report = Report()
    try:
        client = client_factory()
    except RunbookError as exc:
        report.checks.append(failed("R2 list", exc))
        client = None
    if client is not None:
        report.checks.append(check_r2_list(client, bucket, subfolder, st))
        if st.backup is not None:
            report.checks.append(check_r2_read(client, st))
            report.checks.append(check_token_scope(client, bucket))
    report.checks.append(check_tools(st))
    report.checks.append(check_psql())
    report.checks.append(check_aws_cli(profile))
    report.checks.append(check_target(target, production=production, st=st))
    report.checks.append(check_space(st, free_bytes))
    report.checks.append(check_duration(st))
    return report
