"""Guess a rule for a column from its name, type and values: the draft a person reviews.

Used by ``runbook scrub --init`` (a whole policy) and by the refusal of an incomplete policy
(the lines to add). Every guess says why, so the reviewer knows what to check.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql

from runbook_helpers.scrub.policy import Rule, short
from runbook_helpers.scrub.schema import Column, by_table
from runbook_helpers.scrub.sqlgen import DATE_TYPES

CODE_LIST_MAX = 12  # a text column with at most this many distinct values is a code list
TEXTUAL = ("text", "character varying", "character", "citext")
NUMERIC = ("numeric", "double precision", "real")

# (name pattern, rule, reason), first match wins; checked before the type-based guesses.
NAME_RULES: tuple[tuple[str, str, str], ...] = (
    (r"(^|_)id$|_ids?$|_by$", "keep", "an identifier"),
    (r"^(created|updated|inserted|deleted)_(at|on)$", "keep", "a record timestamp"),
    (r"e_?mail", "fake email", "an email address"),
    (r"phone|mobile|msisdn|(^|_)tel($|_)", "fake phone", "a phone number"),
    (r"birth|(^|_)dob($|_)", "shift 365", "a date of birth"),
    (r"first_?name|given_?name", "fake first_name", "a first name"),
    (r"last_?name|surname|family_?name", "fake last_name", "a last name"),
    (r"(^|_)(full_?|display_?|user_?|nick_?|real_?)?name$", "fake name", "a person's name"),
    (r"(^|_)(lat|latitude|lng|lon|longitude)$", "fake coarse", "a coordinate"),
    (r"(^|_)ip(_?addr(ess)?)?$", "fake ip", "an IP address"),
    (r"(^|_)city$", "fake city", "a city"),
    (r"url|photo|avatar|image|picture|website|link", "fake url", "a URL"),
    (
        r"bio|body|message|text|description|about|comment|note|content|address|street|"
        r"post_?code|zip|location",
        "fake text",
        "free text or an address",
    ),
)
SENSITIVE = r"gender|sex|orientation|looking_for|religio|ethnic|race|politic|health|disab"


def _values(conn: psycopg.Connection[Any], col: Column, limit: int) -> list[str] | None:
    """Up to ``limit`` distinct values of a text column, or None if there are more."""
    schema, name = col.table.split(".", 1)
    element = sql.SQL("unnest({})" if col.is_array else "{}").format(sql.Identifier(col.name))
    query = sql.SQL(
        "select distinct v::text from (select {} v from {}) s where v is not null limit {}"
    ).format(element, sql.Identifier(schema, name), limit + 1)
    rows = [str(r[0]) for r in conn.execute(query).fetchall()]
    return rows if len(rows) <= limit else None


def guess(conn: psycopg.Connection[Any], col: Column) -> tuple[Rule, str]:
    """A rule for ``col`` and why it was chosen."""
    lower = col.name.lower()
    if col.element in ("json", "jsonb"):
        return Rule("fake", "json"), "JSON: every string inside is replaced"
    if re.search(SENSITIVE, lower):
        values = _values(conn, col, CODE_LIST_MAX)
        if values and all("," not in v for v in values) and col.element in TEXTUAL:
            return Rule("fake", "choice " + ",".join(sorted(values))), "special-category data"
        return (Rule("fixed", "") if col.not_null else Rule("null")), "special-category data"
    for pattern, rule, why in NAME_RULES:
        if re.search(pattern, lower):
            parsed = Rule.parse(rule, col.where)
            if parsed.kind == "shift" and col.element not in DATE_TYPES:
                continue
            if parsed.arg == "coarse" and col.element not in NUMERIC:
                continue
            return parsed, why
    if col.element in DATE_TYPES:
        return Rule("shift", "7"), "an activity time: shifted by up to a week"
    if col.element in TEXTUAL:
        if _values(conn, col, CODE_LIST_MAX) is not None:
            return Rule("keep"), f"at most {CODE_LIST_MAX} distinct values: a code list?"
        return Rule("fake", "text"), "text of unknown meaning: replaced"
    return Rule("keep"), f"{col.type}: not personal by itself?"


def _yaml_scalar(text: str) -> str:
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9_ .]*", text) and text.strip() == text:
        return text
    return "'" + text.replace("'", "''") + "'"


def rule_line(conn: psycopg.Connection[Any], col: Column, indent: str = "    ") -> str:
    """``    email: fake email  # guess: an email address`` for the policy file."""
    rule, why = guess(conn, col)
    return f"{indent}{_yaml_scalar(col.name)}: {_yaml_scalar(rule.text)}  # guess: {why}"


def draft(conn: psycopg.Connection[Any], columns: list[Column], origin: str) -> str:
    """A whole policy for ``columns``, one guessed line per column, for a person to review."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    lines = [
        f"# Scrub policy drafted by `runbook scrub --init` from {origin} on {stamp}.",
        "# Every line is a GUESS: review each one before use. Rules: keep, null, hash,",
        "# fake KIND, fixed VALUE, shift DAYS; a whole table: drop.",
        "tables:",
    ]
    for table, cols in by_table(columns).items():
        lines.append(f"  {_yaml_scalar(short(table))}:")
        lines += [rule_line(conn, col) for col in cols]
    lines += ["scan:", "  forbid: []  # regexes the scrubbed dump must not match, e.g. a CDN URL"]
    return "\n".join(lines) + "\n"
