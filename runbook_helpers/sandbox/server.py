"""How to reach a running PostgreSQL server: :class:`PostgresServer`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg import sql


@dataclass(frozen=True)
class PostgresServer:
    """How to reach a running server; ``bin_dir`` holds client tools of its major version."""

    kind: str  # "local" | "pgserver" | "embedded" | "docker" | "external"
    host: str
    port: int
    user: str
    password: str | None = field(repr=False)
    bin_dir: Path | None
    major: int

    def url(self, dbname: str = "postgres") -> str:
        """``postgresql://user[:password]@host:port/dbname`` (a socket-dir host goes in ?host=)."""
        auth = quote(self.user, safe="")
        if self.password:
            auth += ":" + quote(self.password, safe="")
        if self.host.startswith("/"):
            socket_dir = quote(self.host, safe="")
            return f"postgresql://{auth}@:{self.port}/{quote(dbname, safe='')}?host={socket_dir}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"postgresql://{auth}@{host}:{self.port}/{quote(dbname, safe='')}"

    def env(self) -> dict[str, str]:
        """``PGHOST``, ``PGPORT``, ``PGUSER`` and, when the server has one, ``PGPASSWORD``."""
        env = {"PGHOST": self.host, "PGPORT": str(self.port), "PGUSER": self.user}
        if self.password:
            env["PGPASSWORD"] = self.password
        return env

    def connect(self, dbname: str = "postgres") -> psycopg.Connection[Any]:
        """An autocommit connection (the caller closes it; use it in a ``with``)."""
        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password or None,
            dbname=dbname,
            autocommit=True,
            connect_timeout=10,
        )

    def server_version_num(self) -> int:
        with self.connect() as conn:
            row = conn.execute("show server_version_num").fetchone()
        assert row is not None
        return int(row[0])

    def available_extensions(self) -> frozenset[str]:
        """Names in ``pg_available_extensions`` (what ``CREATE EXTENSION`` can install)."""
        with self.connect() as conn:
            rows = conn.execute("select name from pg_available_extensions").fetchall()
        return frozenset(str(r[0]) for r in rows)

    def create_database(self, name: str) -> str:
        """Create an empty database ``name`` and return its URL."""
        with self.connect() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop ``name`` if it exists, disconnecting its sessions (``WITH (FORCE)``, PG13+)."""
        with self.connect() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def list_databases(self) -> list[str]:
        """Names of the non-template databases, sorted."""
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT datname FROM pg_database WHERE NOT datistemplate ORDER BY 1"
            ).fetchall()
        return [str(r[0]) for r in rows]
