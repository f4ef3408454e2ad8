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
them when it closes, the reader's run after its last block).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from runbook_docs.headless import PageFailed, run_page
from runbook_docs.leftovers import leftover_differences, record_leftovers
from runbook_docs.page import SECRET_ENV_VARS, bare_env
from runbook_docs.terminal import TERMINALS
from runbook_helpers.redact import redact_text

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
        env = page.make_env() or bare_env()
        secrets = [*env.secrets, *(v for k in SECRET_ENV_VARS if (v := env.env.get(k)))]
        secrets += [v for k in SECRET_ENV_VARS if (v := os.environ.get(k))]
        try:
            result = run_page(
                self.path,
                env.env,
                env.cwd,
                display=page.run.display,
                timeout=page.state.timeout,
                placeholders=env.placeholders,
                secrets=secrets,
                flavor=terminal,
            )
            left = record_leftovers(result.env, env.cwd)
        except PageFailed as exc:
            raise ReaderFailed(f"in a reader's interactive {self.flavor}: {exc}") from exc
        finally:
            env.close()
        suite = page.run.leftovers
        if suite is not None and (lines := leftover_differences(suite, left, self.flavor)):
            report = "\n".join(lines)
            raise ReaderFailed(
                f"in a reader's interactive {self.flavor}: {page.run.display} left different "
                f"files or databases behind\n{redact_text(report, secrets)}"
            )

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ReaderFailed):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo, style))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"{self.name} of {self.path.name}"
