"""One module per PostgreSQL sandbox backend; :data:`BACKENDS` maps a ``RUNBOOK_PG`` kind to it.

Every backend is ``(workdir, major) -> context manager of PostgresServer`` and raises
:class:`~runbook_helpers.sandbox.SandboxError` (with a hint) when it cannot give a server.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from runbook_helpers.sandbox.backends.docker import docker_backend
from runbook_helpers.sandbox.backends.embedded import embedded_backend
from runbook_helpers.sandbox.backends.external import external_backend
from runbook_helpers.sandbox.backends.local import local_backend
from runbook_helpers.sandbox.backends.pgserver import pgserver_backend
from runbook_helpers.sandbox.server import PostgresServer

Backend = Callable[[Path | None, int | None], AbstractContextManager[PostgresServer]]

BACKENDS: dict[str, Backend] = {
    "local": local_backend,
    "pgserver": pgserver_backend,
    "embedded": embedded_backend,
    "docker": docker_backend,
    "external": external_backend,
}
