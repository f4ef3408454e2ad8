"""One restore run: what is restored, how, and into what - opened once, then read by every stage.

:class:`RestoreRun` is frozen. It carries the source (:class:`Source`: where it is, whether it is
local, its format, size and ``.sha256`` sidecar), the plan (:class:`Plan`: a :class:`Method`
and its reason), the database restored into, the tool, the sha256 hasher and byte counter that
every read of the source feeds, and the :class:`Timings` each stage adds itself to. The runners
(:mod:`runbook_helpers.restore.runners`) and the rows check (:mod:`runbook_helpers.restore.rows`)
take it instead of loose values, and return a :class:`Restored`.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from runbook_helpers import interrupts
from runbook_helpers.archive.counts import TarStats
from runbook_helpers.archive.manifest import TableStats
from runbook_helpers.archive.source import OpenedSource
from runbook_helpers.pg.target import Target
from runbook_helpers.r2 import storage
from runbook_helpers.redact import redact_text
from runbook_helpers.restore.checksum import check_sha, sidecar_sha256
from runbook_helpers.restore.options import RestoreOptions
from runbook_helpers.restore.source_bytes import ByteCounter, archive_bytes
from runbook_helpers.restore.tools import Into


class Method(Enum):
    """How the restore runs (:mod:`runbook_helpers.restore.runners` has one runner each)."""

    STREAM = "stream"  # one transaction, committed after the checks: pg_restore -f - | psql
    FILE = "file"  # pg_restore from a regular file (-j N for custom and directory archives)
    PARALLEL = "parallel"  # a tar's rows streamed into N COPY sessions, then pg_restore -j N


@dataclass(frozen=True)
class Plan:
    method: Method
    reason: str


@dataclass(frozen=True)
class Source:
    """The backup being restored. ``local`` is decided here, once: the local path, or None for
    an R2 object (``s3://``)."""

    where: str  # as given: a path or s3:// URI (shown only as ``safe``)
    local: Path | None
    format: str
    size: int | None
    sidecar: str | None  # the digest in ``<where>.sha256``; None: there is none (or a directory)

    @classmethod
    def of(cls, opened: OpenedSource, client: Any) -> Source:
        local = None if storage.is_s3_uri(opened.source) else Path(opened.source)
        sidecar = None
        if opened.format != "directory":
            sidecar = sidecar_sha256(opened.source, client, r2=local is None)
        return cls(opened.source, local, opened.format, opened.size, sidecar)

    @property
    def safe(self) -> str:
        return redact_text(self.where)

    @property
    def regular_file(self) -> Path | None:
        """The local file, when it is a regular one (it can be read a second time, see
        :mod:`runbook_helpers.archive.reread`); an R2 object or a pipe is read once."""
        return self.local if self.local is not None and self.local.is_file() else None


class Timings:
    """The seconds each stage of one restore took, in the order they ran; each adds its own."""

    def __init__(self) -> None:
        self._seconds: dict[str, float] = {}

    def add(self, stage: str, since: float) -> float:
        """Record ``stage`` as having run from ``since`` (``time.perf_counter()``) until now."""
        seconds = time.perf_counter() - since
        self._seconds[stage] = seconds
        return seconds

    def as_dict(self) -> dict[str, float]:
        return dict(self._seconds)


@dataclass(frozen=True)
class Restored:
    """What a runner did: how (for the result), the rows it read from the archive, and the rows
    it already counted in the restored database (the parallel runner, with ANALYZE)."""

    method: str
    tar_stats: TarStats | None = None
    settled: dict[str, TableStats] | None = None


@dataclass(frozen=True)
class RestoreRun:
    source: Source
    opened: OpenedSource
    consumed: list[bytes]  # the head bytes read before the plan was made
    plan: Plan
    target: Target
    dbname: str  # the database restored into: the target's, or its side database
    tool: Path  # pg_restore, or the restricted psql for plain SQL
    jobs: int
    options: RestoreOptions
    counter: ByteCounter
    hasher: Any = field(default_factory=hashlib.sha256)
    timings: Timings = field(default_factory=Timings)

    def stage(self, message: str) -> None:
        """Tell the reader what just happened (``--progress`` notes, or info lines)."""
        if self.options.on_stage:
            self.options.on_stage(message)

    @property
    def into(self) -> Into:
        """Where pg_restore and psql write: the restored database, password kept in the env."""
        return Into(self.target.conninfo(self.dbname, with_password=False), self.target.tool_env())

    @property
    def workdir(self) -> Path:
        return self.options.workdir or Path(tempfile.gettempdir())

    def chunks(self, tar_stats: TarStats | None = None) -> Iterator[bytes]:
        """The one read of the source (:func:`~runbook_helpers.restore.source_bytes.archive_bytes`):
        hashed and counted as stored, gunzipped, a tar's rows counted into ``tar_stats``."""
        return archive_bytes(self.opened, self.consumed, self.hasher, self.counter, tar_stats)

    def check_sidecar(self, left: str = "") -> None:
        """IntegrityError if the bytes read so far do not hash to the sidecar's digest; and,
        as this is the last check before a COMMIT, KeyboardInterrupt if a stopping signal came
        whose exception Python dropped (:mod:`runbook_helpers.interrupts`)."""
        interrupts.raise_if_interrupted()
        check_sha(self.source.sidecar, self.hasher.hexdigest(), self.source.where, left=left)
