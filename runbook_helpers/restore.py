"""Restore a dump into a PostgreSQL database, by the fastest path that is still correct.

* ``tar.gz`` / ``tar`` / ``custom.gz`` read from S3 or a local ``.gz``: streamed, no local copy
  (GET -> gunzip in Python -> ``pg_restore --single-transaction -f -`` -> ``psql``) in one
  transaction whose COMMIT is sent only after the gzip CRC/length and the ``.sha256`` sidecar have
  been checked to the last byte (:mod:`runbook_helpers.restore_stream`): damage found at the very
  end commits nothing. (pg_restore cannot restore a tar archive or stdin in parallel.)
* ``custom`` / ``directory``: from a regular file (downloaded and checked first when on S3) with
  ``pg_restore -j N --exit-on-error``.
* ``plain`` / ``plain.gz``: ``psql -X -v ON_ERROR_STOP=1``, ``BEGIN`` ... ``COMMIT`` sent by us
  after the checks (not ``--single-transaction``, which commits at any EOF).

Always ``--no-owner --no-privileges``; never "errors ignored". The target carries a marker
(``COMMENT ON DATABASE``) that says "restore IN PROGRESS" until the restore has succeeded, so an
interrupted restore is never mistaken for a good one (``runbook verify`` reports it).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, NoReturn

import psycopg
from psycopg import sql

from runbook_helpers import archive, archive_format, restore_stream, storage
from runbook_helpers.errors import (
    Incompatible,
    IntegrityError,
    NoSpace,
    RestoreFailed,
    RunbookError,
    UnsafeTarget,
)
from runbook_helpers.fetch import parse_sha256_sidecar
from runbook_helpers.marker import (
    MARKER_DONE,
    MARKER_FAILED,
    MARKER_IN_PROGRESS,
    set_marker,
    utc_now,
)
from runbook_helpers.pgtools import find_tool
from runbook_helpers.redact import redact_text
from runbook_helpers.target import (
    Target,
    check_not_production,
    connect,
    connect_error,
    create_database,
    database_exists,
    ensure_empty,
    maintenance_connection,
    user_tables,
)

PLAIN_END = b"dump complete"  # pg_dump's last line: "-- PostgreSQL database dump complete"
TAIL_BYTES = 4096
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
    client: Any = None  # boto3 S3 client for s3:// sources
    # progress callbacks: on_stage(message), on_bytes(raw bytes read so far)
    on_stage: Callable[[str], None] | None = None
    on_bytes: Callable[[int], None] | None = None
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

    @property
    def seconds(self) -> float:
        return sum(self.stages.values())


_Failure = restore_stream.ToolFailed  # internal: the restore tool failed; message is the reason


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
    if opts.swap:
        opts.side_db = True
    jobs = opts.jobs or default_jobs()
    started = utc_now()
    stamp = started.strftime("%Y%m%d%H%M%S")
    safe_source = redact_text(source)
    stages: dict[str, float] = {}

    with archive.open_source(source, client=opts.client) as opened:
        fmt = opened.format
        try:
            head, consumed = archive.decompressed_head(opened)
        except IntegrityError as exc:
            raise IntegrityError(f"{exc}; nothing was restored", hint=exc.hint) from None
        header = archive_format.header_from_head(fmt, head)
        tool = _pick_tool(fmt, header)
        expected_sha = sidecar_sha256(source, opts.client) if fmt != "directory" else None

        # --- prepare the target (nothing is written before every check has passed)
        dbname = target.dbname
        if opts.side_db:
            dbname = f"{target.dbname}_restore_{stamp}"
            create_database(target, dbname)
            stage(f"created side database {dbname}")
        elif not database_exists(target, dbname):
            if not opts.create:
                raise connect_error(
                    target, dbname, Exception(f'database "{dbname}" does not exist')
                )
            create_database(target, dbname)
            stage(f"created database {dbname}")
        with connect(target.url, dbname=dbname) as conn:
            ensure_empty(conn, target.url, allow_non_empty=opts.allow_non_empty)

        method, local_file = _plan(fmt, opened, jobs)
        hasher = hashlib.sha256()
        counter = _Counter(opts.on_bytes)
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

            with connect(target.url, dbname=dbname) as conn:
                set_marker(conn, dbname, MARKER_IN_PROGRESS.format(source=safe_source, at=started))
            conninfo = target.conninfo(dbname, with_password=False)
            t0 = time.perf_counter()
            try:
                if method == "file":
                    assert local_file is not None
                    desc = _run_file(
                        tool, fmt.removesuffix(".gz"), local_file, conninfo, target, jobs, opts
                    )
                else:

                    def checks() -> None:  # before anything commits: the whole source was read
                        _check_sha(expected_sha, hasher.hexdigest(), source, where="")

                    desc = _run_stream(
                        tool, fmt, opened, consumed, conninfo, target, hasher, counter, opts, checks
                    )
            except (_Failure, IntegrityError, KeyboardInterrupt) as exc:
                _fail(target, dbname, safe_source, method, jobs, exc)
            stages["restore" if method == "file" else "stream+restore"] = time.perf_counter() - t0
            stage(f"restored with {desc} in {time.perf_counter() - t0:.1f}s")
        finally:
            if tmpdir is not None:
                tmpdir.cleanup()

    with connect(target.url, dbname=dbname) as conn:
        if opts.analyze:
            t0 = time.perf_counter()
            conn.execute("analyze")
            stages["analyze"] = time.perf_counter() - t0
            stage(f"analyze took {stages['analyze']:.1f}s")
        tables = len(user_tables(conn))
        marker = MARKER_DONE.format(source=safe_source, at=utc_now())
        set_marker(conn, dbname, marker)

    swapped_old = None
    final_db = dbname
    if opts.swap:
        t0 = time.perf_counter()
        swapped_old = swap_databases(target, dbname, stamp)
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
    )


def _pick_tool(fmt: str, header: archive_format.ArchiveHeader | None) -> Path:
    if fmt.startswith("plain"):
        return find_tool("psql")
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
    opened: archive.OpenedSource, consumed: list[bytes], hasher: Any, counter: _Counter
) -> Iterator[bytes]:
    """The archive's bytes (gunzipped if .gz); the stored bytes feed ``hasher`` and ``counter``."""

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
    with path.open("wb") as f:
        for data in _archive_bytes(opened, consumed, hasher, counter):
            f.write(data)
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
    parallel = fmt in archive.PARALLEL_FORMATS and jobs > 1
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
        code = _wait(proc)
        _raise_for(code, err, "pg_restore")
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
) -> str:
    """Stream the source into the target; nothing commits unless ``checks()`` and all else pass."""
    chunks = _archive_bytes(opened, consumed, hasher, counter)
    if fmt.startswith("plain"):
        _run_plain(tool, chunks, conninfo, target, opts, checks)
        return "psql -v ON_ERROR_STOP=1, committed after the checks (streamed)"
    psql = restore_stream.psql_for(tool, lambda: find_tool("psql"))
    restore_stream.stream_restore(
        tool,
        psql,
        chunks,
        conninfo,
        target.tool_env(),
        checks=checks,
        on_process=opts.on_process,
        raise_for=_raise_for,
    )
    return "pg_restore | psql -v ON_ERROR_STOP=1, committed after the checks (streamed)"


def _run_plain(
    psql: Path,
    chunks: Iterator[bytes],
    conninfo: str,
    target: Target,
    opts: RestoreOptions,
    checks: Callable[[], None],
) -> None:
    """A plain SQL dump through psql in one transaction whose COMMIT is sent after the checks.

    Not ``psql --single-transaction``: that commits at EOF of its input, which a crash of this
    process would produce. Here EOF without the final COMMIT rolls back.
    """
    cmd = [str(psql), "-X", "-q", "-v", "ON_ERROR_STOP=1", "--dbname", conninfo, "-f", "-"]
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=target.tool_env(),
        )
        assert proc.stdin is not None
        if opts.on_process:
            opts.on_process(proc)
        tail = b""
        try:
            try:
                proc.stdin.write(b"BEGIN;\n")
                for data in chunks:
                    proc.stdin.write(data)
                    tail = (tail + data)[-TAIL_BYTES:]
                if PLAIN_END not in tail:
                    raise IntegrityError(
                        "the plain SQL dump is truncated: it does not end with pg_dump's "
                        "'dump complete' line",
                        hint="the dump was cut short; fetch it again or use another backup",
                    )
                checks()
                proc.stdin.write(b"\nCOMMIT;\n")
            except BrokenPipeError:
                pass  # psql stopped at an error and did not commit: its exit status says why
        except BaseException:
            # truncated/corrupted input or Ctrl-C: kill psql before it can see the COMMIT
            proc.kill()
            proc.wait()
            raise
        finally:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        _raise_for(_wait(proc), err, "psql")


def _wait(proc: subprocess.Popen[bytes]) -> int:
    try:
        return proc.wait()
    except BaseException:
        proc.kill()
        proc.wait()
        raise


def _raise_for(code: int, err: IO[bytes], what: str) -> None:
    if code == 0:
        return
    err.seek(0)
    text = redact_text(err.read().decode(errors="replace"))
    if code < 0:
        raise _Failure(f"{what} was killed by signal {-code}")
    typed = archive.pg_restore_error(text, what=what)
    if isinstance(typed, Incompatible | IntegrityError):
        raise _Failure(str(typed)) from typed
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    errors = [ln for ln in lines if "error" in ln.lower()] or lines
    detail = "; ".join(errors[:3]) if errors else f"exit status {code}"
    raise _Failure(f"{what} stopped at the first error (exit {code}): {detail}")


def _mark_failed(target: Target, dbname: str, source: str, reason: str) -> None:
    try:
        with connect(target.url, dbname=dbname) as conn:
            set_marker(
                conn, dbname, MARKER_FAILED.format(source=source, at=utc_now(), reason=reason[:200])
            )
    except (RunbookError, psycopg.Error):
        pass  # the IN PROGRESS marker stays, which verify reports just the same


def _fail(
    target: Target, dbname: str, source: str, method: str, jobs: int, exc: BaseException
) -> NoReturn:
    reason = str(exc) or type(exc).__name__
    _mark_failed(target, dbname, source, reason)
    state = "partially restored" if method == "file" and jobs > 1 else "rolled back"
    message = f"{reason}; the target database {dbname} is INCOMPLETE ({state}): drop it and re-run"
    hint = f"dropdb {dbname} (or DROP DATABASE {dbname}), fix the cause, then re-run the restore"
    if isinstance(exc, KeyboardInterrupt):
        raise RestoreFailed(
            f"interrupted; the target database {dbname} is INCOMPLETE ({state}): "
            "drop it and re-run",
            hint=hint,
        ) from None
    if isinstance(exc, IntegrityError):
        raise IntegrityError(message, hint=exc.hint or hint) from None
    cause = exc.__cause__
    if isinstance(cause, Incompatible):
        raise Incompatible(message, hint=cause.hint) from None
    raise RestoreFailed(message, hint=hint) from None


def swap_databases(target: Target, side_db: str, stamp: str) -> str | None:
    """Rename ``target`` -> ``<target>_old_<stamp>`` and ``side_db`` -> ``target`` atomically."""
    name = target.dbname
    old = f"{name}_old_{stamp}"
    with maintenance_connection(target) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
        sessions = conn.execute(
            "select count(*) from pg_stat_activity where datname in (%s, %s) "
            "and pid <> pg_backend_pid()",
            (name, side_db),
        ).fetchone()
        count = int(sessions[0]) if sessions else 0
        hint = (
            f"the restored copy is ready in {side_db}; stop the services using {name} (or "
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'), "
            f"then: ALTER DATABASE {name} RENAME TO {old}; "
            f"ALTER DATABASE {side_db} RENAME TO {name};"
        )
        if count:
            raise UnsafeTarget(
                f"cannot swap: {count} session(s) are connected to {name}; nothing was renamed",
                hint=hint,
            )
        try:
            with conn.transaction():
                if exists:
                    conn.execute(
                        sql.SQL("alter database {} rename to {}").format(
                            sql.Identifier(name), sql.Identifier(old)
                        )
                    )
                conn.execute(
                    sql.SQL("alter database {} rename to {}").format(
                        sql.Identifier(side_db), sql.Identifier(name)
                    )
                )
        except psycopg.Error as exc:
            raise UnsafeTarget(
                f"cannot swap: {redact_text(str(exc)).strip()}; nothing was renamed", hint=hint
            ) from None
    return old if exists else None
