"""The central job: latest backup -> scratch database -> scrub + scan -> dev-snapshot bucket.

Developers never download production backups: one job (with the production read token) makes
a scrubbed snapshot, and only a snapshot whose scrub and dump scan passed is uploaded, to a
separate bucket, as a fresh ``pg_dump`` (old row versions never leave) in the backup template's
format (``.tar.gz``, with ``.sha256``, ``.manifest.json`` and ``.scrub.json``: the source
backup, the policy's sha256, what was rewritten), so ``runbook restore`` streams and
checks it like any backup. The scratch database is dropped whatever happens.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from psycopg import sql

from runbook_helpers.errors import UnsafeTarget
from runbook_helpers.pg.target import Target, database_exists, maintenance_connection
from runbook_helpers.produce.backup import BackupResult, create_backup
from runbook_helpers.r2.storage import S3Client, S3Location, put_text
from runbook_helpers.restore.dispatch import RestoreOptions, restore
from runbook_helpers.scrub.policy import Policy
from runbook_helpers.scrub.run import LeakFound, ScrubResult, scrub

SNAPSHOT_BUCKET = "vlvt-dev-snapshots"
SNAPSHOT_PREFIX = "vlvt_dev_snapshot"
SCRUB_SIDECAR = ".scrub.json"


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
        record = scrub_record(source, policy, scrubbed)
        put_text(
            dest_client,
            S3Location(dest_bucket, upload.key).sidecar(SCRUB_SIDECAR),
            record,
            "application/json",
        )
    except LeakFound as leak:
        raise LeakFound(
            f"{leak}; nothing was uploaded, the scratch database was dropped",
            hint=f"fix the rules for those tables in {policy.source}, then re-run",
            findings=leak.findings,
        ) from None
    finally:
        _drop(scratch)
    return SnapshotResult(scrubbed, upload)


def scrub_record(source: str, policy: Policy, result: ScrubResult) -> str:
    """``KEY.scrub.json``: which backup and which policy (by hash) made the snapshot, and how."""
    policy_text = Path(policy.source).read_bytes() if Path(policy.source).is_file() else b""
    return json.dumps(
        {
            "source": source,
            "policy": policy.source,
            "policy_sha256": hashlib.sha256(policy_text).hexdigest(),
            "columns": result.columns,
            "columns_rewritten": result.changed,
            "tables_dropped": result.dropped,
            "sampled_originals": result.sampled,
            "scan_findings": 0,
            "seconds": {k: round(v, 2) for k, v in result.stages.items()},
        },
        indent=2,
    )


def _drop(target: Target) -> None:
    """Drop the scratch database (it may hold unscrubbed data) if it was created."""
    if not database_exists(target, target.dbname):
        return
    with maintenance_connection(target) as conn:
        conn.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(target.dbname)))
