"""``docker``: a testcontainers ``postgres:<major>`` container (for users' CI with Docker)."""

from __future__ import annotations

import importlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from runbook_helpers.sandbox import SandboxError
from runbook_helpers.sandbox.bin_dirs import client_bin_dir
from runbook_helpers.sandbox.server import PostgresServer

DEFAULT_MAJOR = 16  # Railway's postgres-ssl:16


def docker_available() -> tuple[bool, str]:
    """``(True, "")`` when a Docker engine answers a ping, else ``(False, why not)``."""
    try:
        docker: Any = importlib.import_module("docker")
    except ImportError as exc:
        return False, f"the docker Python package is not installed ({exc})"
    try:
        client = docker.from_env(timeout=5)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:  # any failure means "no engine": report it, never raise
        text = " ".join(str(exc).split())
        return False, f"{type(exc).__name__}: {text[:300]}"
    return True, ""


@contextmanager
def docker_backend(workdir: Path | None, major: int | None) -> Iterator[PostgresServer]:
    """A ``postgres:<major>`` container (default 16); raises when no engine answers."""
    ok, reason = docker_available()
    if not ok:
        raise SandboxError(
            f"no Docker engine answers: {reason}",
            hint="start Docker (or set DOCKER_HOST), or use RUNBOOK_PG=local / pgserver / embedded",
        )
    from testcontainers.community.postgres import PostgresContainer

    version = major or DEFAULT_MAJOR
    password = secrets.token_urlsafe(18)
    container = PostgresContainer(
        f"postgres:{version}",
        username="postgres",
        password=password,
        dbname="postgres",
        driver=None,
    )
    with container:
        host = container.get_container_host_ip()
        port = int(container.get_exposed_port(5432))
        yield PostgresServer(
            "docker", host, port, "postgres", password, client_bin_dir(version), version
        )
