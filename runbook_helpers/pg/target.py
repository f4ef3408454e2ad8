"""The database a restore writes into: URL parsing, safety checks and connections.

:class:`Target` keeps the password inside its libpq parameters (messages show a redacted URL).
Production is refused unless asked for, by its host name and by its server's recorded identity
(:mod:`runbook_helpers.pg.identity`), and so is a target that already holds tables.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from runbook_helpers.errors import (
    AccessDenied,
    NotFound,
    RunbookError,
    Unreachable,
    UnsafeTarget,
    UsageError,
)
from runbook_helpers.pg.identity import IDENTITY_SQL, ProductionServer, recorded, remember
from runbook_helpers.pg.production import (
    PRODUCTION_ENV,
    PRODUCTION_HOST_GLOBS,
    production_match,
)
from runbook_helpers.redact import redact_text

__all__ = ["PRODUCTION_ENV", "PRODUCTION_HOST_GLOBS", "Target", "is_production"]

MAINTENANCE_DBS = ("postgres", "template1")
# databases a restore never writes into: the server's own (every createdb clones template1)
REFUSED_TARGET_DBS = ("postgres", "template0", "template1")
NAME_MAX_BYTES = 63  # PostgreSQL identifiers (NAMEDATALEN - 1); longer ones are cut silently

_SYSTEM_SCHEMAS = "('pg_catalog', 'information_schema', 'pg_toast')"
_USER_TABLES = f"""
select n.nspname || '.' || c.relname
from pg_class c join pg_namespace n on n.oid = c.relnamespace
where c.relkind in ('r', 'p', 'v', 'm', 'f')
  and n.nspname not in {_SYSTEM_SCHEMAS}
  and n.nspname not like 'pg\\_%'
order by 1
"""


@dataclass(frozen=True)
class Target:
    """A database URL split into libpq parameters (the password never leaves ``params``)."""

    url: str
    params: dict[str, str]

    @classmethod
    def parse(cls, url: str) -> Target:
        try:
            params = {k: str(v) for k, v in conninfo_to_dict(url).items() if v is not None}
        except psycopg.ProgrammingError as exc:
            raise UsageError(
                f"not a valid database URL: {redact_text(str(exc))}",
                hint="use postgresql://USER:PASSWORD@HOST:PORT/DBNAME",
            ) from exc
        return cls(url, params)

    @property
    def dbname(self) -> str:
        return self.params.get("dbname") or os.environ.get("PGDATABASE") or self.user

    @property
    def user(self) -> str:
        return self.params.get("user") or os.environ.get("PGUSER") or "postgres"

    @property
    def host(self) -> str:
        return self.params.get("host") or os.environ.get("PGHOST") or "localhost"

    @property
    def port(self) -> str:
        return self.params.get("port") or os.environ.get("PGPORT") or "5432"

    @property
    def display(self) -> str:
        """The URL with its password redacted, for messages."""
        return redact_text(self.url, [self.params.get("password", "")])

    def display_for(self, dbname: str) -> str:
        """The URL pointing at another database on the same server, password redacted."""
        if re.match(r"^postgres(?:ql)?://", self.url):
            parts = urlsplit(self.url)
            return redact_text(
                urlunsplit(parts._replace(path="/" + quote(dbname))),
                [self.params.get("password", "")],
            )
        return redact_text(self.conninfo(dbname, with_password=False))

    def conninfo(self, dbname: str | None = None, *, with_password: bool = True) -> str:
        params = dict(self.params)
        if dbname is not None:
            params["dbname"] = dbname
        if not with_password:
            params.pop("password", None)
        return make_conninfo(**params)

    def tool_env(self) -> dict[str, str]:
        """Environment for pg_restore/psql: the password in PGPASSWORD, not on the command line."""
        env = dict(os.environ)
        if "password" in self.params:
            env["PGPASSWORD"] = self.params["password"]
        return env


def is_production(target: Target | str) -> bool:
    """Whether libpq would connect ``target`` (a Target or URL) to a production host."""
    parsed = Target.parse(target) if isinstance(target, str) else target
    return production_match(parsed.params) is not None


_PRODUCTION_HINT = (
    "this overwrites production data: pass --production if that is really intended "
    "(scenario 1, disaster recovery), else restore into a scratch database"
)


def check_not_production(target: Target, *, production: bool) -> None:
    """Refuse production (UnsafeTarget) unless ``production`` is set.

    By name first, without connecting; then by identity: the server's system identifier is read
    and compared with the recorded production servers, so a tunnel, ``localhost`` or an IP
    address reaching production is refused too. A server reached under a production host name,
    or with ``production`` set, is recorded. A server that cannot be reached is left to the
    command's own connection, which fails with the usual error.
    """
    match = production_match(target.params)
    if match and not production:
        host, pattern = match
        raise UnsafeTarget(
            f"the target host {host} looks like production (matches {pattern!r})",
            hint=_PRODUCTION_HINT,
        )
    identifier = server_identifier(target)
    if identifier is None:
        return
    if match or production:
        remember(identifier, f"{target.host}:{target.port}")
        return
    known = recorded(identifier)
    if known is not None:
        raise UnsafeTarget(
            f"the target server {target.host}:{target.port} is production's: {describe(known)}",
            hint=_PRODUCTION_HINT,
        )


def describe(server: ProductionServer) -> str:
    """``system identifier N, recorded DATE when reached as HOST:PORT``."""
    return (
        f"system identifier {server.system_identifier}, recorded {server.recorded_at} "
        f"when reached as {server.seen_as}"
    )


def production_identity(target: Target) -> ProductionServer | None:
    """The record of the target's server if it is a recorded production server (connects)."""
    identifier = server_identifier(target)
    return recorded(identifier) if identifier is not None else None


def server_identifier(target: Target) -> str | None:
    """The target server's system identifier; None when it cannot be read now.

    Asked of a maintenance database first: a restore's first session on the target database is
    then its pre-check's, which counts the target's other sessions on itself
    (:mod:`runbook_helpers.restore.side_database`), so no just-closed session of its own is
    still listed there."""
    for name in dict.fromkeys((*MAINTENANCE_DBS, target.dbname)):
        try:
            with connect(target.url, dbname=name) as conn:
                row = conn.execute(IDENTITY_SQL).fetchone()
                return str(row[0]) if row else None
        except (NotFound, AccessDenied):
            continue  # that database does not exist (yet), or may not be connected to
        except (RunbookError, psycopg.Error):
            return None
    return None


def connect(
    url: str, *, dbname: str | None = None, autocommit: bool = True
) -> psycopg.Connection[Any]:
    """Connect with typed errors (missing database, refused, bad password) and no secrets."""
    target = Target.parse(url)
    try:
        return psycopg.connect(target.conninfo(dbname), autocommit=autocommit, connect_timeout=10)
    except psycopg.OperationalError as exc:
        raise connect_error(target, dbname or target.dbname, exc) from None


def connect_error(
    target: Target, dbname: str, exc: Exception, *, missing_hint: str | None = None
) -> RunbookError:
    """A typed, password-free error for a failed connection to ``dbname``.

    ``missing_hint`` replaces the "create it first" advice for a missing database (a backup
    source must exist; a restore target may be created).
    """
    text = redact_text(str(exc).strip(), [target.params.get("password", "")])
    last = text.splitlines()[-1] if text else "connection failed"
    where = f"{target.host}:{target.port}"
    if "does not exist" in text and "database" in text:
        return NotFound(
            f'database "{dbname}" does not exist on {where}',
            hint=missing_hint
            or f"create it first (createdb -h {target.host} -p {target.port} -U {target.user} "
            f"{dbname}) or pass --create",
        )
    if "password authentication failed" in text or "no password supplied" in text:
        return AccessDenied(
            f"authentication failed for user {target.user} on {where}",
            hint="check the password in the URL (or PGPASSWORD / ~/.pgpass)",
        )
    if "permission denied" in text:
        return AccessDenied(f"permission denied on {where}: {last}")
    return Unreachable(
        f"cannot connect to PostgreSQL at {where}: {last}",
        hint="check host, port and that the server is running (pg_isready -h HOST -p PORT)",
    )


def database_exists(target: Target, dbname: str) -> bool:
    """Whether ``dbname`` exists on ``target``'s server."""
    with maintenance_connection(target) as conn:
        row = conn.execute("select 1 from pg_database where datname = %s", (dbname,)).fetchone()
        return row is not None


def maintenance_connection(target: Target) -> psycopg.Connection[Any]:
    """A connection to the server itself (``postgres``, else ``template1``)."""
    error: RunbookError | None = None
    for name in (*MAINTENANCE_DBS, target.dbname):
        try:
            return connect(target.url, dbname=name)
        except NotFound as exc:
            error = exc
    assert error is not None
    raise error


def create_database(target: Target, dbname: str) -> None:
    """``CREATE DATABASE dbname`` on ``target``'s server."""
    with maintenance_connection(target) as conn:
        try:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(dbname)))
        except psycopg.Error as exc:
            raise RunbookError(
                f'could not create database "{dbname}": {redact_text(str(exc)).strip()}',
                hint="the role needs CREATEDB; or create it by hand and re-run",
            ) from None


def user_tables(conn: psycopg.Connection[Any]) -> list[str]:
    """Tables, views and sequences-owning relations in non-system schemas."""
    return [str(r[0]) for r in conn.execute(_USER_TABLES).fetchall()]


def ensure_empty(conn: psycopg.Connection[Any], url: str, *, allow_non_empty: bool) -> None:
    """Refuse a target that already holds tables (UnsafeTarget) unless allowed."""
    if allow_non_empty:
        return
    tables = user_tables(conn)
    if tables:
        shown = ", ".join(tables[:5]) + (f" and {len(tables) - 5} more" if len(tables) > 5 else "")
        raise UnsafeTarget(
            f"the target database {conn.info.dbname} is not empty ({len(tables)} tables: {shown})",
            hint="restore into a new database (--create with a new name, or --side-db), or "
            "pass --allow-non-empty if objects may clash",
        )


def check_target_name(target: Target) -> None:
    """Refuse the server's own databases and names PostgreSQL would cut (no connection)."""
    name = target.dbname
    if name in REFUSED_TARGET_DBS:
        named = "dbname" in target.params
        why = (
            f"the target is {name}, the server's own database"
            if named
            else f"the target URL names no database, so libpq would use {name}"
        )
        raise UnsafeTarget(
            f"{why}: a restore never writes into postgres, template0 or template1",
            hint="name a new database at the end of the URL, e.g. postgresql://HOST/vlvt_restore "
            "(add --create to create it)",
        )
    if len(name.encode()) > NAME_MAX_BYTES:
        raise UsageError(
            f"the database name {name[:20]}... is {len(name.encode())} bytes; PostgreSQL keeps "
            f"only {NAME_MAX_BYTES}",
            hint=f"use a database name of at most {NAME_MAX_BYTES} bytes",
        )


def derived_name(base: str, suffix: str) -> tuple[str, bool]:
    """``base + suffix`` within 63 bytes: ``(name, shortened)``.

    Too long a base is cut at a character boundary and given 6 hex digits of its sha256, so the
    same base always gives the same name and two long bases that share a prefix do not collide.
    """
    import hashlib

    name = base + suffix
    if len(name.encode()) <= NAME_MAX_BYTES:
        return name, False
    tag = "_" + hashlib.sha256(base.encode()).hexdigest()[:6]
    room = NAME_MAX_BYTES - len(suffix.encode()) - len(tag)
    cut = base.encode()[:room].decode("utf-8", "ignore")
    return cut + tag + suffix, True
