"""Check a restored database: exact row counts and newest ``created_at`` per table.

The expected side is a backup's ``.manifest.json`` (counts taken in the dump's own snapshot) or
another database (``--against``). ``reltuples`` is never used: it is -1 before ANALYZE.
The restore marker (``COMMENT ON DATABASE`` written by :mod:`runbook_helpers.restore.dispatch`) is
reported too: a restore that is still marked IN PROGRESS or FAILED is incomplete.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from runbook_helpers.archive.counts import archive_table_stats
from runbook_helpers.archive.manifest import (
    Manifest,
    TableCheck,
    TableStats,
    compare,
    table_stats,
)
from runbook_helpers.errors import NotFound, RestoreFailed, VerifyMismatch
from runbook_helpers.pg.marker import marker_state, read_marker
from runbook_helpers.pg.target import Target, connect
from runbook_helpers.r2 import storage
from runbook_helpers.r2.errors import translate_errors


@dataclass
class VerifyReport:
    target: str
    database: str
    reference: str | None  # "manifest <path>" / "database <url>" / None
    marker: str | None
    marker_state: str
    tables: list[TableCheck] = field(default_factory=list)

    @property
    def differences(self) -> list[TableCheck]:
        return [t for t in self.tables if t.status not in ("ok", "-")]

    @property
    def complete(self) -> bool:
        return self.marker_state not in ("in_progress", "failed")

    @property
    def ok(self) -> bool:
        return self.complete and not self.differences

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        data["complete"] = self.complete
        return data


def load_manifest(source: str, *, client: Any = None) -> Manifest:
    """A manifest from a local file or ``s3://``; a backup's key finds its ``.manifest.json``."""
    if not source.endswith(".json"):
        source += ".manifest.json"
    if storage.is_s3_uri(source):
        loc = storage.S3Location.parse(source)
        with translate_errors(loc):
            text = storage.read_text(client or storage.s3_client(), loc)
        if text is None:
            raise NotFound(
                f"no manifest at {source}",
                hint="backups made by the Railway template carry none: use --archive BACKUP "
                "(row counts read from the backup itself) or --against URL",
            )
        return Manifest.from_json(text)
    path = Path(source)
    if not path.is_file():
        raise NotFound(f"no manifest file {source}", hint="check the path")
    return Manifest.load(path)


def database_stats(url: str) -> tuple[dict[str, TableStats], str | None, str]:
    """(per-table stats, restore marker, database name) of the database at ``url``."""
    try:
        conn = connect(url, autocommit=False)
    except NotFound as exc:  # connect's own hint offers restore's --create
        raise NotFound(
            str(exc),
            hint="check the database name in the URL; `runbook restore --create` makes one",
        ) from None
    with conn:
        conn.execute("set transaction isolation level repeatable read")
        stats = table_stats(conn)
        marker = read_marker(conn)
        dbname = conn.info.dbname
        conn.rollback()
    return stats, marker, dbname


class _Background(threading.Thread):
    """Reads the archive (gunzip runs in C without the GIL) while the database counts its rows.

    A daemon: when the database side fails first, its error is reported without waiting."""

    def __init__(self, fn: Any, archive: str, client: Any) -> None:
        super().__init__(name="runbook-archive-counts", daemon=True)
        self.fn, self.archive, self.client = fn, archive, client
        self.value: dict[str, TableStats] = {}
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            self.value = self.fn(self.archive, client=self.client)
        except BaseException as exc:  # re-raised in the caller's thread
            self.error = exc

    def result(self) -> dict[str, TableStats]:
        self.join()
        if self.error is not None:
            raise self.error
        return self.value


def verify(
    target_url: str,
    *,
    manifest: Manifest | None = None,
    manifest_name: str | None = None,
    against_url: str | None = None,
    archive: str | None = None,
    client: Any = None,
) -> VerifyReport:
    """Compare the database at ``target_url`` with a manifest, another database, the rows
    stored in a backup archive (local file or s3://), or nothing."""
    expected: dict[str, TableStats] | None = None
    reference = None
    reading = _Background(archive_table_stats, archive, client) if archive is not None else None
    actual, marker, dbname = database_stats(target_url)
    if reading is not None:
        expected = reading.result()
        reference = f"archive {archive}"
    elif manifest is not None:
        expected = manifest.tables
        reference = f"manifest {manifest_name or manifest.key}"
    elif against_url is not None:
        expected, _, _ = database_stats(against_url)
        reference = f"database {Target.parse(against_url).display}"
    return VerifyReport(
        target=Target.parse(target_url).display,
        database=dbname,
        reference=reference,
        marker=marker,
        marker_state=marker_state(marker),
        tables=compare(expected, actual),
    )


def check(report: VerifyReport) -> None:
    """Raise the typed error for a failed report (incomplete restore first, then mismatches)."""
    if not report.complete:
        raise RestoreFailed(
            f"the database {report.database} is INCOMPLETE: its restore marker says "
            f"{report.marker!r}",
            hint="restore again into a new database (`runbook restore --side-db`); drop "
            f"{report.database} only if nothing else lives in it",
        )
    diffs = report.differences
    if diffs:
        shown = ", ".join(f"{d.table} ({d.status})" for d in diffs[:5])
        raise VerifyMismatch(
            f"{len(diffs)} table(s) differ from the {report.reference}: {shown}",
            hint="the restore is not a faithful copy: check the restore output, or whether the "
            "manifest belongs to this backup",
        )
