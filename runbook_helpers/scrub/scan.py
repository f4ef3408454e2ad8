"""The check after a scrub: a full data dump must hold no personal data.

``pg_dump --data-only`` of the scrubbed database is read line by line (COPY text format, so a
value never spans lines) and searched for email addresses, phone numbers, the policy's
``scan.forbid`` patterns (the photo CDN) and the original values of a sample of rows taken
before the scrub. Findings name the table and the kind, with the value masked.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from runbook_helpers.errors import RunbookError
from runbook_helpers.pg.target import Target
from runbook_helpers.pg.tools import find_tool
from runbook_helpers.scrub.policy import Rule, short
from runbook_helpers.scrub.schema import Column
from runbook_helpers.scrub.sqlgen import FAKE_DOMAIN, FAKE_PHONE, FAKE_URL, vocabulary

EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
# International (+CC ...) and North American ((NNN) NNN-NNNN) numbers; each regex starts with a
# literal so the engine can skip ahead fast; 8-15 digits in total (E.164) are checked after.
PHONES = (r"\+\d[\d ().-]{6,18}\d(?!\w)", r"\(\d{3}\) ?\d{3}[ .-]\d{4}(?!\w)")
BLOCK_CHARS = 1 << 20
MIN_ORIGINAL = 6  # shorter originals ("Ava", "Oslo") occur by chance
SAMPLE_ROWS = 20
# Rules whose output may legitimately equal an original (a random pick, a rounding, a shift).
UNSAMPLED = ("choice", "coarse")


@dataclass(frozen=True)
class Finding:
    table: str
    kind: str  # "email", "phone", "forbidden pattern", "original value of users.email"
    masked: str

    def __str__(self) -> str:
        return f"{self.table}: {self.kind} {self.masked}"


def mask(value: str) -> str:
    """``jane@example.com`` -> ``j***m (16 chars)``: enough to find it, not to read it."""
    return f"{value[:1]}***{value[-1:]} ({len(value)} chars)"


def _copy_escape(value: str) -> str:
    """How COPY text format writes ``value`` (what the dump contains)."""
    out = value.replace("\\", "\\\\")
    for raw, esc in (("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t")):
        out = out.replace(raw, esc)
    return out


def _strings(value: Any) -> Iterator[str]:
    """Every string in a value: itself, an array's elements, a JSON document's strings."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def _producible(rule: Rule, value: str) -> bool:
    """Could the fake for ``rule`` produce ``value`` (then finding it proves nothing)?"""
    v = vocabulary()
    words = set(v.first) | set(v.last) | set(v.city)
    if value.endswith(FAKE_DOMAIN) or value.startswith((FAKE_URL, FAKE_PHONE)):
        return True
    if value in words or all(part in words for part in value.split(" ")):
        return True
    if rule.arg != "text":
        return False
    # fake text is a sentence repeated and cut: left(repeat(s || ' ', n), length)
    return any(((s + " ") * (2 + len(value) // len(s))).startswith(value) for s in v.sentence)


def sample_originals(
    conn: psycopg.Connection[Any], columns: list[Column], rules: dict[tuple[str, str], Rule]
) -> dict[str, str]:
    """Escaped original value -> "table.column", from up to SAMPLE_ROWS random rows per table."""
    chosen: dict[str, list[Column]] = {}
    for col in columns:
        rule = rules[(col.table, col.name)]
        if rule.kind == "hash" or (rule.kind == "fake" and rule.arg.split()[0] not in UNSAMPLED):
            chosen.setdefault(col.table, []).append(col)
    found: dict[str, str] = {}
    for table, cols in chosen.items():
        schema, name = table.split(".", 1)
        query = sql.SQL("select {} from {} order by random() limit {}").format(
            sql.SQL(", ").join(sql.Identifier(c.name) for c in cols),
            sql.Identifier(schema, name),
            SAMPLE_ROWS,
        )
        for row in conn.execute(query).fetchall():
            for col, value in zip(cols, row, strict=True):
                for text in _strings(value):
                    rule = rules[(col.table, col.name)]
                    if len(text) >= MIN_ORIGINAL and not _producible(rule, text):
                        found[_copy_escape(text)] = col.where
    return found


def _checks(forbid: Iterable[str]) -> list[tuple[str, re.Pattern[str]]]:
    return [
        ("email", re.compile(EMAIL)),
        *(("phone", re.compile(p)) for p in PHONES),
        *(("forbidden pattern", re.compile(p)) for p in forbid),
    ]


def _scan_text(
    table: str,
    text: str,
    checks: list[tuple[str, re.Pattern[str]]],
    original: re.Pattern[str] | None,
    originals: dict[str, str],
) -> Iterator[Finding]:
    for kind, pattern in checks:
        for match in pattern.finditer(text):
            found = match.group(0)
            if kind == "email" and found.endswith(FAKE_DOMAIN):
                continue
            if kind == "phone" and (found.startswith(FAKE_PHONE) or not _phone_like(found)):
                continue
            yield Finding(table, kind, mask(found))
    if original is not None:
        for match in original.finditer(text):
            where = originals[match.group(0)]
            yield Finding(table, f"original value of {where}", mask(match.group(0)))


def _phone_like(text: str) -> bool:
    return 8 <= sum(ch.isdigit() for ch in text) <= 15


def scan_lines(
    lines: Iterable[str], originals: dict[str, str], forbid: Iterable[str] = ()
) -> list[Finding]:
    """Search the COPY data of a dump; ``originals`` maps escaped value -> where it came from.

    Rows are searched a block (up to 1 MB of one table) at a time: one regex call per block
    instead of per line is what keeps a 1 GB dump's scan near pg_dump's own speed.
    """
    checks = _checks(forbid)
    needles = sorted(originals, key=len, reverse=True)
    original = re.compile("|".join(map(re.escape, needles))) if needles else None
    findings: list[Finding] = []
    table: str | None = None
    block: list[str] = []
    size = 0
    for line in lines:
        if table is None:
            if line.startswith("COPY "):
                table = short(line.split(" ", 2)[1])
            continue
        end = line.startswith("\\.")
        if not end:
            block.append(line)
            size += len(line)
        if block and (end or size > BLOCK_CHARS):
            findings += _scan_text(table, "".join(block), checks, original, originals)
            block, size = [], 0
        if end:
            table = None
    return findings


def scan_database(
    target: Target, dbname: str, originals: dict[str, str], forbid: Iterable[str] = ()
) -> list[Finding]:
    """Dump ``dbname``'s data with pg_dump and scan it (see :func:`scan_lines`)."""
    with psycopg.connect(target.conninfo(dbname)) as conn:
        major = conn.info.server_version // 10000
    pg_dump = find_tool("pg_dump", min_major=major)
    cmd = [
        str(pg_dump),
        "--data-only",
        "--no-owner",
        "--no-privileges",
        "--dbname",
        target.conninfo(dbname, with_password=False),
    ]  # the password goes in PGPASSWORD
    with subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=target.tool_env(),
        text=True,
        encoding="utf-8",
        errors="replace",
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        findings = scan_lines(proc.stdout, originals, forbid)
        err = proc.stderr.read()
    if proc.returncode != 0:
        raise RunbookError(
            f"pg_dump --data-only of {dbname} failed: {err.strip().splitlines()[-1:]}",
            hint="the scrub is committed but unverified: do not hand the database over",
        )
    return findings
