"""Every container image the workflows run is pinned by digest, as their actions are by SHA.

A tag (``postgres:16``) moves to a new image with every rebuild; ``tag@sha256:...`` names one
image, and keeping the tag says which line of releases it is. zizmor reports a tag-only image
only under ``--persona pedantic`` (its ``unpinned-images`` audit), so this test holds the line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
PINNED = re.compile(r"^[\w.\-/]+:[\w.\-]+@sha256:[0-9a-f]{64}$")


def images(workflow: dict[str, Any]) -> list[str]:
    """The job containers and service images of ``workflow``."""
    found = []
    for job in (workflow.get("jobs") or {}).values():
        container = job.get("container")
        if container is not None:
            found.append(container if isinstance(container, str) else container["image"])
        found += [service["image"] for service in (job.get("services") or {}).values()]
    return found


def test_the_workflows_run_containers() -> None:
    assert sum(len(images(yaml.safe_load(p.read_text()))) for p in WORKFLOWS) >= 4


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_image_is_pinned_by_digest_and_keeps_its_tag(path: Path) -> None:
    unpinned = [i for i in images(yaml.safe_load(path.read_text())) if not PINNED.match(i)]
    assert unpinned == [], f"pin as TAG@sha256:DIGEST: {unpinned}"


def test_a_tag_alone_is_refused() -> None:
    workflow = {"jobs": {"a": {"container": "python:3.11", "services": {"s": {"image": "x:1"}}}}}
    assert [i for i in images(workflow) if not PINNED.match(i)] == ["python:3.11", "x:1"]


def test_the_docker_backend_runs_pinned_images_only() -> None:
    """The testcontainers backend (RUNBOOK_PG=docker, users' CI) pins its images the same way,
    and its PostgreSQL 16 is the one the workflows' service containers run."""
    from runbook_helpers.sandbox import SandboxError
    from runbook_helpers.sandbox.backends.docker import DEFAULT_MAJOR, IMAGES, image_for

    assert {15, 16, 17, 18} <= set(IMAGES) and DEFAULT_MAJOR in IMAGES
    for major, (release, _) in IMAGES.items():
        image = image_for(major)
        assert PINNED.match(image) and image.startswith(f"postgres:{major}@"), image
        assert release.split(".")[0] == str(major)
    services = {i for p in WORKFLOWS for i in images(yaml.safe_load(p.read_text()))}
    assert {i for i in services if i.startswith("postgres:16@")} == {image_for(16)}
    with pytest.raises(SandboxError, match="no pinned postgres image for PostgreSQL 14"):
        image_for(14)
