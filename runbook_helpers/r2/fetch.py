"""Download a backup and prove it is whole before anyone restores it.

The download goes through s3transfer (``download_file``: parallel ranged GETs, retries) into
``<dest>.part``; only after the size, the ``.sha256`` sidecar (when present) and a full gzip
decompression check pass is it renamed to ``<dest>``. A failed or interrupted fetch never leaves
a file under the final name.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from boto3.s3.transfer import TransferConfig

from runbook_helpers.archive.stream import TarEnd, Truncated, iter_file, iter_gunzip
from runbook_helpers.errors import IntegrityError, NoSpace, NotFound
from runbook_helpers.r2.errors import translate_errors
from runbook_helpers.r2.storage import S3Client, S3Location, head, read_text

ProgressCallback = Callable[[int], None]
CHUNK = 1024 * 1024
MiB = 1024 * 1024
#: Free space kept in reserve beyond the object's size.
MIN_MARGIN = 64 * MiB
#: Tests (and drills) can pretend the disk is nearly full: ``RUNBOOK_FREE_BYTES=1000``.
FREE_BYTES_ENV = "RUNBOOK_FREE_BYTES"


class DiskUsage(NamedTuple):
    total: int
    used: int
    free: int


DiskUsageFn = Callable[[str], DiskUsage]


def system_disk_usage(path: str) -> DiskUsage:
    """``shutil.disk_usage``, unless ``$RUNBOOK_FREE_BYTES`` overrides the free space."""
    usage = shutil.disk_usage(path)
    override = os.environ.get(FREE_BYTES_ENV)
    free = int(override) if override else usage.free
    return DiskUsage(usage.total, usage.used, free)


def transfer_config() -> TransferConfig:
    """Multipart threshold/chunk sizes within R2's limits (5 MiB-5 GiB parts), 8 threads.

    One s3transfer attempt per part on top of botocore's own retries, so a stalled endpoint
    is given up on within ``$RUNBOOK_TIMEOUT`` (:func:`r2_timeouts.timeouts`), not five times it.
    """
    return TransferConfig(
        num_download_attempts=1,
        multipart_threshold=16 * MiB,
        multipart_chunksize=16 * MiB,
        max_concurrency=8,
        use_threads=True,
    )


@dataclass(frozen=True)
class FetchResult:
    """A verified local copy of a backup."""

    path: Path
    size: int
    sha256: str
    sidecar_verified: bool
    uncompressed_size: int | None = None


def required_space(size: int) -> int:
    """Bytes that must be free to download ``size`` bytes safely."""
    return size + max(MIN_MARGIN, size // 20)


def check_free_space(directory: Path, size: int, disk_usage: DiskUsageFn | None = None) -> None:
    """NoSpace unless ``directory`` has room for ``size`` bytes plus a margin."""
    usage = (disk_usage or system_disk_usage)(str(directory))
    need = required_space(size)
    if usage.free < need:
        raise NoSpace(
            f"not enough disk space in {directory}: {usage.free / MiB:.1f} MiB free, "
            f"{need / MiB:.1f} MiB needed for a {size / MiB:.1f} MiB backup (plus margin)",
            hint="free some space, or download elsewhere with --to /path/with/space",
        )


def parse_sha256_sidecar(text: str) -> str:
    """The hex digest from ``sha256sum`` output (``<hex>  <name>``)."""
    token = text.strip().split()[0] if text.strip() else ""
    if len(token) != 64 or any(c not in "0123456789abcdefABCDEF" for c in token):
        raise IntegrityError(
            f"the .sha256 sidecar is not a sha256sum line: {text[:80]!r}",
            hint="re-create it with `sha256sum FILE > FILE.sha256` or delete it",
        )
    return token.lower()


def verify_file(
    path: Path, *, expect_size: int | None = None, name: str | None = None
) -> tuple[str, int | None]:
    """sha256 of the file and, for gzip files, the uncompressed size after a full check.

    Reads the file once: every byte goes through the hash and (if gzip) through zlib to the
    end of the stream, so truncation and corruption anywhere are caught.
    """
    name = name or path.name
    size = path.stat().st_size
    if expect_size is not None and size != expect_size:
        raise IntegrityError(
            f"{name}: size {size} bytes, but the object is {expect_size} bytes",
            hint="the download was cut short; run the fetch again",
        )
    digest = hashlib.sha256()
    read = 0

    def on_raw(chunk: bytes) -> None:
        nonlocal read
        digest.update(chunk)
        read += len(chunk)

    total_out = 0
    with path.open("rb") as fh:
        head_bytes = fh.read(2)
        fh.seek(0)
        is_gzip = head_bytes == b"\x1f\x8b"
        if not head_bytes:  # a zero-byte object: what inspect and restore say about it
            raise IntegrityError(
                f"{name} is empty (0 bytes)",
                hint="the backup failed when it was made; use another one (`runbook backups list`)",
            )
        if not is_gzip and name.endswith(".gz"):
            raise IntegrityError(
                f"{name} is named .gz but is not gzip data (starts with {head_bytes!r})",
                hint="this is not a backup made by the backup service; check the key",
            )
        if not is_gzip:
            for chunk in iter_file(fh, chunk=CHUNK):
                on_raw(chunk)
            return digest.hexdigest(), None
        tar_end = TarEnd(name)
        try:
            for data in iter_gunzip(iter_file(fh, chunk=CHUNK), on_raw=on_raw):
                total_out += len(data)
                tar_end.feed(data)
        except Truncated:
            raise IntegrityError(
                f"{name} is truncated: the gzip stream ends without its trailer after "
                f"{size:,} compressed bytes ({total_out:,} bytes decompressed)",
                hint="the upload or download was cut short; use another backup "
                "(`runbook backups list`) or re-fetch",
            ) from None
        except IntegrityError as exc:
            raise IntegrityError(
                f"{name} is corrupted: gzip data error near compressed byte {read:,} "
                f"({exc.__cause__})",
                hint="use another backup (`runbook backups list`) or re-fetch",
            ) from exc
    if total_out == 0:  # the template's gzip of nothing: pg_dump died before it wrote
        raise IntegrityError(
            f"{name} holds no data once decompressed: not a PostgreSQL dump",
            hint="the backup failed when it was made; use another one (`runbook backups list`)",
        )
    tar_end.check()
    return digest.hexdigest(), total_out


def _check_sidecar(name: str, actual: str, sidecar_text: str | None) -> bool:
    if sidecar_text is None:
        return False
    expected = parse_sha256_sidecar(sidecar_text)
    if expected != actual:
        raise IntegrityError(
            f"{name}: sha256 {actual} does not match its .sha256 sidecar {expected}",
            hint="the object changed or is corrupted; use another backup (`runbook backups list`)",
        )
    return True


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def fetch(
    client: S3Client,
    loc: S3Location,
    dest: Path,
    *,
    on_progress: ProgressCallback | None = None,
    disk_usage: DiskUsageFn | None = None,
    config: TransferConfig | None = None,
) -> FetchResult:
    """Download ``loc`` to ``dest`` (a file, or a directory to put ``loc.name`` in) and verify.

    ``on_progress(n)`` is called with each number of bytes received (from s3transfer's threads).
    """
    if not loc.key or loc.key.endswith("/"):
        raise NotFound(f"{loc.uri} is not an object key", hint="see `runbook backups list`")
    if dest.is_dir():
        dest = dest / loc.name
    dest.parent.mkdir(parents=True, exist_ok=True)
    info = head(client, loc)
    check_free_space(dest.parent, info.size, disk_usage)
    part = dest.with_name(dest.name + ".part")
    done = False
    try:
        with translate_errors(loc, endpoint=str(client.meta.endpoint_url)):
            client.download_file(
                loc.bucket,
                loc.key,
                str(part),
                Callback=on_progress,
                Config=config or transfer_config(),
            )
        digest, uncompressed = verify_file(part, expect_size=info.size, name=loc.name)
        verified = _check_sidecar(loc.name, digest, read_text(client, loc.sidecar(".sha256")))
        os.replace(part, dest)
        done = True
    finally:
        if not done:
            _remove(part)
    return FetchResult(dest, info.size, digest, verified, uncompressed)


def verify_local(path: Path) -> FetchResult:
    """The same checks for a file already on disk (sidecar: ``<path>.sha256`` next to it)."""
    if not path.is_file():
        raise NotFound(f"no such file: {path}", hint="give an existing file or an s3:// URI")
    digest, uncompressed = verify_file(path)
    sidecar = path.with_name(path.name + ".sha256")
    text = sidecar.read_text(encoding="utf-8") if sidecar.is_file() else None
    verified = _check_sidecar(path.name, digest, text)
    return FetchResult(path, path.stat().st_size, digest, verified, uncompressed)
