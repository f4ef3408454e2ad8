"""The scrub policy: a YAML file that classifies every column of every table.

Format (one rule per column; a table may instead be ``drop``, which deletes all its rows)::

    tables:
      users:
        id: keep
        email: fake email          # unique input -> unique output, @example.invalid
        gender: fake choice woman,man,nonbinary
        last_active_at: shift 14   # +/- up to 14 days, a different amount per row
      audit_log: drop
    scan:
      forbid:                      # regexes the scrubbed data dump must not contain
        - 'https?://cdn\\.vlvt\\.example/'

Rules: ``keep``, ``null``, ``hash`` (salted md5, unique), ``fixed VALUE``, ``shift DAYS``
(dates/timestamps) and ``fake KIND`` with KIND one of :data:`FAKE_KINDS`. Tables are
``name`` (schema ``public``) or ``schema.name``. pganonymize's policy (tables -> fields ->
provider) is the reference design; this one is flatter so a person reviews one line per column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from runbook_helpers.errors import UsageError

FAKE_KINDS: dict[str, str] = {
    "email": "unique address at example.invalid",
    "name": "first and last name (Faker)",
    "first_name": "first name (Faker)",
    "last_name": "last name (Faker)",
    "phone": "+1 555 fictional number, unique",
    "text": "Faker sentences cut to the original length",
    "city": "city name (Faker)",
    "url": "https://example.invalid/<hash>",
    "ip": "an address in 192.0.2.0/24 (TEST-NET-1)",
    "json": "every string inside replaced by its kind (URL, email, text); keys kept",
    "coarse": "a number rounded to one decimal (about 11 km for coordinates)",
    "choice": "one of a comma-separated list, e.g. `fake choice woman,man,nonbinary`",
}
SIMPLE_RULES = ("keep", "null", "hash")
ARG_RULES = ("fake", "fixed", "shift")


@dataclass(frozen=True)
class Rule:
    """One column's treatment: ``kind`` (keep, null, hash, fake, fixed, shift) and its argument."""

    kind: str
    arg: str = ""

    @classmethod
    def parse(cls, text: object, where: str) -> Rule:
        raw = "null" if text is None else str(text).strip()
        kind, _, arg = raw.partition(" ")
        arg = arg.strip()
        if kind in SIMPLE_RULES and not arg:
            return cls(kind)
        if kind == "fake":
            fake_kind, _, rest = arg.partition(" ")
            if fake_kind not in FAKE_KINDS or (fake_kind == "choice") != bool(rest.strip()):
                raise _bad(where, raw, f"fake KIND with KIND one of {', '.join(FAKE_KINDS)}")
            return cls(kind, arg)
        if kind == "fixed":
            return cls(kind, arg)
        if kind == "shift" and re.fullmatch(r"[0-9]+", arg):
            return cls(kind, arg)
        raise _bad(
            where, raw, "keep | null | hash | fake KIND | fixed VALUE | shift DAYS (a table: drop)"
        )

    @property
    def text(self) -> str:
        return f"{self.kind} {self.arg}".strip()


def _bad(where: str, raw: str, expected: str) -> UsageError:
    return UsageError(f"policy {where}: cannot read rule {raw!r}", hint=f"write {expected}")


@dataclass(frozen=True)
class TablePolicy:
    """``drop`` (delete every row) or a rule per column."""

    drop: bool = False
    columns: dict[str, Rule] = field(default_factory=dict)


@dataclass(frozen=True)
class Policy:
    tables: dict[str, TablePolicy]  # qualified "schema.table" -> policy
    forbid: tuple[str, ...] = ()  # extra regexes for the dump scan
    source: str = ""

    @classmethod
    def load(cls, path: Path) -> Policy:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise UsageError(
                f"cannot read policy {path}: {exc.strerror}",
                hint="pass --policy FILE, or draft one with `runbook scrub --init --target URL`",
            ) from None
        except yaml.YAMLError as exc:
            raise UsageError(
                f"policy {path} is not valid YAML: {exc}", hint="fix the file"
            ) from None
        return cls.from_data(data, str(path))

    @classmethod
    def from_data(cls, data: Any, source: str = "") -> Policy:
        if not isinstance(data, dict) or not isinstance(data.get("tables"), dict):
            raise UsageError(
                f"policy {source} has no `tables:` mapping",
                hint="start from `runbook scrub --init --target URL`",
            )
        tables: dict[str, TablePolicy] = {}
        for name, body in data["tables"].items():
            qualified = qualify(str(name))
            if body == "drop":
                tables[qualified] = TablePolicy(drop=True)
            elif isinstance(body, dict):
                tables[qualified] = TablePolicy(
                    columns={
                        str(col): Rule.parse(rule, f"{qualified}.{col}")
                        for col, rule in body.items()
                    }
                )
            else:
                raise UsageError(
                    f"policy table {qualified}: expected `drop` or a column mapping",
                    hint="write `TABLE: drop` or one `COLUMN: RULE` line per column",
                )
        scan = data.get("scan") or {}
        forbid = tuple(str(p) for p in (scan.get("forbid") or []))
        for pattern in forbid:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise UsageError(
                    f"policy scan.forbid {pattern!r} is not a regex: {exc}", hint="fix it"
                ) from None
        return cls(tables, forbid, source)

    def rule(self, table: str, column: str) -> Rule | None:
        """The rule for ``table.column``; None when the policy does not classify it."""
        found = self.tables.get(table)
        if found is None:
            return None
        return Rule("drop") if found.drop else found.columns.get(column)


def qualify(name: str) -> str:
    """``users`` -> ``public.users``; ``audit.log`` stays."""
    return name if "." in name else f"public.{name}"


def short(qualified: str) -> str:
    """``public.users`` -> ``users`` (how the policy file writes tables of ``public``)."""
    return qualified.removeprefix("public.")
