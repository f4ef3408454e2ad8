"""``docker``: a testcontainers ``postgres:<major>`` container (for users' CI with Docker).

The image is pinned by digest, as the workflows' images are (tests/test_workflow_images.py): a
tag moves to a new build with every rebuild, ``postgres:16@sha256:...`` is one image. The
digests are the multi-arch indexes of docker-library/repo-info ``repos/postgres/remote/<major>.md``
(builds of 2026-09-19, read 2026-12-07); to move on, ``docker buildx imagetools inspect
postgres:<major>`` prints the current one.
"""

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
# major -> (the release it holds, the digest of its multi-arch index)
IMAGES: dict[int, tuple[str, str]] = {
    15: ("15.19", "sha256:dfbbb0ad8cab91d41e99123664e37a9b25d0413426d4fb3154e4d668e5d35246"),
    16: ("16.15", "sha256:a3b7f434b2dc57ce85a67e171163eb8ab1a1ebcb39d27484661f26b1dfbe30d6"),
    17: ("17.11", "sha256:f4c66b820c6f974249089d3d16d86a3698eae11e8746eb6644b2271031e91232"),
    18: ("18.6", "sha256:86c951e05bf56c93d95d397747fb8820ac76cc3bedb78f43abd83eedbe3666ae"),
}


def image_for(major: int) -> str:
    """``postgres:<major>@sha256:...``: the pinned image of ``major``; raises for any other."""
    if major not in IMAGES:
        known = ", ".join(str(m) for m in IMAGES)
        raise SandboxError(
            f"no pinned postgres image for PostgreSQL {major} (pinned: {known})",
            hint="add its digest to IMAGES in runbook_helpers/sandbox/backends/docker.py "
            f"(`docker buildx imagetools inspect postgres:{major}`), or use another RUNBOOK_PG",
        )
    return f"postgres:{major}@{IMAGES[major][1]}"


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
    """A pinned ``postgres:<major>`` container (default 16); raises when no engine answers."""
    version = major or DEFAULT_MAJOR
    image = image_for(version)
    ok, reason = docker_available()
    if not ok:
        raise SandboxError(
            f"no Docker engine answers: {reason}",
            hint="start Docker (or set DOCKER_HOST), or use RUNBOOK_PG=local / pgserver / embedded",
        )
    from testcontainers.community.postgres import PostgresContainer

    password = secrets.token_urlsafe(18)
    container = PostgresContainer(
        image,
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
