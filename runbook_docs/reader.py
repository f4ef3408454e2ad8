"""A reader's terminal: a page's blocks again, in order, typed into an interactive shell.

The suite runs pages in a ``bash`` under ``set -euo pipefail`` fed from files; a reader pastes
them into an interactive terminal, most often macOS's zsh. For each page matching the
``runbook_reader_pages`` ini (globs relative to the docs dir) that has a block to run, and each
shell in ``runbook_reader_shells`` (``zsh``, ``bash``), one item ``docs/x.md::reader[zsh]``
runs after the page's own items: a fresh page environment, every block that is not skipped
typed into ``terminal.TerminalShell`` (``zsh -f -i`` or ``bash -i`` on a pseudo-terminal,
macOS's userland on PATH; hidden set-up blocks sourced there by one typed line) through the
same evaluators, so exit statuses and compared output must be the same as in the suite's shell,
and it must leave the same files and databases behind (``leftovers``: the suite's run records
them when it closes, the reader's run after its last block; when the page's own items did not
run, as under ``-m reader_shell``, the first reader item runs the page in the suite's shell).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from runbook_docs.headless import PageFailed, run_page
from runbook_docs.leftovers import Leftovers, leftover_differences, record_leftovers
from runbook_docs.page import SECRET_ENV_VARS, bare_env
from runbook_docs.terminal import TERMINALS

if TYPE_CHECKING:
    from runbook_docs.items import RunbookPage

MARKER = "reader_shell"


class ReaderFailed(Exception):
    """The page failed in a reader's shell; the message is the redacted report."""


def reader_flavors(config: pytest.Config, docs_dir: Path, page: Path) -> list[str]:
    """The reader shells ``page`` is also run in (none unless the ini's globs match it)."""
    relative = page.resolve().relative_to(docs_dir)
    patterns = str(config.getini("runbook_reader_pages")).split()
    if not any(relative.match(p) or relative.as_posix() == p for p in patterns):
        return []
    return str(config.getini("runbook_reader_shells")).split()


class ReaderShellItem(pytest.Item):
    """The whole page again, typed into a reader's interactive ``flavor`` (``zsh``, ``bash``)."""

    def __init__(self, *, flavor: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.flavor = flavor
        self.add_marker(MARKER)

    def runtest(self) -> None:
        page: RunbookPage = self.parent  # type: ignore[assignment]
        if page.run.blocked_by:
            raise pytest.skip.Exception(f"blocked by {page.run.blocked_by}")
        terminal = f"{self.flavor}-tty"
        program = TERMINALS[terminal][0]
        if shutil.which(program) is None:
            raise ReaderFailed(f"{program} is not installed; the reader-shell tests need it")
        page.run.close()  # the suite's run of this page is over: start again from scratch
        suite = page.run.leftovers
        if suite is None:  # the page's own items did not run (``-m reader_shell``): run it here
            try:
                suite = page.run.leftovers = run_leftovers(page, "strict")
            except PageFailed as exc:
                raise ReaderFailed(f"in the suite's shell: {exc}") from exc
        try:
            left = run_leftovers(page, terminal)
        except PageFailed as exc:
            raise ReaderFailed(f"in a reader's interactive {self.flavor}: {exc}") from exc
        if lines := leftover_differences(suite, left, self.flavor):
            raise ReaderFailed(
                f"in a reader's interactive {self.flavor}: {page.run.display} left different "
                "files or databases behind\n" + page.run.redact("\n".join(lines))
            )

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ReaderFailed):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo, style))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"{self.name} of {self.path.name}"


def run_leftovers(page: RunbookPage, flavor: str) -> Leftovers:
    """Run ``page`` whole in a fresh environment and a ``flavor`` shell; what it left behind."""
    env = page.make_env() or bare_env()
    secrets = [*env.secrets, *(v for k in SECRET_ENV_VARS if (v := env.env.get(k)))]
    secrets += [v for k in SECRET_ENV_VARS if (v := os.environ.get(k))]
    page.run.secrets += secrets
    try:
        result = run_page(
            page.path,
            env.env,
            env.cwd,
            display=page.run.display,
            timeout=page.state.timeout,
            placeholders=env.placeholders,
            secrets=secrets,
            flavor=flavor,
        )
        return record_leftovers(result.env, env.cwd)
    finally:
        env.close()
