"""Compare actual output with expected output that may hold wildcards (pure functions).

In the expected text: a line ``...`` matches any number of lines (also none), ``[..]`` any
text within a line, ``[NAME]`` (upper case) the page's placeholder value, ``[REDACTED]`` the
literal marker that replaces secrets in the (already redacted) actual output. Trailing
whitespace and trailing blank lines never matter.

Like trycmd, the actual output is first rewritten toward the expected text (lines that match a
pattern are replaced by the pattern), so a diff shows only real mismatches and an update can
keep the wildcards that still match.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from functools import cache

ELIDE = "..."
_TOKEN = re.compile(r"\[\.\.\]|\[(?P<name>[A-Z][A-Z0-9_]*)\]")
LITERAL_NAMES = frozenset({"REDACTED"})


class UnknownPlaceholder(Exception):
    """Expected output names a placeholder that the page does not define."""


def normalize(text: str) -> list[str]:
    """Lines without trailing whitespace and without trailing blank lines."""
    lines = [line.rstrip() for line in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def line_matches(actual: str, pattern: str, placeholders: Mapping[str, str]) -> bool:
    """Whether one actual line matches one expected line (not ``...``)."""
    if actual == pattern:
        return True
    regex: list[str] = []
    pos = 0
    for match in _TOKEN.finditer(pattern):
        regex.append(re.escape(pattern[pos : match.start()]))
        name = match["name"]
        if name is None:
            regex.append(".*?")
        elif name in LITERAL_NAMES:
            regex.append(re.escape(match[0]))
        elif name in placeholders:
            regex.append(re.escape(placeholders[name]))
        else:
            known = ", ".join(f"[{n}]" for n in sorted(placeholders)) or "none"
            raise UnknownPlaceholder(
                f"unknown placeholder [{name}] in {pattern!r}; known: [..], {known}"
            )
        pos = match.end()
    regex.append(re.escape(pattern[pos:]))
    return re.fullmatch("".join(regex), actual, re.DOTALL) is not None


def matches(
    actual: Sequence[str], expected: Sequence[str], placeholders: Mapping[str, str]
) -> bool:
    """Whether all actual lines match the expected lines (``...`` backtracks)."""

    @cache
    def at(i: int, j: int) -> bool:
        if j == len(expected):
            return i == len(actual)
        if expected[j] == ELIDE:
            return any(at(k, j + 1) for k in range(i, len(actual) + 1))
        return (
            i < len(actual)
            and line_matches(actual[i], expected[j], placeholders)
            and at(i + 1, j + 1)
        )

    return at(0, 0)


def rewrite(
    actual: Sequence[str], expected: Sequence[str], placeholders: Mapping[str, str]
) -> list[str]:
    """Actual lines, with every line that matches its expected pattern replaced by the pattern."""
    out: list[str] = []
    i = j = 0
    while j < len(expected):
        pattern = expected[j]
        if pattern == ELIDE:
            if j + 1 == len(expected):
                out.append(ELIDE)
                return out
            nxt = expected[j + 1]
            if nxt == ELIDE:
                j += 1
                continue
            found = next(
                (k for k in range(i, len(actual)) if line_matches(actual[k], nxt, placeholders)),
                None,
            )
            if found is None:
                break
            out.append(ELIDE)
            i, j = found, j + 1
            continue
        if i >= len(actual):
            break
        if line_matches(actual[i], pattern, placeholders):
            out.append(pattern)
            i, j = i + 1, j + 1
            continue
        # resync: the next actual line that equals a later pattern line (or a later "...")
        out.append(actual[i])
        i += 1
        for k in range(i, len(actual)):
            later = [
                m
                for m in range(j + 1, len(expected))
                if expected[m] == ELIDE or line_matches(actual[k], expected[m], placeholders)
            ]
            if later:
                out.extend(actual[i:k])
                i, j = k, later[0]
                break
        else:
            break
    out.extend(actual[i:])
    return out


def substitute_placeholders(line: str, placeholders: Mapping[str, str]) -> str:
    """Write placeholder values back as ``[NAME]`` (for updated expected output)."""
    for name, value in sorted(placeholders.items(), key=lambda kv: -len(kv[1])):
        if len(value) >= 3:
            line = line.replace(value, f"[{name}]")
    return line


def compare(
    actual_text: str, expected: Sequence[str], placeholders: Mapping[str, str], label: str
) -> tuple[str | None, list[str]]:
    """Return (unified diff or None, rewritten actual lines); ``label`` names the .md step."""
    actual = normalize(actual_text)
    expected = normalize("\n".join(expected))
    if matches(actual, expected, placeholders):
        return None, list(expected)
    rewritten = rewrite(actual, expected, placeholders)
    diff = difflib.unified_diff(
        expected, rewritten, fromfile=f"{label} (expected)", tofile=f"{label} (actual)", lineterm=""
    )
    updated = [substitute_placeholders(line, placeholders) for line in rewritten]
    return "\n".join(diff), updated


# psql and libpq print a server message as "ERROR:  text" (two spaces), alone on its line or
# after a prefix such as "psql:file.sql:3: " or "connection to server ... failed: ".
_SERVER_ERROR = re.compile(r"(?:^|: )(?:ERROR|FATAL|PANIC):  \S")


def server_errors(text: str) -> list[str]:
    """The lines of ``text`` that show a PostgreSQL ERROR, FATAL or PANIC message."""
    return [line for line in normalize(text) if _SERVER_ERROR.search(line)]


def unshown_errors(
    actual_text: str, expected: Sequence[str], placeholders: Mapping[str, str]
) -> list[str]:
    """Server-error lines of the output that no expected line (other than ``...``) shows."""
    shown = [line for line in expected if line != ELIDE]
    return [
        line
        for line in server_errors(actual_text)
        if not any(line_matches(line, pattern, placeholders) for pattern in shown)
    ]
