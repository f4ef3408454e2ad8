"""``scrub()``: check the policy covers the schema, scrub in one transaction, scan, hand over.

Order matters, and each step leaves the database in a state its name tells the truth about:

1. refuse a production-looking host (always: production is never scrubbed), an existing
   ``rename_to`` database, a column the policy does not classify, or a rule its column's type
   cannot take: nothing is changed;
2. sample original values (for the scan), then every UPDATE/DELETE in ONE transaction: a
   failure half-way rolls everything back;
3. ``VACUUM FULL`` the scrubbed tables, so old row versions leave the data files too;
4. scan a full ``pg_dump --data-only``; a finding fails the command and the database keeps
   the name it had (one nobody uses);
5. only then, if asked, rename it to the name developers use.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from runbook_helpers.errors import ExitStatus, NotFound, RunbookError, UnsafeTarget
from runbook_helpers.pg.production import production_match
from runbook_helpers.pg.target import (
    Target,
    connect,
    database_exists,
    describe,
    maintenance_connection,
    production_identity,
)
from runbook_helpers.redact import redact_text
from runbook_helpers.scrub.guess import rule_line
from runbook_helpers.scrub.policy import Policy, Rule, short
from runbook_helpers.scrub.scan import Finding, sample_originals, scan_database
from runbook_helpers.scrub.schema import Column, by_table, coverage, read_columns
from runbook_helpers.scrub.sqlgen import functions, table_statement, unusable


class PolicyGap(RunbookError):
    """The database has columns the policy does not classify (or the policy names gone ones)."""

    status = ExitStatus.INCOMPATIBLE

    def __init__(self, message: str, hint: str, details: list[str]) -> None:
        super().__init__(message, hint)
        self.details = details


class ScrubFailed(RunbookError):
    """A statement failed inside the scrub transaction: everything was rolled back."""

    status = ExitStatus.INCOMPATIBLE


class LeakFound(RunbookError):
    """The dump of the scrubbed database still holds personal data."""

    status = ExitStatus.VERIFY_MISMATCH

    def __init__(self, message: str, hint: str, findings: list[Finding]) -> None:
        super().__init__(message, hint)
        self.findings = findings


@dataclass
class ScrubResult:
    database: str  # its name at the end (``rename_to`` when given)
    tables: int
    columns: int
    changed: int  # columns rewritten
    dropped: list[str]  # tables whose rows were deleted
    rows: dict[str, int]  # rows updated/deleted per table
    sampled: int  # original values searched for in the dump
    stages: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        """One line for the CLI."""
        dropped = f", rows of {', '.join(self.dropped)} deleted" if self.dropped else ""
        return (
            f"scrubbed {self.database}: {self.changed} of {self.columns} columns in "
            f"{self.tables} tables rewritten{dropped}; dump scan clean ({self.sampled} sampled "
            f"originals, emails, phones, forbidden patterns) in {sum(self.stages.values()):.1f} s"
        )


def _gap(policy: Policy, conn: psycopg.Connection[Any], columns: list[Column], url: str) -> None:
    cov = coverage(policy, columns)
    if cov.complete:
        return
    details: list[str] = []
    for table, cols in by_table(cov.missing).items():
        known = table in policy.tables
        details.append(f"{short(table)}:" + ("" if known else "  # a new table"))
        details += [rule_line(conn, c) for c in cols]
    details += [f"# {name}: in the policy, not in the database: remove it" for name in cov.stale]
    names = [c.where for c in cov.missing] + [f"{s} (gone)" for s in cov.stale]
    raise PolicyGap(
        f"the policy {policy.source} does not fit {url}: {', '.join(names)}; nothing was changed",
        hint=f"review the guessed lines printed above, add them to {policy.source}, re-run",
        details=details,
    )


def _apply(conn: psycopg.Connection[Any], policy: Policy, columns: list[Column]) -> dict[str, int]:
    rows: dict[str, int] = {}
    try:
        with conn.transaction():
            for statement in functions():
                conn.execute(statement)
            for table, cols in by_table(columns).items():
                rules = {c.name: policy.rule(table, c.name) or Rule("keep") for c in cols}
                stmt = table_statement(table, cols, rules)
                if stmt.as_string(conn):
                    rows[table] = conn.execute(stmt).rowcount
    except psycopg.Error as exc:
        first = redact_text(str(exc)).strip().splitlines()[0]
        raise ScrubFailed(
            f"the scrub stopped: {first}; everything was rolled back, nothing was changed",
            hint="fix the rule for that column in the policy (a constraint or type it breaks)",
        ) from None
    return rows


_SCRUB_HINT = (
    "scrub only a restored copy: restore the backup into a local or scratch "
    "database (runbook restore ... --create), then scrub that"
)


def scrub(
    target_url: str,
    policy: Policy,
    *,
    rename_to: str | None = None,
    vacuum: bool = True,
    on_stage: Callable[[str], None] | None = None,
) -> ScrubResult:
    """Scrub the database at ``target_url`` by ``policy``; see the module docstring."""
    note = on_stage or (lambda _msg: None)
    target = Target.parse(target_url)
    match = production_match(target.params)
    if match:
        host, pattern = match
        raise UnsafeTarget(
            f"refusing to scrub {host}: it looks like production (matches {pattern!r})",
            hint=_SCRUB_HINT,
        )
    known = production_identity(target)
    if known is not None:
        raise UnsafeTarget(
            f"refusing to scrub {target.host}:{target.port}: it is production's server "
            f"({describe(known)})",
            hint=_SCRUB_HINT,
        )
    if rename_to and database_exists(target, rename_to):
        raise UnsafeTarget(
            f"a database named {rename_to} already exists; nothing was changed",
            hint=f"drop it first (dropdb {rename_to}) or choose another --as name",
        )
    stages: dict[str, float] = {}
    mark = time.monotonic()
    with _connect(target_url) as conn:
        columns = read_columns(conn)
        _gap(policy, conn, columns, target.display)
        rule_of = {(c.table, c.name): policy.rule(c.table, c.name) or Rule("keep") for c in columns}
        unusable(columns, rule_of)
        originals = sample_originals(conn, columns, rule_of)
        stages["check"] = time.monotonic() - mark
        note(f"policy covers {len(columns)} columns; scrubbing in one transaction")
        mark = time.monotonic()
        rows = _apply(conn, policy, columns)
        stages["scrub"] = time.monotonic() - mark
        if vacuum:
            mark = time.monotonic()
            for table in rows:
                schema, name = table.split(".", 1)
                conn.execute(
                    sql.SQL("vacuum (full, analyze) {}").format(sql.Identifier(schema, name))
                )
            stages["vacuum"] = time.monotonic() - mark
    note(f"scanning a data dump for personal data ({len(originals)} sampled originals)")
    mark = time.monotonic()
    findings = scan_database(target, target.dbname, originals, policy.forbid)
    stages["scan"] = time.monotonic() - mark
    if findings:
        kept = f"; {target.dbname} was not renamed to {rename_to}" if rename_to else ""
        raise LeakFound(
            f"the scrubbed dump still holds personal data: {len(findings)} finding(s), "
            f"first {findings[0]}{kept}",
            hint=f"fix the policy rules for those tables; drop {target.dbname} (it may still "
            "hold personal data) and scrub a fresh restore",
            findings=findings,
        )
    final = target.dbname
    if rename_to:
        _rename(target, rename_to)
        final = rename_to
    dropped = [short(t) for t, tp in policy.tables.items() if tp.drop and t in rows]
    changed = sum(1 for r in rule_of.values() if r.kind not in ("keep", "drop"))
    return ScrubResult(
        final,
        len(by_table(columns)),
        len(columns),
        changed,
        dropped,
        {short(t): n for t, n in rows.items()},
        len(originals),
        stages,
    )


def _connect(url: str) -> psycopg.Connection[Any]:
    try:
        return connect(url)
    except NotFound as exc:
        raise NotFound(
            str(exc), hint="restore into it first (runbook restore SOURCE --target URL --create)"
        ) from None


def _rename(target: Target, new: str) -> None:
    with maintenance_connection(target) as conn:
        try:
            conn.execute(
                sql.SQL("alter database {} rename to {}").format(
                    sql.Identifier(target.dbname), sql.Identifier(new)
                )
            )
        except psycopg.Error as exc:
            raise UnsafeTarget(
                f"scrubbed and verified, but cannot rename {target.dbname} to {new}: "
                f"{redact_text(str(exc)).strip()}",
                hint=f"close the sessions on {target.dbname}, then "
                f"ALTER DATABASE {target.dbname} RENAME TO {new};",
            ) from None
