"""The table of contents of a pg_dump archive (``toc.dat`` of a tar/directory archive), read in
Python: which data file holds which table, and its COPY column list.

Layout as ``pg_backup_archiver.c`` (``WriteToc``/``ReadToc``) writes it, archive versions 1.12
to 1.16: a count, then per entry dumpId, hadDumper, tableoid, oid, tag, desc, section, defn,
dropStmt, copyStmt, namespace, tablespace, tableam (1.14+), relkind (1.16+), owner, withOids,
dependencies (strings up to a NULL one), then the format's extra field: the file name.
"""

from __future__ import annotations

from dataclasses import dataclass

from runbook_helpers.archive.header import Reader, read_header
from runbook_helpers.errors import Incompatible, IntegrityError


@dataclass(frozen=True)
class TocEntry:
    dump_id: int
    desc: str  # "TABLE DATA", "TABLE", "INDEX", ...
    namespace: str | None
    tag: str | None
    copy_stmt: str | None  # "COPY public.users (id, ...) FROM stdin;\n" for TABLE DATA
    filename: str | None  # "2582.dat" in tar and directory archives
    defn: str | None = None  # e.g. "SET client_encoding = 'UTF8';\n" for ENCODING


def read_toc(data: bytes) -> list[TocEntry]:
    """Every TOC entry of ``toc.dat``; Incompatible/IntegrityError when it cannot be read."""
    r = Reader(data)
    header = read_header(r)
    version = tuple(int(p) for p in header.version.split("."))
    if not (1, 12) <= version <= (1, 16):
        raise Incompatible(f"archive version {header.version}: its TOC layout is not known here")
    if header.archive_format not in ("tar", "directory"):
        raise Incompatible(f"a {header.archive_format} archive keeps no per-table data files")
    entries: list[TocEntry] = []
    try:
        for _ in range(r.int()):
            dump_id = r.int()
            r.int()  # hadDumper
            r.str(), r.str()  # tableoid, oid
            tag, desc = r.str(), r.str()
            r.int()  # section
            defn = r.str()
            r.str()  # dropStmt
            copy_stmt = r.str()
            namespace = r.str()
            r.str()  # tablespace
            if version >= (1, 14):
                r.str()  # tableam
            if version >= (1, 16):
                r.int()  # relkind
            r.str(), r.str()  # owner, withOids
            while r.str() is not None:  # dependencies
                pass
            filename = r.str()
            entries.append(TocEntry(dump_id, desc or "", namespace, tag, copy_stmt, filename, defn))
    except IndexError as exc:
        raise IntegrityError(
            "the archive's table of contents (toc.dat) is truncated",
            hint="fetch the backup again; if it persists, use an older backup",
        ) from exc
    return entries
