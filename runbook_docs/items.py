"""pytest nodes: a Markdown page and one item per runnable fence, named ``L42[lang]``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from runbook_docs.blocks import Fence, PageError
from runbook_docs.command_lint import CommandLintItem, lint_fences
from runbook_docs.contract import PageEnv
from runbook_docs.page import PageRun
from runbook_docs.reader import ReaderShellItem, reader_flavors
from runbook_docs.registry import Evaluator, parse_fences
from runbook_docs.runner import Context, Outcome
from runbook_docs.transcript import Step
from runbook_docs.versions import parse_probes

if TYPE_CHECKING:
    from runbook_docs.plugin import State


class BlockFailed(Exception):
    """A doc block failed; the message is the full, redacted report."""


def display_path(config: pytest.Config, path: Path) -> str:
    try:
        return path.relative_to(config.rootpath).as_posix()
    except ValueError:
        return str(path)


class RunbookPage(pytest.File):
    """A Markdown page under the docs dir; its items share one ``PageRun``."""

    def __init__(self, *, state: State, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.state = state

    def collect(self) -> Iterator[pytest.Item]:
        state = self.state
        display = display_path(self.config, self.path)
        text = self.path.read_text()
        try:
            parsed = parse_fences(self.path, text, display)
        except PageError as exc:
            raise self.CollectError(str(exc)) from exc
        state.pages.add(self.path)
        self.lines = text.splitlines()
        runs = any(e is not None and not f.directive.skip_reason for f, e, _ in parsed)
        flavors = reader_flavors(self.config, state.docs_dir, self.path) if runs else []
        self.run = PageRun(
            display,
            self.make_env,
            probes=parse_probes(self.config.getini("runbook_versions")),
            record_versions=lambda versions: state.ledger.record_versions(display, versions),
            keep_leftovers=bool(flavors),  # its reader items compare theirs with the suite's
        )
        for fence, evaluator, steps in parsed:
            state.ledger.add(display, fence, evaluator.checked if evaluator else None, steps)
            if evaluator is None:
                continue
            name = f"L{fence.line}[{'hidden:' if fence.hidden else ''}{fence.lang}]"
            item = RunbookItem.from_parent(
                self, name=name, fence=fence, evaluator=evaluator, steps=steps
            )
            state.nodes[item.nodeid] = (display, fence)
            yield item
        if problems := lint_fences(fence for fence, _, _ in parsed):
            yield CommandLintItem.from_parent(self, name="lint", problems=problems)
        for flavor in flavors:
            yield ReaderShellItem.from_parent(self, name=f"reader[{flavor}]", flavor=flavor)

    def make_env(self) -> PageEnv | None:
        env: PageEnv | None = self.config.hook.pytest_runbook_page_env(
            page=self.path, config=self.config
        )
        return env

    def teardown(self) -> None:
        if hasattr(self, "run"):
            self.state.secrets.update(self.run.secrets)
            self.run.close()


class RunbookItem(pytest.Item):
    """One runnable fence (any registry language), run in the page's shell by its evaluator."""

    def __init__(
        self, *, fence: Fence, evaluator: Evaluator, steps: tuple[Step, ...], **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.fence = fence
        self.evaluator = evaluator
        self.steps = steps

    def setup(self) -> None:
        """Skip for a directive or an earlier failure; otherwise start the page's environment."""
        assert isinstance(self.parent, RunbookPage)
        self.page = page = self.parent.run
        fence = self.fence
        reason = fence.directive.skip_reason or (
            page.blocked_by and f"blocked by {page.blocked_by}"
        )
        if reason:  # reported at the .md line, not here
            raise pytest.skip.Exception(reason, _use_item_location=True)
        try:
            page.start()
        except Exception:
            page.blocked_by = f"{page.display}:{fence.line} (its page environment failed)"
            raise

    def runtest(self) -> None:
        assert isinstance(self.parent, RunbookPage)
        state = self.parent.state
        env = self.page.start()
        ctx = Context(
            location=self.page.display,
            page_lines=self.parent.lines,
            timeout=self.fence.directive.timeout or state.timeout,
            placeholders=env.placeholders,
            redact=self.page.redact,
            update=state.update,
        )
        shell = self.page.get_shell()
        outcome: Outcome = self.evaluator.run(self.fence, self.steps, shell, ctx)
        state.ledger.record_outputs(self.page.display, self.fence.line, outcome.outputs)
        state.updates.extend(outcome.updates)
        if not outcome.ok:
            self.page.blocked_by = f"{self.page.display}:{self.fence.line}"
            raise BlockFailed(outcome.text)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, BlockFailed):
            return str(excinfo.value)
        page = getattr(self, "page", None)
        text = str(super().repr_failure(excinfo, style))
        return page.redact(text) if page else text

    def reportinfo(self) -> tuple[Path, int, str]:
        fence = self.fence
        kind = f"hidden {fence.lang}" if fence.hidden else fence.lang
        where = f"{display_path(self.config, self.path)}:{fence.line}"
        return self.path, fence.line - 1, f"{where} [{kind}]"
