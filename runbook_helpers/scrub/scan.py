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
from runbook_helpers.pgtools import find_tool
from runbook_helpers.scrub.policy import Rule, short
from runbook_helpers.scrub.schema import Column
from runbook_helpers.scrub.sqlgen import FAKE_DOMAIN, FAKE_PHONE, FAKE_URL, vocabulary
from runbook_helpers.target import Target

EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
PHONE = r"(?<![\w+])(?:\+\d{1,3}[ .-]?\(?\d{1,4}\)?(?:[ .-]?\d{2,5}){2,4}|\(\d{3}\) ?\d{3}[ .-]\d{4})(?![\w])"
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


def scan_lines(
    lines: Iterable[str], originals: dict[str, str], forbid: Iterable[str] = ()
) -> list[Finding]:
    """Search COPY data lines; ``originals`` maps escaped value -> where it came from."""
    checks: list[tuple[str, re.Pattern[str]]] = [
        ("email", re.compile(EMAIL)),
        ("phone", re.compile(PHONE)),
        *(("forbidden pattern", re.compile(p)) for p in forbid),
    ]
    needles = sorted(originals, key=len, reverse=True)
    original = re.compile("|".join(map(re.escape, needles))) if needles else None
    findings: list[Finding] = []
    table = "-"
    for line in lines:
        if line.startswith("COPY "):
            table = short(line.split(" ", 2)[1])
            continue
        if table == "-" or line.startswith(("\\.", "--", "SET ", "SELECT ")):
            continue
        for kind, pattern in checks:
            for match in pattern.finditer(line):
                text = match.group(0)
                if kind == "email" and text.endswith(FAKE_DOMAIN):
                    continue
                if kind == "phone" and text.startswith(FAKE_PHONE):
                    continue
                findings.append(Finding(table, kind, mask(text)))
        if original is not None:
            for match in original.finditer(line):
                where = originals[match.group(0)]
                findings.append(Finding(table, f"original value of {where}", mask(match[0])))
    return findings


def scan_database(
    target: Target, dbname: str, originals: dict[str, str], forbid: Iterable[str] = ()
) -> list[Finding]:
    """Dump ``dbname``'s data with pg_dump and scan it (see :func:`scan_lines`)."""
    with psycopg.connect(target.conninfo(dbname)) as conn:
        major = conn.info.server_version // 10000
    pg_dump = find_tool("pg_dump", min_major=major)
    cmd = [str(pg_dump), "--data-only", "--no-owner", "--no-privileges", "--dbname",
           target.conninfo(dbname, with_password=False)]  # the password goes in PGPASSWORD
    with subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=target.tool_env(),
        text=True, encoding="utf-8", errors="replace",
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
