"""The central job: latest backup -> scratch database -> scrub + scan -> dev-snapshot bucket.

Developers never download production backups: one job (with the production read token) makes
a scrubbed snapshot, and only a snapshot whose scrub and dump scan passed is uploaded, to a
separate bucket, as a fresh ``pg_dump`` (old row versions never leave) in the backup template's
format (``.tar.gz``, with ``.sha256`` and ``.manifest.json``), so ``runbook restore`` streams and
checks it like any backup. The scratch database is dropped whatever happens.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from psycopg import sql

from runbook_helpers.backup import BackupResult, create_backup
from runbook_helpers.errors import UnsafeTarget
from runbook_helpers.restore import RestoreOptions, restore
from runbook_helpers.scrub.policy import Policy
from runbook_helpers.scrub.run import LeakFound, ScrubResult, scrub
from runbook_helpers.storage import S3Client
from runbook_helpers.target import Target, database_exists, maintenance_connection

SNAPSHOT_BUCKET = "vlvt-dev-snapshots"
SNAPSHOT_PREFIX = "vlvt_dev_snapshot"


@dataclass(frozen=True)
class SnapshotResult:
    scrub: ScrubResult
    upload: BackupResult


def dev_snapshot(
    source: str,
    source_client: S3Client | None,
    scratch_url: str,
    policy: Policy,
    dest_client: S3Client,
    dest_bucket: str = SNAPSHOT_BUCKET,
    *,
    file_prefix: str = SNAPSHOT_PREFIX,
    on_stage: Callable[[str], None] | None = None,
) -> SnapshotResult:
    """Restore ``source`` into the new database ``scratch_url``, scrub, scan, upload, drop it."""
    note = on_stage or (lambda _msg: None)
    scratch = Target.parse(scratch_url)
    if database_exists(scratch, scratch.dbname):
        raise UnsafeTarget(
            f"the scratch database {scratch.dbname} already exists; nothing was changed",
            hint="name a database that does not exist: dev-snapshot creates and drops it",
        )
    try:
        note(f"restoring {source} into {scratch.dbname}")
        restore(source, scratch_url, RestoreOptions(create=True, client=source_client))
        note(f"scrubbing {scratch.dbname} with {policy.source}")
        scrubbed = scrub(scratch_url, policy, vacuum=False, on_stage=note)
        note(f"uploading a fresh dump of the verified copy to s3://{dest_bucket}")
        upload = create_backup(scratch_url, dest_client, dest_bucket, file_prefix=file_prefix)
    except LeakFound as leak:
        raise LeakFound(
            f"{leak}; nothing was uploaded, the scratch database was dropped",
            hint=f"fix the rules for those tables in {policy.source}, then re-run",
            findings=leak.findings,
        ) from None
    finally:
        _drop(scratch)
    return SnapshotResult(scrubbed, upload)


def _drop(target: Target) -> None:
    """Drop the scratch database (it may hold unscrubbed data) if it was created."""
    if not database_exists(target, target.dbname):
        return
    with maintenance_connection(target) as conn:
        conn.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(target.dbname)))
