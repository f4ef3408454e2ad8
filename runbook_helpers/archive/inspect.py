"""Describing a dump for ``inspect``: its format, header, TOC and the pg_restore it needs.

The bytes come from :mod:`runbook_helpers.archive.source` (files, directories, ``s3://``) and
:mod:`runbook_helpers.archive.stream` (the one gzip/tar reader). ``pg_restore --list`` adds the
TOC entry and table counts when the local client can read the archive, and :func:`inspect` /
:func:`check_compatible` say which pg_restore is needed.

Formats: ``tar.gz`` (what the Railway template writes: ``pg_dump --format=tar | gzip``), ``tar``,
``custom``, ``custom.gz``, ``directory``, ``plain`` and ``plain.gz``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from runbook_helpers.archive.header import (
    ArchiveHeader,
    check_source_content,
    header_from_head,
    install_hint,
    max_archive_version,
    required_pg_restore_major,
)
from runbook_helpers.archive.source import OpenedSource, decompressed_head, open_source
from runbook_helpers.archive.stream import iter_gunzip
from runbook_helpers.archive.tar_check import INCOMPLETE_HINT, tar_completeness
from runbook_helpers.errors import Incompatible, IntegrityError, NotFound, RunbookError
from runbook_helpers.pg.tools import find_tool, tool_version

# Formats pg_restore can restore in parallel (-j) - only from a regular file or directory.
PARALLEL_FORMATS = frozenset({"custom", "directory"})


@dataclass
class ArchiveInfo:
    """What ``runbook inspect`` reports about one source."""

    source: str
    format: str
    size_bytes: int | None
    header: ArchiveHeader | None = None
    archive_version: str | None = None
    pg_dump_version: str | None = None
    server_version: str | None = None
    compression: str | None = None
    toc_entries: int | None = None
    table_count: int | None = None
    tables: list[str] = field(default_factory=list)
    required_pg_restore_major: int | None = None
    local_pg_restore: str | None = None
    local_pg_restore_major: int | None = None
    compatible: bool = True
    incompatibility: str | None = None
    install_hint: str | None = None
    # tar dumps only (None: not checked): read to the end, toc.dat's data members against the tar
    complete: bool | None = None
    data_members_promised: int | None = None
    data_members_present: int | None = None
    missing_members: list[str] = field(default_factory=list)
    end_blocks: bool | None = None
    incomplete: str | None = None
    incomplete_hint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("header")
        data.pop("incomplete_hint")
        return data


# --- pg_restore --list ----------------------------------------------------------------------------

_LIST_FIELD = re.compile(r"^;\s+([A-Za-z][A-Za-z ]+?):\s*(.*)$")


@dataclass(frozen=True)
class TocSummary:
    fields: dict[str, str]
    entries: int
    tables: list[str]


def parse_list(text: str) -> TocSummary:
    """Parse ``pg_restore --list`` output: header fields, TOC entries, tables."""
    fields: dict[str, str] = {}
    entries = 0
    tables: list[str] = []
    for line in text.splitlines():
        m = _LIST_FIELD.match(line)
        if m and not line[2:].lstrip().startswith("Selected"):
            fields.setdefault(m.group(1).strip(), m.group(2).strip())
            continue
        if line and line[0].isdigit():
            entries += 1
            parts = line.split()
            # "215; 1259 16385 TABLE public users owner"
            if len(parts) >= 6 and parts[3] == "TABLE" and parts[4] != "DATA":
                tables.append(f"{parts[4]}.{parts[5]}")
    return TocSummary(fields, entries, tables)


def local_pg_restore(min_major: int | None = None) -> tuple[Path, int]:
    """A pg_restore on this machine (at least ``min_major`` when given) and its major."""
    path = find_tool("pg_restore", min_major=min_major)
    return path, tool_version(path)[0]


def pg_restore_list(pg_restore: Path, fmt: str, opened: OpenedSource, consumed: list[bytes]) -> str:
    """Run ``pg_restore --list``; a gzip'd or remote source is fed on stdin (read only as far
    as pg_restore needs: it stops reading once it has the TOC)."""
    local = Path(opened.source)
    if fmt == "directory" or (not fmt.endswith(".gz") and local.is_file()):
        proc = subprocess.run(
            [str(pg_restore), "--list", opened.source], capture_output=True, check=False
        )
        stdout, stderr, code = proc.stdout, proc.stderr, proc.returncode
    else:
        stdout, stderr, code = _list_from_stdin(pg_restore, fmt, opened, consumed)
    if code != 0:
        raise pg_restore_error(stderr.decode(errors="replace"), what="pg_restore --list")
    return stdout.decode(errors="replace")


def _list_from_stdin(
    pg_restore: Path, fmt: str, opened: OpenedSource, consumed: list[bytes]
) -> tuple[bytes, bytes, int]:
    with (
        tempfile.TemporaryFile() as err,
        tempfile.TemporaryFile() as out_buf,
        subprocess.Popen(
            [str(pg_restore), "--list"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err
        ) as proc,
    ):
        assert proc.stdin is not None and proc.stdout is not None
        reader = _drain(proc.stdout, out_buf)

        def raw() -> Iterator[bytes]:
            yield from consumed
            yield from opened.rest

        chunks: Iterator[bytes] = raw()
        if fmt.endswith(".gz"):
            chunks = iter_gunzip(chunks)
        with suppress(BrokenPipeError, IntegrityError):
            for data in chunks:
                proc.stdin.write(data)
        with suppress(BrokenPipeError):
            proc.stdin.close()
        code = proc.wait()
        reader.join()
        out_buf.seek(0)
        err.seek(0)
        return out_buf.read(), err.read(), code


def _drain(stream: IO[bytes], sink: IO[bytes]) -> Any:
    import threading

    def run() -> None:
        shutil.copyfileobj(stream, sink)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


# pg_restore messages that mean the archive's bytes are damaged (IntegrityError, exit 6): the
# file was a pg_dump archive (its name, and the magic at its head, said so) but is not one now.
CORRUPTION_SIGNS = (
    "corrupt tar header",
    "could not uncompress data",
    "could not read from input file",
    "unexpected end of file",
    "found unexpected block ID",
    "could not find block ID",
    "unexpected data offset flag",
    "did not find magic string",
    "invalid compressed data",
    "could not decompress",
)


def pg_restore_error(stderr: str, *, what: str = "pg_restore") -> RunbookError:
    """The one classifier of a pg_restore (or psql) failure message, for ``inspect`` and
    ``restore`` alike: Incompatible when this client cannot read the input (plain SQL, a newer
    archive version, not an archive at all), IntegrityError when the archive's bytes are damaged
    (:data:`CORRUPTION_SIGNS`: a tar member without its magic string included), else a plain
    RunbookError with the last line."""
    text = stderr.strip()
    last = text.splitlines()[-1] if text else "(no message)"
    if "text format dump" in text:
        return Incompatible(
            f"{what}: the input is a plain SQL dump, which pg_restore cannot read",
            hint="restore it with psql (runbook restore does this for you when it detects "
            "plain SQL)",
        )
    m = re.search(r"unsupported version \((\d+\.\d+)\) in file header", text)
    if m:
        need = required_pg_restore_major(m.group(1))
        return Incompatible(
            f"{what}: archive version {m.group(1)} is newer than this pg_restore reads; "
            f"PostgreSQL {need or 'newer'} client tools are needed",
            hint=install_hint(need),
        )
    if any(sign in text for sign in CORRUPTION_SIGNS):
        return IntegrityError(
            f"{what} found the archive damaged: {first_error(text)}",
            hint="fetch the backup again and compare its sha256; if it persists, use an older "
            "backup",
        )
    if "does not appear to be a valid archive" in text:
        return Incompatible(f"{what}: not a pg_dump archive ({last})")
    if "end of file" in text or "could not read" in text:
        return IntegrityError(
            f"{what}: the archive is truncated or unreadable ({last})",
            hint="fetch the backup again; if it persists, use an older backup",
        )
    return RunbookError(f"{what} failed: {last}")


def first_error(text: str) -> str:
    """The first line of ``text`` that mentions an error (else its first line)."""
    lines = [ln for ln in text.strip().splitlines() if "error" in ln.lower()]
    return lines[0] if lines else (text.strip().splitlines() or ["?"])[0]


# --- inspect -------------------------------------------------------------------------------


def inspect(source: str, *, client: Any = None, with_toc: bool = True) -> ArchiveInfo:
    """Describe ``source`` (path or s3:// URI) and check it against the local pg_restore.

    Never raises for an incompatible archive: ``info.compatible`` says so and
    :func:`check_compatible` turns it into an :class:`Incompatible` error.
    """
    with open_source(source, client=client) as opened:
        head, consumed = decompressed_head(opened)
        fmt = opened.format
        # nothing once decompressed (a gzip of no input: pg_dump died before it wrote) or
        # binary junk is refused here as restore refuses it, never described as a dump
        check_source_content(source, fmt, head, fmt.removesuffix(".gz"))
        info = ArchiveInfo(source=source, format=fmt, size_bytes=opened.size)
        if fmt.startswith("plain"):
            info.compression = "gzip (outer)" if fmt.endswith(".gz") else "none"
            text = head.decode("utf-8", "replace")
            for attr, label in (("server_version", "database"), ("pg_dump_version", "pg_dump")):
                m = re.search(rf"^-- Dumped (?:from|by) {label} version (.+)$", text, re.M)
                if m:
                    setattr(info, attr, m.group(1).strip())
            _fill_local(info, None)
            return info
        header = header_from_head(fmt, head)
        assert header is not None
        info.header = header
        info.archive_version = header.version
        info.pg_dump_version = header.pg_dump_version
        info.server_version = header.server_version
        info.compression = header.compression + (" (+ outer gzip)" if fmt.endswith(".gz") else "")
        need = required_pg_restore_major(header.version)
        info.required_pg_restore_major = need
        _fill_local(info, need if need is not None else 999)
        if with_toc and info.compatible and info.local_pg_restore:
            toc = parse_list(pg_restore_list(Path(info.local_pg_restore), fmt, opened, consumed))
            info.toc_entries = toc.entries
            info.table_count = len(toc.tables)
            info.tables = toc.tables
            info.pg_dump_version = info.pg_dump_version or toc.fields.get(
                "Dumped by pg_dump version"
            )
            info.server_version = info.server_version or toc.fields.get(
                "Dumped from database version"
            )
    if fmt in ("tar", "tar.gz"):
        _fill_completeness(info, client)
    return info


def _fill_completeness(info: ArchiveInfo, client: Any) -> None:
    """Read the tar to its end: a backup that cannot restore is never called compatible."""
    comp = tar_completeness(info.source, client=client)
    if comp is None:
        return
    info.complete = comp.complete
    info.data_members_promised = len(comp.promised)
    info.data_members_present = len([m for m in comp.promised if m in comp.present])
    info.missing_members = [f"{m} ({comp.promised[m]})" for m in comp.missing]
    info.end_blocks = comp.end_blocks
    info.incomplete = comp.problem()
    info.incomplete_hint = comp.hint
    if not comp.complete:
        info.compatible = False


def check_complete(info: ArchiveInfo) -> None:
    """Raise :class:`IntegrityError` (exit 6) when ``info``'s tar dump is incomplete."""
    if info.complete is False:
        raise IntegrityError(
            f"{info.source} is incomplete: {info.incomplete}",
            hint=info.incomplete_hint or INCOMPLETE_HINT,
        )


def _fill_local(info: ArchiveInfo, need: int | None) -> None:
    """Record the local pg_restore and, if it is too old, what is needed instead."""
    try:
        path, major = local_pg_restore()
    except NotFound:
        info.compatible = False
        info.incompatibility = "no pg_restore found on this machine"
        info.install_hint = install_hint(need if need and need < 999 else None)
        return
    if need is not None and major < need:
        # a newer one may be installed next to it (e.g. /usr/lib/postgresql/16/bin)
        with suppress(NotFound):
            path, major = local_pg_restore(need if need < 999 else None)
    info.local_pg_restore = str(path)
    info.local_pg_restore_major = major
    if need is not None and major < need:
        info.compatible = False
        if need == 999:
            info.incompatibility = (
                f"archive version {info.archive_version} is newer than any PostgreSQL "
                f"release this tool knows; pg_restore {major} cannot read it"
            )
            info.install_hint = install_hint(None)
        else:
            info.incompatibility = (
                f"archive version {info.archive_version} (pg_dump "
                f"{info.pg_dump_version or '?'}) needs pg_restore {need} or newer; the local "
                f"pg_restore is {major} ({path}), which reads archives up to "
                f"{max_archive_version(major)}"
            )
            info.install_hint = install_hint(need)


def pg_restore_for(header: ArchiveHeader) -> Path:
    """The local pg_restore that reads ``header``'s archive; Incompatible naming the one needed."""
    info = ArchiveInfo(source="", format=header.archive_format, size_bytes=None)
    info.archive_version = header.version
    info.pg_dump_version = header.pg_dump_version
    need = required_pg_restore_major(header.version)
    _fill_local(info, need if need is not None else 999)
    check_compatible(info)
    assert info.local_pg_restore is not None
    return Path(info.local_pg_restore)


def check_compatible(info: ArchiveInfo) -> None:
    """Raise :class:`Incompatible` when the local pg_restore cannot read ``info``'s archive
    (:class:`IntegrityError` first when the archive is incomplete)."""
    check_complete(info)
    if not info.compatible:
        raise Incompatible(
            info.incompatibility or "incompatible archive", hint=info.install_hint or ""
        )
