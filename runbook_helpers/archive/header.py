"""A pg_dump archive header, the pg_restore versions that read it, and what content to refuse.

The format itself comes from :mod:`runbook_helpers.archive.detect` (magic bytes). The header is
parsed here (the same fields ``pg_restore`` reads in ``ReadHead``), so the archive version,
pg_dump version and server version are known even when the local ``pg_restore`` is too old to
open the file; ``ARCHIVE_MIN_MAJOR`` says which pg_restore is needed.
"""

from __future__ import annotations

from dataclasses import dataclass

from runbook_helpers.archive.detect import PGDMP, looks_like_text
from runbook_helpers.errors import Incompatible, IntegrityError
from runbook_helpers.pg.psql_restricted import RESTRICT_SINCE
from runbook_helpers.redact import redact_text

# Archive version -> first PostgreSQL major whose pg_restore reads it.
ARCHIVE_MIN_MAJOR: dict[str, int] = {
    "1.12": 9,
    "1.13": 10,
    "1.14": 12,
    "1.15": 16,
    "1.16": 17,
}
_ARCH_FORMATS = {1: "custom", 2: "files", 3: "tar", 4: "null", 5: "directory"}
_COMPRESSION_ALGORITHMS = {0: "none", 1: "gzip", 2: "lz4", 3: "zstd"}


@dataclass(frozen=True)
class ArchiveHeader:
    """Fields of the archive header (``PGDMP``...), read without pg_restore."""

    version: str  # "1.14"
    revision: int
    int_size: int
    off_size: int
    archive_format: str  # as recorded inside: custom | tar | directory
    compression: str
    created_at: str | None
    dbname: str | None
    server_version: str | None
    pg_dump_version: str | None


def required_pg_restore_major(archive_version: str) -> int | None:
    """The oldest pg_restore major that reads ``archive_version`` (None: unknown, newer)."""
    return ARCHIVE_MIN_MAJOR.get(archive_version)


def max_archive_version(pg_restore_major: int) -> str:
    """The newest archive version a pg_restore of this major reads."""
    best = "1.12"
    for version, major in ARCHIVE_MIN_MAJOR.items():
        if major <= pg_restore_major:
            best = version
    return best


def install_hint(major: int | None) -> str:
    """How to get a pg_restore of ``major`` (or the newest) on the usual machines."""
    if major is None:
        return (
            "install the newest PostgreSQL client tools (apt-get install postgresql-client, "
            "brew install postgresql) and put its bin directory first on PATH"
        )
    hint = (
        f"install PostgreSQL {major} client tools and put them first on PATH: "
        f"apt-get install postgresql-client-{major} (Debian/Ubuntu, PGDG repository; binaries "
        f"in /usr/lib/postgresql/{major}/bin) or brew install postgresql@{major} (macOS)"
    )
    if major in RESTRICT_SINCE:  # restores also need a psql with \restrict (psql_restricted)
        hint += f"; take {major}.{RESTRICT_SINCE[major]} or newer, whose psql has \\restrict"
    return hint


# --- header parsing ----------------------------------------------------------------------------


class Reader:
    """Reads pg_dump's archive integers and strings (ReadInt/ReadStr) from bytes."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0
        self.int_size = 4

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise IndexError("header truncated")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def int(self) -> int:
        sign = self.byte()
        value = 0
        for i in range(self.int_size):
            value |= self.byte() << (8 * i)
        return -value if sign else value

    def str(self) -> str | None:
        length = self.int()
        if length < 0:
            return None
        raw = self.data[self.pos : self.pos + length]
        if len(raw) < length:
            raise IndexError("header truncated")
        self.pos += length
        return raw.decode("utf-8", "replace")


def parse_header(data: bytes) -> ArchiveHeader:
    """Parse the ``PGDMP`` archive header at the start of ``data`` (custom file or toc.dat)."""
    return read_header(Reader(data))


def read_header(r: Reader) -> ArchiveHeader:
    """Parse the archive header from ``r`` (left just after it: the TOC follows)."""
    if not r.data.startswith(PGDMP):
        raise Incompatible("no PGDMP magic string: not a pg_dump archive header")
    r.pos = len(PGDMP)
    try:
        vmaj, vmin = r.byte(), r.byte()
        vrev = r.byte() if (vmaj, vmin) > (1, 0) else 0
        r.int_size = r.byte()
        off_size = r.byte() if (vmaj, vmin) >= (1, 7) else r.int_size
        fmt = r.byte()
        compression = "unknown"
        if (vmaj, vmin) >= (1, 15):
            compression = _COMPRESSION_ALGORITHMS.get(r.byte(), "unknown")
        elif (vmaj, vmin) >= (1, 2):
            level = r.int() if (vmaj, vmin) >= (1, 4) else r.byte()
            compression = "none" if level == 0 else ("gzip" if level == -1 else f"gzip:{level}")
        created = dbname = server = dumper = None
        if (vmaj, vmin) >= (1, 4):
            sec, minute, hour, mday, mon, year, _isdst = (r.int() for _ in range(7))
            created = (
                f"{year + 1900:04d}-{mon + 1:02d}-{mday:02d} {hour:02d}:{minute:02d}:{sec:02d}"
            )
            dbname = r.str()
        if (vmaj, vmin) >= (1, 10):
            server = r.str()
            dumper = r.str()
    except IndexError as exc:
        raise IntegrityError(
            "the archive header is truncated", hint="the backup is incomplete; use another"
        ) from exc
    return ArchiveHeader(
        version=f"{vmaj}.{vmin}",
        revision=vrev,
        int_size=r.int_size,
        off_size=off_size,
        archive_format=_ARCH_FORMATS.get(fmt, f"unknown({fmt})"),
        compression=compression,
        created_at=created,
        dbname=dbname,
        server_version=server,
        pg_dump_version=dumper,
    )


def header_from_head(fmt: str, head: bytes) -> ArchiveHeader | None:
    """The archive header inside the first (decompressed) bytes of a file of format ``fmt``."""
    if fmt.startswith("plain"):
        return None
    if fmt.startswith("tar"):
        name = head[:100].split(b"\x00", 1)[0]
        if name != b"toc.dat":
            raise Incompatible(
                f"the tar archive starts with {name.decode(errors='replace')!r}, not toc.dat: "
                "not a pg_dump tar archive",
                hint="give the .tar.gz written by the backup template (pg_dump --format=tar)",
            )
        if not head[512:].startswith(PGDMP):  # pg_restore: "did not find magic string"
            raise IntegrityError(
                "the tar archive's toc.dat has no PGDMP magic string: the archive is damaged",
                hint="fetch the backup again and compare its sha256; if it persists, use an "
                "older backup",
            )
        return parse_header(head[512:])
    return parse_header(head)


# --- does the content match what the operator expects? ----------------------------------------

DESCRIPTIONS = {
    "tar.gz": "gzip'd tar archive",
    "tar": "tar archive",
    "custom": "custom archive",
    "custom.gz": "gzip'd custom archive",
    "directory": "directory archive",
    "plain": "plain SQL",
    "plain.gz": "gzip'd plain SQL",
}
# what --format accepts: the kind of dump, gzip'd or not
KINDS = ("tar", "custom", "directory", "plain")
_NAME_SUFFIXES = (
    (".tar.gz", "tar.gz"),
    (".tgz", "tar.gz"),
    (".tar", "tar"),
    (".dump.gz", "custom.gz"),
    (".backup.gz", "custom.gz"),
    (".dump", "custom"),
    (".backup", "custom"),
    (".sql.gz", "plain.gz"),
    (".sql", "plain"),
)


def describe(fmt: str) -> str:
    """``tar.gz`` -> ``gzip'd tar archive``."""
    return DESCRIPTIONS.get(fmt, fmt)


def format_from_name(name: str) -> str | None:
    """The format a file name promises (``x.tar.gz`` -> ``tar.gz``), or None."""
    lower = name.lower()
    for suffix, fmt in _NAME_SUFFIXES:
        if lower.endswith(suffix):
            return fmt
    return None


def check_content(name: str, fmt: str, head: bytes, requested: str | None) -> None:
    """Refuse (Incompatible, exit 7) content that is not what its name or ``--format`` says.

    ``fmt`` is the detected format, ``head`` its first decompressed bytes, ``requested`` the
    ``--format`` kind (tar, custom, directory, plain) or None. Plain SQL is accepted only when
    requested: nothing in a backup runs as SQL through psql unless the operator asked for it.
    """
    what = describe(fmt)
    if not head:
        raise IntegrityError(
            f"{name} holds no data once decompressed: not a PostgreSQL dump",
            hint="the backup failed when it was made; use another one",
        )
    if fmt.startswith("plain") and not looks_like_text(head[:4096]):
        kind = "gzip-compressed binary data" if fmt.endswith(".gz") else "binary data"
        raise Incompatible(
            f"{name} is {kind}: not a PostgreSQL dump",
            hint="give a file written by pg_dump (the template writes .tar.gz); "
            "runbook inspect FILE says what a file holds",
        )
    article = "" if fmt.startswith("plain") else "a "
    if requested is not None:
        if fmt.removesuffix(".gz") != requested:
            raise Incompatible(
                f"{name} is {article}{what}, not what --format {requested} says",
                hint=f"pass --format {fmt.removesuffix('.gz')}, or leave --format out",
            )
        return
    if fmt.startswith("plain"):
        raise Incompatible(
            f"{name} is {what}, not a pg_dump archive; plain SQL is run only when asked for",
            hint="if you trust it, pass --format plain (psql then runs it in restricted mode: "
            "no meta-commands); the backup template writes .tar.gz archives",
        )
    expected = format_from_name(name)
    if expected is not None and expected != fmt:
        raise Incompatible(
            f"{name} is {article}{what}, but its name says {describe(expected)}",
            hint="check where it came from; if you trust it, pass "
            f"--format {fmt.removesuffix('.gz')}",
        )


def check_source_content(source: str, fmt: str, head: bytes, requested: str | None) -> None:
    """Exit 7 when the content of ``source`` is not what its name or --format says."""
    name = redact_text(source).rstrip("/").rsplit("/", 1)[-1]
    if fmt == "directory":
        if requested not in (None, "directory"):
            raise Incompatible(
                f"{name} is a directory archive, not what --format {requested} says",
                hint="pass --format directory, or leave --format out",
            )
        return
    check_content(name, fmt, head, requested)
