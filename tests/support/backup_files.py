"""Real backup files for fault tests: a small seeded database dumped as the template does it."""

from __future__ import annotations

import gzip
import subprocess
from collections.abc import Mapping
from pathlib import Path

import psycopg

SCHEMA = """
create table users (id serial primary key, email text,
                    created_at timestamptz not null default now());
create table messages (id bigserial primary key, body text, created_at timestamptz default now());
insert into users (email, created_at)
    select 'u' || g || '@x', '2026-01-01 00:00:00+00'::timestamptz + g * interval '1 minute'
    from generate_series(1, 300) g;
insert into messages (body, created_at)
    select repeat(md5(g::text), 4), '2026-01-02 00:00:00+00'::timestamptz + g * interval '1 s'
    from generate_series(1, 3000) g;
"""


def seed_small(url: str, extra_sql: str = "") -> None:
    """Two tables with a created_at column (and whatever ``extra_sql`` adds)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SCHEMA + extra_sql)


def dump_tar_gz(url: str, path: Path, env: Mapping[str, str]) -> bytes:
    """``pg_dump --format=tar | gzip`` of ``url`` into ``path``; returns the bytes written."""
    tar = subprocess.run(
        ["pg_dump", f"--dbname={url}", "--format=tar"],
        capture_output=True,
        check=True,
        env=dict(env),
        timeout=120,
    ).stdout
    data = gzip.compress(tar, compresslevel=6)
    path.write_bytes(data)
    return data


def truncated(data: bytes, fraction: float) -> bytes:
    """The first ``fraction`` of ``data`` (at least one byte, never all of it)."""
    return data[: min(len(data) - 1, max(1, int(len(data) * fraction)))]


def flipped(data: bytes, offset: int) -> bytes:
    """``data`` with every bit of the byte at ``offset`` inverted."""
    return data[:offset] + bytes([data[offset] ^ 0xFF]) + data[offset + 1 :]
