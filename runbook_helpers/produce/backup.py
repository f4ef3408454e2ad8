"""An on-demand backup made exactly as Railway's ``postgres-s3-backups`` template makes one.

``pg_dump --dbname=URL --format=tar | gzip``, uploaded as
``[subfolder/]<prefix>-<ISO timestamp with ':' and '.' replaced by '-'>.tar.gz``, plus two
sidecars the template does not write: ``<key>.sha256`` (sha256sum format) and
``<key>.manifest.json`` (exact row counts taken in the very snapshot pg_dump dumps).

Nothing is uploaded unless pg_dump and gzip exit 0 and the result decompresses fully into
something that looks like a tar archive (the template once uploaded 20-byte backups).
"""

from __future__ import annotations

import errno
import hashlib
import shutil
import subprocess
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import psycopg

from runbook_helpers.archive.manifest import Manifest, table_stats
from runbook_helpers.archive.stream import TAR_BLOCK, gunzip_prefix, is_tar_header
from runbook_helpers.errors import BackupFailed, NoSpace, NotFound, RunbookError
from runbook_helpers.pg.target import Target, connect_error
from runbook_helpers.pg.tools import find_tool, tool_version
from runbook_helpers.r2.errors import translate_errors
from runbook_helpers.r2.fetch import ProgressCallback, transfer_config, verify_file
from runbook_helpers.r2.naming import DEFAULT_FILE_PREFIX, backup_key, iso_timestamp
from runbook_helpers.r2.storage import S3Client, S3Location, bucket_exists, put_text
from runbook_helpers.redact import redact_text

CHUNK = 1024 * 1024
#: A gzip'd pg_dump tar archive of even an empty database is larger than this.
MIN_COMPRESSED_BYTES = 100
#: One tar header (512) plus the two zero end blocks (1024).
MIN_TAR_BYTES = 1536


@dataclass(frozen=True)
class BackupResult:
    key: str
    size: int
    sha256: str
    manifest: Manifest
    bucket: str = ""
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def uri(self) -> str:
        return S3Location(self.bucket, self.key).uri


@contextmanager
def _snapshot(source: Target) -> Iterator[tuple[psycopg.Connection[Any], str]]:
    """A REPEATABLE READ transaction held open, and its exported snapshot id."""
    try:
        conn = psycopg.connect(source.conninfo(), connect_timeout=10)
    except psycopg.Error as exc:
        raise connect_error(
            source, source.dbname, exc, missing_hint="check the database name in the --source URL"
        ) from None
    try:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        row = conn.execute("select pg_export_snapshot()").fetchone()
        assert row is not None
        yield conn, str(row[0])
        conn.rollback()
    finally:
        conn.close()


def _drain(stream: IO[bytes], sink: list[bytes]) -> None:
    sink.append(stream.read())


def _stop(*procs: subprocess.Popen[bytes] | None) -> None:
    for proc in procs:
        if proc is not None and proc.poll() is None:
            proc.kill()


def _dump_to_file(pg_dump: Path, source: Target, snapshot: str, out: IO[bytes]) -> tuple[str, int]:
    """Run ``pg_dump --format=tar | gzip`` into ``out``; return (sha256, compressed size)."""
    conninfo = source.conninfo(with_password=False)  # the password goes in PGPASSWORD
    argv = [str(pg_dump), f"--dbname={conninfo}", "--format=tar", f"--snapshot={snapshot}"]
    dump = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=source.tool_env()
    )
    assert dump.stdout is not None and dump.stderr is not None
    dump_err: list[bytes] = []
    err_thread = threading.Thread(target=_drain, args=(dump.stderr, dump_err), daemon=True)
    err_thread.start()
    digest = hashlib.sha256()
    size = 0
    gzip_bin = shutil.which("gzip")
    gz: subprocess.Popen[bytes] | None = None
    try:
        if gzip_bin:  # like the template: a separate gzip process (uses a second core)
            gz = subprocess.Popen([gzip_bin, "-c"], stdin=dump.stdout, stdout=subprocess.PIPE)
            dump.stdout.close()
            assert gz.stdout is not None
            while chunk := gz.stdout.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
        else:
            comp = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
            while data := dump.stdout.read(CHUNK):
                chunk = comp.compress(data)
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
            chunk = comp.flush()
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
    except OSError as exc:
        _stop(dump, gz)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise NoSpace(
                f"the disk filled up while writing the backup to {out.name}; nothing was uploaded",
                hint="free space, or set TMPDIR to a directory on a bigger disk",
            ) from None
        raise
    except BaseException:
        _stop(dump, gz)  # else pg_dump and gzip block on full pipes and wait() never returns
        raise
    finally:
        dump_rc = dump.wait()
        gz_rc = gz.wait() if gz is not None else 0
        err_thread.join()
    if dump_rc != 0:
        lines = b"".join(dump_err).decode("utf-8", "replace").strip().splitlines()
        detail = redact_text(
            lines[-1] if lines else "(no message)", [source.params.get("password", "")]
        )
        raise BackupFailed(
            f"pg_dump exited with status {dump_rc}: {detail}; nothing was uploaded",
            hint="fix the cause above and run `runbook backup` again",
        )
    if gz_rc != 0:
        raise BackupFailed(f"gzip exited with status {gz_rc}; nothing was uploaded")
    out.flush()
    return digest.hexdigest(), size


def _check_archive(path: Path, size: int) -> None:
    """Refuse tiny output and anything that does not decompress into a tar archive."""
    if size < MIN_COMPRESSED_BYTES:
        raise BackupFailed(
            f"the backup is only {size} bytes (an empty dump); nothing was uploaded",
            hint="check pg_dump's output and its version against the server's",
        )
    try:
        _, uncompressed = verify_file(path)
    except RunbookError as exc:
        raise BackupFailed(f"the backup did not verify: {exc}; nothing was uploaded") from exc
    with path.open("rb") as fh:
        first = gunzip_prefix(fh.read(64 * 1024), TAR_BLOCK)
    if (uncompressed or 0) < MIN_TAR_BYTES or not is_tar_header(first):
        raise BackupFailed(
            f"pg_dump's output is not a tar archive ({uncompressed} bytes); nothing was uploaded",
            hint="check that `pg_dump --format=tar` works and matches the server version",
        )


def create_backup(
    source_url: str,
    client: S3Client,
    bucket: str,
    *,
    subfolder: str = "",
    file_prefix: str = DEFAULT_FILE_PREFIX,
    at: datetime | None = None,
    on_progress: ProgressCallback | None = None,
    tmp_dir: Path | None = None,
    log: Callable[[str], None] | None = None,
) -> BackupResult:
    """Dump ``source_url``, upload the archive and its sidecars; see the module docstring."""
    at = (at or datetime.now(UTC)).astimezone(UTC)
    key = backup_key(at, file_prefix, subfolder)
    loc = S3Location(bucket, key)
    source = Target.parse(source_url)
    timings: dict[str, float] = {}
    note = log or (lambda _msg: None)

    if not bucket_exists(client, bucket):  # fail before a long dump, not after
        raise NotFound(
            f"bucket s3://{bucket} not found at {client.meta.endpoint_url}",
            hint="check --bucket / $RUNBOOK_BUCKET; a jurisdiction bucket needs its own endpoint",
        )
    started = time.monotonic()
    with (
        _snapshot(source) as (conn, snapshot),
        tempfile.TemporaryDirectory(prefix="runbook-backup-", dir=tmp_dir) as work,
    ):
        server_major = conn.info.server_version // 10000
        server_version = conn.info.parameter_status("server_version") or str(
            conn.info.server_version
        )
        pg_dump = find_tool("pg_dump", min_major=server_major)
        major, minor = tool_version(pg_dump)
        note(f"pg_dump {major}.{minor} ({pg_dump}) -> server {server_version}")
        archive = Path(work) / loc.name
        with archive.open("wb") as out:
            sha256, size = _dump_to_file(pg_dump, source, snapshot, out)
        timings["dump_seconds"] = time.monotonic() - started
        mark = time.monotonic()
        tables = table_stats(conn)
        timings["count_seconds"] = time.monotonic() - mark
        mark = time.monotonic()
        _check_archive(archive, size)
        timings["verify_seconds"] = time.monotonic() - mark
        manifest = Manifest(
            key=key,
            created_at=iso_timestamp(at),
            pg_dump_version=f"{major}.{minor}",
            server_version=server_version,
            size_bytes=size,
            sha256=sha256,
            tables=tables,
        )
        mark = time.monotonic()
        with translate_errors(loc, endpoint=str(client.meta.endpoint_url)):
            client.upload_file(
                str(archive),
                bucket,
                key,
                ExtraArgs={"ContentType": "application/gzip"},
                Callback=on_progress,
                Config=transfer_config(),
            )
        put_text(client, loc.sidecar(".sha256"), f"{sha256}  {loc.name}\n", "text/plain")
        put_text(client, loc.sidecar(".manifest.json"), manifest.to_json(), "application/json")
        timings["upload_seconds"] = time.monotonic() - mark
    timings["total_seconds"] = time.monotonic() - started
    return BackupResult(key, size, sha256, manifest, bucket, timings)
