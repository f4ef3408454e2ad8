"""pytest nodes: a Markdown page and one item per runnable fence, named ``L42[lang]``."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from pytest_markdown_docs.definitions import FenceTestDefinition
from pytest_markdown_docs.plugin import MarkdownInlinePythonItem

from runbook_docs.blocks import Fence, PageError
from runbook_docs.command_lint import CommandLintItem, lint_fences
from runbook_docs.contract import PageEnv
from runbook_docs.page import PageRun
from runbook_docs.reader import ReaderShellItem, reader_flavors
from runbook_docs.registry import Evaluator, parse_fences
from runbook_docs.runner import Context, Outcome
from runbook_docs.transcript import Step

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
        self.run = PageRun(display, self.make_env)
        for fence, evaluator, steps in parsed:
            state.ledger.add(display, fence, evaluator.checked if evaluator else None, steps)
            if evaluator is None:
                continue
            name = f"L{fence.line}[{'hidden:' if fence.hidden else ''}{fence.lang}]"
            item: pytest.Item
            if evaluator.run is None:
                item = PythonFenceItem.from_parent(self, name=name, fence=fence)
            else:
                item = RunbookItem.from_parent(
                    self, name=name, fence=fence, evaluator=evaluator, steps=steps
                )
            state.nodes[item.nodeid] = (display, fence)
            yield item
        if problems := lint_fences(fence for fence, _, _ in parsed):
            yield CommandLintItem.from_parent(self, name="lint", problems=problems)
        for flavor in reader_flavors(self.config, state.docs_dir, self.path):
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


def _prepare(item: pytest.Item, fence: Fence) -> PageRun:
    """Skip for a directive or an earlier failure; otherwise start the page's environment."""
    assert isinstance(item.parent, RunbookPage)
    page = item.parent.run
    reason = fence.directive.skip_reason or (page.blocked_by and f"blocked by {page.blocked_by}")
    if reason:  # reported at the .md line, not here
        raise pytest.skip.Exception(reason, _use_item_location=True)
    try:
        page.start()
    except Exception:
        page.blocked_by = f"{page.display}:{fence.line} (its page environment failed)"
        raise
    return page


class RunbookItem(pytest.Item):
    """A bash/sh/shell, sql or console fence, run in the page's shell by its evaluator."""

    def __init__(
        self, *, fence: Fence, evaluator: Evaluator, steps: tuple[Step, ...], **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.fence = fence
        self.evaluator = evaluator
        self.steps = steps

    def setup(self) -> None:
        self.page = _prepare(self, self.fence)

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
        assert self.evaluator.run is not None
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
        return _reportinfo(self, self.fence)


def _reportinfo(item: pytest.Item, fence: Fence) -> tuple[Path, int, str]:
    kind = f"hidden {fence.lang}" if fence.hidden else fence.lang
    where = f"{display_path(item.config, item.path)}:{fence.line}"
    return item.path, fence.line - 1, f"{where} [{kind}]"


@contextmanager
def _environment(env: dict[str, str], cwd: Path) -> Iterator[None]:
    """Run Python with the page shell's exported environment and working directory."""
    saved_env, saved_cwd = dict(os.environ), Path.cwd()
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)


@contextmanager
def _deadline(seconds: float, where: str) -> Iterator[None]:
    """Interrupt a python block running past its timeout (SIGALRM; main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError(f"{where}: python block timed out after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextmanager
def _captured(config: pytest.Config) -> Iterator[None]:
    """Keep pytest's output capture on while pytest-markdown-docs runs the block.

    Its runner switches capture off, so a block's prints would reach the terminal unredacted;
    captured, they land in the report, which the plugin redacts like any other output.
    """
    capman: Any = config.pluginmanager.getplugin("capturemanager")
    if capman is None:
        yield
        return
    capman.global_and_fixture_disabled = nullcontext  # instance attribute shadows the method
    try:
        yield
    finally:
        del capman.global_and_fixture_disabled


class PythonFenceItem(MarkdownInlinePythonItem):
    """A python fence, run by pytest-markdown-docs in the page's env and cwd."""

    def __init__(self, *, fence: Fence, **kwargs: Any) -> None:
        definition = FenceTestDefinition(
            source="\n" * fence.line + fence.source,
            fixture_names=(),
            start_line=fence.line,
            source_path=kwargs["parent"].path,
            runner_name=None,
        )
        super().__init__(test_definition=definition, **kwargs)
        self.fence = fence

    def setup(self) -> None:
        self.page = _prepare(self, self.fence)
        super().setup()  # type: ignore[no-untyped-call]

    def runtest(self) -> None:
        env = self.page.start()
        snapshot = self.page.shell.snapshot() if self.page.shell else None
        variables, cwd = snapshot or (env.env, env.cwd)
        assert isinstance(self.parent, RunbookPage)
        timeout = self.fence.directive.timeout or self.parent.state.timeout
        try:
            with (
                _environment(variables, cwd),
                _deadline(timeout, self.page.display),
                _captured(self.config),
            ):
                super().runtest()  # type: ignore[no-untyped-call]
        except (Exception, pytest.fail.Exception):
            self.page.blocked_by = f"{self.page.display}:{self.fence.line}"
            raise

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        text = f"{self.page.display}:{self.fence.line}: python block failed\n"
        return self.page.redact(text + str(super().repr_failure(excinfo, style)))

    def reportinfo(self) -> tuple[Path, int, str]:
        return _reportinfo(self, self.fence)
