"""Fault makers for restore-side (and other) fault-injection tests; no tests here.

Each function takes good bytes (or nothing) and returns the damaged or hostile bytes a test
writes to a file or an object; :func:`target_state` says what a fault left in a database.
What a failing command must print is checked by ``tests.support.cli_checks``.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
from pathlib import Path
from typing import Any

import psycopg

# Commands a hostile "backup" tries to run on the operator's machine; {canary} is a file path
# whose existence afterwards proves the command ran.
HOSTILE_META = {
    "shell": "\\! touch {canary}\n",
    "connect": "\\connect postgres\n\\! touch {canary}\n",
    "output": "\\o {canary}\nselect 1;\n",
    "copy_program": "\\copy (select 1) to program 'touch {canary}'\n",
    "mid_line": "select 1 \\g {canary}\n",
}


def hostile_sql(kind: str, canary: Path, *, complete: bool = False) -> bytes:
    """Plain SQL whose second line is a psql meta-command (``HOSTILE_META[kind]``).

    ``complete`` ends it like a real dump ("dump complete"), so only the meta-command is wrong.
    """
    text = "--\n" + HOSTILE_META[kind].format(canary=canary)
    if complete:
        text += "--\n-- PostgreSQL database dump complete\n--\n"
    return text.encode()


def after_copy_data(sql: bytes, canary: Path) -> bytes:
    """A real plain dump with ``\\!`` smuggled in right after its first COPY data block."""
    marker = b"\n\\.\n"
    at = sql.index(marker) + len(marker)
    return sql[:at] + f"\\! touch {canary}\n".encode() + sql[at:]


def flip_bytes(data: bytes, fraction: float, count: int = 64) -> bytes:
    """``data`` with ``count`` bytes XOR-ed from ``fraction`` of the way in."""
    out = bytearray(data)
    start = min(int(len(data) * fraction), max(len(data) - count, 0))
    for i in range(start, min(start + count, len(out))):
        out[i] ^= 0x5A
    return bytes(out)


def wrong_crc(gz: bytes) -> bytes:
    """A gzip stream whose CRC32 trailer (bytes -8..-5) is wrong; the data is intact."""
    out = bytearray(gz)
    out[-8] ^= 0xFF
    return bytes(out)


def wrong_length(gz: bytes) -> bytes:
    """A gzip stream whose ISIZE trailer (bytes -4..-1) is wrong; the data is intact."""
    out = bytearray(gz)
    out[-1] ^= 0x01
    return bytes(out)


def garbage_gz(size: int = 200_000, seed: int = 3) -> bytes:
    """A valid gzip of random binary bytes: not a dump of any kind."""
    import random

    return gzip.compress(random.Random(seed).randbytes(size), compresslevel=1)


def sidecar(data: bytes, name: str, *, wrong: bool = False) -> bytes:
    """A ``sha256sum``-style sidecar for ``data`` (or a wrong digest)."""
    digest = "0" * 64 if wrong else hashlib.sha256(data).hexdigest()
    return f"{digest}  {name}\n".encode()


def hostile_tar_gz(tar_gz: bytes, canary: Path) -> bytes:
    """The template backup with ``\\.`` + ``\\! touch CANARY`` appended to its first data member.

    pg_restore copies a data member verbatim into its script, so without restricted mode the
    line after the smuggled end-of-data marker runs as a psql meta-command.
    """
    out = io.BytesIO()
    done = False
    with (
        tarfile.open(fileobj=io.BytesIO(gzip.decompress(tar_gz))) as src,
        tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as dst,
    ):
        for member in src.getmembers():
            body = src.extractfile(member) if member.isfile() else None
            payload = body.read() if body is not None else b""
            if not done and member.name.endswith(".dat") and member.name != "toc.dat" and payload:
                payload = payload.replace(b"\\.\n", f"\\.\n\\! touch {canary}\n".encode(), 1)
                done = b"\\!" in payload
            member.size = len(payload)
            dst.addfile(member, io.BytesIO(payload))
    assert done, "no data member with an end-of-data marker"
    return gzip.compress(out.getvalue(), compresslevel=1)


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def target_state(url: str) -> str:
    """``missing`` | ``untouched`` | ``empty (STATE)`` | ``N tables (STATE)``.

    ``untouched``: no tables and no comment; STATE is the marker's: IN PROGRESS, FAILED or DONE.
    """
    try:
        conn = psycopg.connect(url, connect_timeout=5)
    except psycopg.OperationalError as exc:
        if "does not exist" in str(exc):
            return "missing"
        raise
    with conn:
        row = conn.execute(
            "select count(*) from pg_tables"
            " where schemaname not in ('pg_catalog', 'information_schema')"
        ).fetchone()
        text = database_marker(conn, conn.info.dbname)
    tables = int(row[0]) if row else 0
    if not text:
        return "untouched" if tables == 0 else f"{tables} tables (no marker)"
    state = "FAILED" if "FAILED" in text else "IN PROGRESS" if "IN PROGRESS" in text else "DONE"
    return f"{'empty' if tables == 0 else f'{tables} tables'} ({state})"


def database_marker(conn: psycopg.Connection[Any], dbname: str) -> str:
    """The restore marker (the comment) on database ``dbname``, or ""."""
    row = conn.execute(
        "select coalesce(shobj_description(oid, 'pg_database'), '') from pg_database"
        " where datname = %s",
        (dbname,),
    ).fetchone()
    return str(row[0]) if row else ""


def side_markers(conn: psycopg.Connection[Any], dbname: str) -> dict[str, str]:
    """Side databases of restores into ``dbname``: name -> restore marker (or "")."""
    rows = conn.execute(
        "select datname, coalesce(shobj_description(oid, 'pg_database'), '')"
        " from pg_database where datname like %s",
        (f"{dbname}\\_restore\\_%",),
    ).fetchall()
    return {str(r[0]): str(r[1]) for r in rows}


def side_databases(url: str) -> dict[str, str]:
    """Side databases of restores into ``url``'s database: name -> restore marker (or "")."""
    name = str(psycopg.conninfo.conninfo_to_dict(url)["dbname"])
    admin = psycopg.conninfo.make_conninfo(url, dbname="postgres")
    with psycopg.connect(admin, connect_timeout=5) as conn:
        return side_markers(conn, name)


def wait_for_no_sessions(url: str, timeout: float = 60) -> None:
    """Wait until no other session is connected to ``url``'s database (orphans have exited)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        with psycopg.connect(url, connect_timeout=5) as conn:
            row = conn.execute(
                "select count(*) from pg_stat_activity"
                " where datname = current_database() and pid <> pg_backend_pid()"
            ).fetchone()
        if not row or row[0] == 0:
            return
        assert time.monotonic() < deadline, f"{row[0]} session(s) still connected"
        time.sleep(0.05)


def env_without(env: dict[str, str], *names: str) -> dict[str, str]:
    return {k: v for k, v in env.items() if k not in names}


def path_first(env: dict[str, str], bin_dir: Path) -> dict[str, str]:
    """``env`` with ``bin_dir`` first on PATH (to pick another PostgreSQL client major)."""
    return {**env, "PATH": os.pathsep.join([str(bin_dir), env.get("PATH", "")])}
