"""What a dump is, from its first bytes: its format by magic bytes, never by its name.

Formats: ``tar.gz`` (what the Railway template writes: ``pg_dump --format=tar | gzip``), ``tar``,
``custom``, ``custom.gz``, ``directory``, ``plain`` and ``plain.gz``.
"""

from __future__ import annotations

from pathlib import Path

from runbook_helpers.archive.stream import gunzip_prefix, is_tar_header
from runbook_helpers.errors import Incompatible, IntegrityError, NotFound

FORMATS = ("tar.gz", "tar", "custom", "custom.gz", "directory", "plain", "plain.gz")
GZIP_MAGIC = b"\x1f\x8b"
PGDMP = b"PGDMP"
HEAD_BYTES = 64 * 1024  # enough decompressed bytes for the tar header + archive header


def _classify_plain_bytes(head: bytes) -> str:
    """Format of decompressed leading bytes: tar | custom | plain."""
    if head.startswith(PGDMP):
        return "custom"
    if is_tar_header(head):
        return "tar"
    return "plain"


def detect_format_bytes(head: bytes) -> str:
    """Format of a file starting with ``head`` (raw, possibly gzip'd bytes)."""
    if head.startswith(GZIP_MAGIC):
        inner = gunzip_prefix(head, HEAD_BYTES)
        return _classify_plain_bytes(inner) + ".gz" if inner else "plain.gz"
    return _classify_plain_bytes(head)


def looks_like_text(data: bytes) -> bool:
    """True when ``data`` reads as UTF-8 text without NUL bytes."""
    if not data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        # a multi-byte character cut at the end of the sample is fine
        try:
            data[:-4].decode("utf-8")
        except UnicodeDecodeError:
            return False
    return b"\x00" not in data


def detect_format(path: Path) -> str:
    """Format of a local file or directory, by its magic bytes (never by its name)."""
    if path.is_dir():
        if (path / "toc.dat").exists():
            return "directory"
        raise Incompatible(
            f"{path} is a directory without toc.dat: not a pg_dump directory archive",
            hint="point at the directory pg_dump --format=directory wrote, or at a dump file",
        )
    if not path.exists():
        raise NotFound(f"{path} does not exist", hint="check the path, or give an s3:// URI")
    with path.open("rb") as f:
        head = f.read(HEAD_BYTES)
    if not head:
        raise IntegrityError(f"{path} is empty (0 bytes)", hint="the backup failed; use another")
    fmt = detect_format_bytes(head)
    if fmt == "plain" and not looks_like_text(head[:4096]):
        raise Incompatible(
            f"{path} is not a PostgreSQL dump (not gzip, tar, custom archive or SQL text)",
            hint="give a file written by pg_dump (the template writes .tar.gz)",
        )
    return fmt
