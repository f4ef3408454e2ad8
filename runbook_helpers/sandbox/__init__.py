"""Embedded, throw-away servers for the tests and ``runbook drill``.

* :mod:`~runbook_helpers.sandbox.postgres` - ``postgres_server(kind, major=...)``, a PostgreSQL
  server from one of :mod:`~runbook_helpers.sandbox.backends` (``local`` machine binaries,
  ``pgserver`` 16, ``embedded`` 18, ``docker`` testcontainers, ``external`` from ``PG*``);
  clusters are made by :mod:`~runbook_helpers.sandbox.cluster` (run as an unprivileged user by
  :mod:`~runbook_helpers.sandbox.run_as`) from binaries found by
  :mod:`~runbook_helpers.sandbox.bin_dirs`; :mod:`~runbook_helpers.sandbox.server` describes
  the result;
* :mod:`~runbook_helpers.sandbox.r2` - a moto S3 server posing as Cloudflare R2, checking
  credentials and scopes (read / write / other-bucket tokens), with a generated read-only
  ``r2-vlvt`` AWS profile; moto is started by :mod:`~runbook_helpers.sandbox.moto_process`
  and serves :mod:`~runbook_helpers.sandbox.moto_app` (presigned URLs checked);
* :mod:`~runbook_helpers.sandbox.ports` - ``free_port()``, used by both.

Both are context managers: whatever they start is stopped and removed on exit, also on failure.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from runbook_helpers.errors import RunbookError

if TYPE_CHECKING:
    from runbook_helpers.sandbox.postgres import PostgresServer
    from runbook_helpers.sandbox.r2 import R2Mock

__all__ = ["HERMETIC_DROP", "SandboxError", "sandbox_environment"]


class SandboxError(RunbookError):
    """A sandbox server could not be found or started; the message says what was tried."""


# Inherited variables that would make a command talk to something other than the sandbox.
HERMETIC_DROP: tuple[str, ...] = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_CA_BUNDLE",
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGUSER",
    "PGPASSWORD",
    "PGPASSFILE",
    "PGDATABASE",
    "PGSERVICE",
    "PGSERVICEFILE",
    "PGSSLMODE",
    "DATABASE_URL",
    "BACKUP_DATABASE_URL",
)


def sandbox_environment(
    pg: PostgresServer | None,
    r2: R2Mock | None,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """A full environment for subprocesses that talk only to the sandbox.

    ``base`` (default ``os.environ``) minus the AWS/PG variables of :data:`HERMETIC_DROP`, plus
    ``pg.env()`` and ``r2.env()``. ``PATH`` starts with the server's ``bin_dir`` (so ``psql``,
    ``pg_dump`` and ``pg_restore`` match the server's major version), then the running
    interpreter's scripts dir (the venv's ``runbook`` and ``aws``).
    """
    env = {k: v for k, v in (os.environ if base is None else base).items()}
    for name in HERMETIC_DROP:
        env.pop(name, None)
    # This interpreter's scripts dir (the venv's: runbook, aws) comes next, then the rest.
    first = [str(Path(sys.executable).parent)]
    if pg is not None:
        env.update(pg.env())
        if pg.bin_dir is not None:
            first.insert(0, str(pg.bin_dir))
    rest = [p for p in env.get("PATH", "").split(os.pathsep) if p and p not in first]
    env["PATH"] = os.pathsep.join(first + rest)
    if r2 is not None:
        env.update(r2.env())
    return env
