"""Restore a dump into a PostgreSQL database, by the fastest path that is still correct.

* ``tar.gz`` / ``tar`` with ``--jobs`` above 1 and room for the extracted copy (the pre-check,
  :func:`runbook_helpers.restore_parallel.choose`, says which path and why): extracted while
  read, ``pg_restore -Fd -j N`` into a side database renamed to the target only after every
  check (:mod:`runbook_helpers.restore_parallel`).
* otherwise ``tar.gz`` / ``tar`` / ``custom.gz`` read from S3 or a local ``.gz``: streamed, no
  local copy (GET -> gunzip in Python -> ``pg_restore --single-transaction -f -`` -> ``psql``)
  in one transaction whose COMMIT is sent only after the gzip CRC/length and the ``.sha256``
  sidecar have been checked to the last byte (:mod:`runbook_helpers.restore_stream`): damage
  found at the very end commits nothing. (pg_restore cannot restore a tar archive or stdin
  in parallel: hence the extracted copy above.)
* Either tar path counts the rows (and newest ``created_at``) of every table from the archive's
  bytes as they go by (:class:`runbook_helpers.archive_counts.TarStats`) and compares them with
  the restored database before the DONE mark: a difference is exit 10.
* ``custom`` / ``directory``: from a regular file (downloaded and checked first when on S3) with
  ``pg_restore -j N --exit-on-error``.
* ``plain`` / ``plain.gz``: only with ``--format plain`` (:mod:`runbook_helpers.restore_plain`):
  psql in restricted mode, one transaction whose COMMIT is sent by us after the checks.

Nothing in a backup runs as a psql meta-command: psql always runs in restricted mode
(:mod:`runbook_helpers.psql_restricted`), and content that is not what its name (or
``--format``) says is refused before anything is written. Never into postgres/template0/
template1; one restore per target at a time (:mod:`runbook_helpers.restore_lock`).

Always ``--no-owner --no-privileges``; never "errors ignored". The target carries a marker
(``COMMENT ON DATABASE``) that says "restore IN PROGRESS" until the restore has succeeded, so an
interrupted restore is never mistaken for a good one (``runbook verify`` reports it). What a
failure left is said exactly (:mod:`runbook_helpers.restore_outcome`); tools' failures become
typed errors in :mod:`runbook_helpers.restore_tools`; ``--swap`` is
:mod:`runbook_helpers.restore_swap`.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runbook_helpers import (
    archive,
    archive_format,
    restore_parallel,
    restore_plain,
    restore_rows,
    restore_stream,
    storage,
)
from runbook_helpers.archive_counts import TarStats
from runbook_helpers.errors import (
    Incompatible,
    IntegrityError,
    NoSpace,
    RunbookError,
)
from runbook_helpers.fetch import parse_sha256_sidecar
from runbook_helpers.marker import (
    MARKER_IN_PROGRESS,
    read_marker,
    set_marker,
    utc_now,
)
from runbook_helpers.pgtools import tool_version
from runbook_helpers.prefetch import prefetch
from runbook_helpers.psql_restricted import restricted_psql
from runbook_helpers.redact import redact_text
from runbook_helpers.restore_lock import restore_lock
from runbook_helpers.restore_outcome import Prior, fail
from runbook_helpers.restore_swap import swap_databases
from runbook_helpers.restore_tools import PartialCommit, ToolFailed, raise_for, wait
from runbook_helpers.target import (
    Target,
    check_not_production,
    check_target_name,
    connect,
    connect_error,
    create_database,
    database_exists,
    derived_name,
    ensure_empty,
    user_tables,
)
from runbook_helpers.verify import TableCheck

NOTHING_RESTORED = "; nothing was restored"


@dataclass
class RestoreOptions:
    jobs: int = 0  # 0: min(4, CPUs)
    allow_non_empty: bool = False
    production: bool = False
    create: bool = False
    side_db: bool = False
    swap: bool = False
    analyze: bool = True
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
        return sum(self.stages.values())


def default_jobs() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def sidecar_sha256(source: str, client: Any = None) -> str | None:
    """The hex digest in ``<source>.sha256`` (sha256sum format), or None when there is none."""
    text: str | None
    if storage.is_s3_uri(source):
        loc = storage.S3Location.parse(source)
        with storage.translate_errors(loc):
            text = storage.read_text(
                client or storage.s3_client(), storage.S3Location(loc.bucket, loc.key + ".sha256")
            )
    else:
        side = Path(source + ".sha256")
        text = side.read_text(encoding="utf-8") if side.is_file() else None
    if not text or not text.split():
        return None
    return parse_sha256_sidecar(text)


def restore(source: str, target_url: str, options: RestoreOptions | None = None) -> RestoreResult:
    """Restore ``source`` (path or s3:// URI) into ``target_url``; see the module docstring."""
    opts = options or RestoreOptions()
    stage = opts.on_stage or (lambda _msg: None)
    target = Target.parse(target_url)
    check_not_production(target, production=opts.production)
    check_target_name(target)
    if opts.swap:
        opts.side_db = True
    jobs = opts.jobs or default_jobs()
    started = utc_now()
    stamp = f"{started:%Y%m%d%H%M%S}_{secrets.token_hex(2)}"  # unique within one second
    safe_source = redact_text(source)
    stages: dict[str, float] = {}
    lock = contextlib.ExitStack()

    with lock, archive.open_source(source, client=opts.client) as opened:
        fmt = opened.format
        if opts.on_total:
            opts.on_total(opened.size or 0)
        try:
            head, consumed = archive.decompressed_head(opened)
        except IntegrityError as exc:
            raise IntegrityError(
                f"{exc}; nothing was restored",
                hint=exc.hint or "fetch the backup again; if it persists, use an older backup",
            ) from None
        _check_content(source, fmt, head, opts.format)
        header = archive_format.header_from_head(fmt, head)
        tool = _pick_tool(fmt, header)
        expected_sha = sidecar_sha256(source, opts.client) if fmt != "directory" else None

        # --- prepare the target (nothing is written before every check has passed)
        if opts.swap or not opts.side_db:  # a side database of its own needs no lock
            lock.enter_context(restore_lock(target, target.dbname))
        dbname = target.dbname
        prior = Prior()
        target_exists = opts.side_db or database_exists(target, dbname)
        if not opts.side_db and target_exists:
            with connect(target.url, dbname=dbname) as conn:
                ensure_empty(conn, target.url, allow_non_empty=opts.allow_non_empty)
                prior.tables = len(user_tables(conn))
                prior.comment = read_marker(conn)
        elif not target_exists and not opts.create:
            raise connect_error(target, dbname, Exception(f'database "{dbname}" does not exist'))
        plan = None
        if fmt in ("tar", "tar.gz"):  # the pre-check: parallel or serial, and why
            sessions = restore_parallel.sessions_on(target) if not opts.side_db else 0
            plan = restore_parallel.choose(
                opened,
                jobs,
                opts.workdir,
                target_tables=prior.tables,
                target_sessions=sessions if target_exists else 0,
                client_major=tool_version(tool)[0],
                server_major=restore_parallel.server_major(target),
            )
            stage(plan.reason)
        hidden = plan is not None and plan.parallel and not opts.side_db
        if opts.side_db or hidden:
            dbname, cut = derived_name(target.dbname, f"_restore_{stamp}")
            if cut:
                stage(f"side database name shortened to {dbname} (PostgreSQL keeps 63 bytes)")
            create_database(target, dbname)
            prior.created = True
            stage(f"created side database {dbname}")
        elif not target_exists:
            create_database(target, dbname)
            prior.created = True
            stage(f"created database {dbname}")

        method, local_file = _plan(fmt, opened, jobs)
        if plan is not None and plan.parallel:
            method = "parallel"
        hasher = hashlib.sha256()
        counter = _Counter(opts.on_bytes)
        tar_stats = TarStats() if fmt.startswith("tar") and method != "file" else None
        tmpdir: tempfile.TemporaryDirectory[str] | None = None
        try:
            if method == "file" and local_file is None:
                # custom archive on S3 (or gzip'd): download (and gunzip) to a file, then -j
                tmpdir = tempfile.TemporaryDirectory(prefix="runbook-restore-", dir=opts.workdir)
                t0 = time.perf_counter()
                local_file = _download(opened, consumed, Path(tmpdir.name), hasher, counter)
                stages["fetch"] = time.perf_counter() - t0
                stage(f"fetched {counter.total:,} bytes in {stages['fetch']:.1f}s")
                _check_sha(expected_sha, hasher.hexdigest(), source, where=NOTHING_RESTORED)
            elif (
                method == "file" and local_file is not None and expected_sha and fmt != "directory"
            ):
                t0 = time.perf_counter()
                with open(local_file, "rb") as f:
                    for chunk in archive.iter_file(f):
                        hasher.update(chunk)
                        counter(chunk)
                stages["checksum"] = time.perf_counter() - t0
                _check_sha(expected_sha, hasher.hexdigest(), source, where=NOTHING_RESTORED)

            try:
                with connect(target.url, dbname=dbname) as conn:
                    set_marker(
                        conn, dbname, MARKER_IN_PROGRESS.format(source=safe_source, at=started)
                    )
            except BaseException as exc:  # a side database nobody asked for is not left behind
                if hidden:
                    restore_parallel.fail_hidden(target, dbname, exc)
                raise
            conninfo = target.conninfo(dbname, with_password=False)
            t0 = time.perf_counter()
            try:
                if method == "parallel":
                    assert plan is not None
                    with restore_parallel.workspace(plan.workdir) as directory:
                        chunks = prefetch(_archive_bytes(opened, consumed, hasher, counter))
                        tar_stats = restore_parallel.extract(chunks, directory)
                        stages["read+extract"] = time.perf_counter() - t0
                        stage(f"read and extracted in {stages['read+extract']:.1f}s")
                        _check_sha(expected_sha, hasher.hexdigest(), source, where="")
                        t0 = time.perf_counter()
                        restore_parallel.run_pg_restore(
                            tool, directory, conninfo, target.tool_env(), jobs
                        )
                    desc = f"pg_restore -j {jobs} from the extracted archive (into {dbname})"
                elif method == "file":
                    assert local_file is not None
                    desc = _run_file(
                        tool, fmt.removesuffix(".gz"), local_file, conninfo, target, jobs, opts
                    )
                else:

                    def checks() -> None:  # before anything commits: the whole source was read
                        _check_sha(expected_sha, hasher.hexdigest(), source, where="")

                    desc = _run_stream(
                        tool,
                        fmt,
                        opened,
                        consumed,
                        conninfo,
                        target,
                        hasher,
                        counter,
                        opts,
                        checks,
                        tar_stats,
                    )
            except (ToolFailed, RunbookError, KeyboardInterrupt) as exc:
                if hidden:
                    restore_parallel.fail_hidden(target, dbname, exc)
                if not isinstance(exc, (ToolFailed, IntegrityError, KeyboardInterrupt)):
                    raise
                partial = (method == "file" and _parallel(fmt, jobs)) or isinstance(
                    exc, PartialCommit
                )
                fail(target, dbname, safe_source, partial, prior, exc)
            stages["restore" if method != "stream" else "stream+restore"] = time.perf_counter() - t0
            stage(f"restored with {desc} in {time.perf_counter() - t0:.1f}s")
        finally:
            if tmpdir is not None:
                tmpdir.cleanup()

        try:
            checked, marker, tables = restore_rows.finish(
                target, dbname, safe_source, tar_stats, prior, opts.analyze, stages, stage
            )
        except BaseException as exc:
            if hidden:
                restore_parallel.fail_hidden(target, dbname, exc)
            raise
        swapped_old = None
        final_db = dbname
        if hidden:  # every check has passed: the restored copy takes the target's name
            replaced = restore_parallel.rename_into_place(target, dbname, stamp)
            if replaced:
                restore_parallel.drop_database(target, replaced)
            final_db = target.dbname
            stage(f"renamed {dbname} to {final_db}")

    if opts.swap:
        t0 = time.perf_counter()
        swapped_old = swap_databases(target, dbname, stamp)
        if swapped_old and swapped_old != f"{target.dbname}_old_{stamp}":
            stage(f"previous database name shortened to {swapped_old} (63 bytes)")
        final_db = target.dbname
        stages["swap"] = time.perf_counter() - t0
        stage(
            f"swapped: {target.dbname} is the restored copy; the previous one is "
            f"{swapped_old or '(none existed)'}"
        )
    return RestoreResult(
        source=safe_source,
        target=target.display_for(final_db),
        database=final_db,
        format=fmt,
        method=desc,
        archive_version=header.version if header else None,
        tool=str(tool),
        bytes_read=counter.total,
        sha256=hasher.hexdigest() if counter.total else "",
        checksum=("verified" if expected_sha else "no sidecar") if counter.total else "not checked",
        stages=stages,
        tables=tables,
        swapped_old=swapped_old,
        marker=marker,
        checked=checked,
    )


def _check_content(source: str, fmt: str, head: bytes, requested: str | None) -> None:
    """Exit 7 when the content is not what its name or --format says (see archive_format)."""
    name = redact_text(source).rstrip("/").rsplit("/", 1)[-1]
    if fmt == "directory":
        if requested not in (None, "directory"):
            raise Incompatible(
                f"{name} is a directory archive, not what --format {requested} says",
                hint="pass --format directory, or leave --format out",
            )
        return
    archive_format.check_content(name, fmt, head, requested)


def _parallel(fmt: str, jobs: int) -> bool:
    return fmt.removesuffix(".gz") in archive.PARALLEL_FORMATS and jobs > 1


def _pick_tool(fmt: str, header: archive_format.ArchiveHeader | None) -> Path:
    if fmt.startswith("plain"):
        return restricted_psql()
    assert header is not None
    return archive.pg_restore_for(header)


def _plan(fmt: str, opened: archive.OpenedSource, jobs: int) -> tuple[str, Path | None]:
    """``("file", path-or-None-to-download)`` or ``("stream", None)``."""
    local = None if storage.is_s3_uri(opened.source) else Path(opened.source)
    if fmt == "directory" or fmt == "tar":
        return ("file", local) if local else ("stream", None)
    if fmt == "custom":
        return "file", local
    if fmt == "custom.gz" and jobs > 1:
        return "file", None
    return "stream", None


class _Counter:
    def __init__(self, on_bytes: Callable[[int], None] | None) -> None:
        self.total = 0
        self.on_bytes = on_bytes

    def __call__(self, chunk: bytes) -> None:
        self.total += len(chunk)
        if self.on_bytes:
            self.on_bytes(self.total)


def _archive_bytes(
    opened: archive.OpenedSource,
    consumed: list[bytes],
    hasher: Any,
    counter: _Counter,
    tar_stats: TarStats | None = None,
) -> Iterator[bytes]:
    """The archive's bytes (gunzipped if .gz); the stored bytes feed ``hasher`` and ``counter``,
    the decompressed ones ``tar_stats`` (rows counted on the way)."""
    if tar_stats is not None:  # read + gunzip in one thread, count + feed in this one
        return restore_rows.counted(
            prefetch(_archive_bytes(opened, consumed, hasher, counter)), tar_stats
        )

    def on_raw(chunk: bytes) -> None:
        hasher.update(chunk)
        counter(chunk)

    raw = itertools.chain(consumed, opened.rest)
    if opened.format.endswith(".gz"):
        return archive.iter_gunzip(raw, on_raw=on_raw)
    return _tap(raw, on_raw)


def _download(
    opened: archive.OpenedSource,
    consumed: list[bytes],
    dest_dir: Path,
    hasher: Any,
    counter: _Counter,
) -> Path:
    size = opened.size or 0
    free = shutil.disk_usage(dest_dir).free
    factor = 4 if opened.format.endswith(".gz") else 1
    if size * factor * 1.05 > free:
        raise NoSpace(
            f"{dest_dir} has {free:,} bytes free; the archive needs about {size * factor:,}",
            hint="free space, or set TMPDIR to a directory on a bigger disk",
        )
    path = dest_dir / "archive.dump"
    try:
        with path.open("wb") as f:
            for data in _archive_bytes(opened, consumed, hasher, counter):
                f.write(data)
    except OSError as exc:  # ENOSPC, EFBIG (a quota or file-size limit): nothing restored yet
        raise NoSpace(
            f"could not write the archive to {dest_dir}: {exc.strerror or exc}; "
            "nothing was restored",
            hint="free space, or pass --workdir on a bigger disk",
        ) from None
    return path


def _tap(chunks: Iterator[bytes], fn: Callable[[bytes], None]) -> Iterator[bytes]:
    for chunk in chunks:
        fn(chunk)
        yield chunk


def _check_sha(expected: str | None, actual: str, source: str, *, where: str) -> None:
    """IntegrityError if the sidecar's digest differs; ``where`` says what that left behind."""
    if expected is None or expected == actual:
        return
    raise IntegrityError(
        f"sha256 mismatch for {redact_text(source)}: the .sha256 sidecar says {expected[:12]}..., "
        f"the bytes read hash to {actual[:12]}...{where}",
        hint="fetch it again (a partial upload or download?); if it persists, use an older backup",
    )


def _base_cmd(tool: Path) -> list[str]:
    return [str(tool), "--no-owner", "--no-privileges", "--exit-on-error"]


def _run_file(
    tool: Path,
    fmt: str,
    path: Path,
    conninfo: str,
    target: Target,
    jobs: int,
    opts: RestoreOptions,
) -> str:
    if fmt.startswith("plain"):
        raise AssertionError("plain dumps are streamed through psql")
    parallel = _parallel(fmt, jobs)
    cmd = _base_cmd(tool) + (["--jobs", str(jobs)] if parallel else ["--single-transaction"])
    cmd += ["--dbname", conninfo, str(path)]
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=target.tool_env(),
        )
        if opts.on_process:
            opts.on_process(proc)
        code = wait(proc)
        raise_for(code, err, "pg_restore")
    return f"pg_restore -j {jobs} from a file" if parallel else "pg_restore --single-transaction"


def _run_stream(
    tool: Path,
    fmt: str,
    opened: archive.OpenedSource,
    consumed: list[bytes],
    conninfo: str,
    target: Target,
    hasher: Any,
    counter: _Counter,
    opts: RestoreOptions,
    checks: Callable[[], None],
    tar_stats: TarStats | None,
) -> str:
    """Stream the source into the target; nothing commits unless ``checks()`` and all else pass."""
    chunks = _archive_bytes(opened, consumed, hasher, counter, tar_stats)
    if fmt.startswith("plain"):
        restore_plain.run_plain(
            tool,
            chunks,
            conninfo,
            target.tool_env(),
            checks=checks,
            on_process=opts.on_process,
            raise_for=raise_for,
        )
        return "psql -v ON_ERROR_STOP=1 in restricted mode, committed after the checks (streamed)"
    psql = restricted_psql(tool.with_name("psql"))
    restore_stream.stream_restore(
        tool,
        psql,
        chunks,
        conninfo,
        target.tool_env(),
        checks=checks,
        on_process=opts.on_process,
        raise_for=raise_for,
    )
    return (
        "pg_restore | psql -v ON_ERROR_STOP=1 in restricted mode, committed after the checks "
        "(streamed)"
    )
