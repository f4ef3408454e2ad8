"""What the docs engine needs from a fixtures plugin: one environment per Markdown page.

The engine defines the hook; a fixtures plugin (tests/fixtures) implements it. Without an
implementation the engine runs pages in a bare environment (used by the engine's own tests).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest


@dataclass
class PageEnv:
    """Everything a page's shell gets; the engine never changes a command's text."""

    env: dict[str, str]  # the full environment of the page's shell
    cwd: Path  # the page's working directory (fresh, empty)
    placeholders: dict[str, str] = field(default_factory=dict)  # NAME -> value, "[NAME]" in output
    secrets: list[str] = field(default_factory=list)  # values redacted as [REDACTED]
    close: Callable[[], None] = lambda: None  # teardown: drop databases, empty the bucket


class RunbookHookSpecs:
    """Hook specifications added by the engine plugin."""

    @pytest.hookspec(firstresult=True)
    def pytest_runbook_page_env(self, page: Path, config: pytest.Config) -> PageEnv | None:
        """Return the environment for running ``page``'s blocks (called once per page)."""
        raise NotImplementedError
