"""What a restore is asked to do (:class:`RestoreOptions`) and what it did (:class:`RestoreResult`).

Import them from :mod:`runbook_helpers.restore.dispatch`, whose ``restore()`` takes and returns
them;
they live here to keep that module to the plan and its dispatch.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runbook_helpers.archive.manifest import TableCheck


@dataclass
class RestoreOptions:
    jobs: int = 0  # 0: min(4, CPUs)
    allow_non_empty: bool = False
    production: bool = False
    create: bool = False
    side_db: bool = False
    swap: bool = False
    analyze: bool = True
    # maintenance_work_mem (kB) of a parallel restore's index builds, raised to this if lower;
    # None: the server's (runbook_helpers.restore.memory)
    maintenance_work_mem: int | None = None
    workdir: Path | None = None  # where custom archives are downloaded (default: a temp dir)
    format: str | None = None  # --format: tar | custom | directory | plain (None: by its name)
    client: Any = None  # boto3 S3 client for s3:// sources
    # progress callbacks: on_stage(message), on_bytes(raw bytes read so far), on_total(size of
    # the source in bytes, 0 when unknown; called once, before any on_bytes)
    on_stage: Callable[[str], None] | None = None
    on_bytes: Callable[[int], None] | None = None
    on_total: Callable[[int], None] | None = None
    # test hook: called with each pg_restore/psql process once it has started (a streamed
    # archive: pg_restore first, then psql)
    on_process: Callable[[subprocess.Popen[bytes]], None] | None = None


#: stages timed inside the ``restore`` stage of a parallel restore: shown, not added again
RESTORE_PARTS = frozenset({"tables+rows", "indexes+constraints", "rows+analyze"})


@dataclass
class RestoreResult:
    source: str
    target: str  # redacted URL of the database actually restored
    database: str
    format: str
    method: str
    archive_version: str | None
    tool: str
    bytes_read: int
    sha256: str
    checksum: str  # "verified" | "no sidecar" | "not checked"
    stages: dict[str, float] = field(default_factory=dict)
    tables: int = 0
    swapped_old: str | None = None
    marker: str = ""
    # rows (and newest created_at) per table read from the archive while it was restored,
    # compared with the restored database; None when the path does not read the tar's bytes
    checked: list[TableCheck] | None = None

    @property
    def seconds(self) -> float:
        """Wall time of the stages (a parallel restore's two parts are inside ``restore``)."""
        return sum(v for k, v in self.stages.items() if k not in RESTORE_PARTS)


def default_jobs() -> int:
    return max(1, min(4, os.cpu_count() or 1))
