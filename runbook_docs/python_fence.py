"""The python evaluator: pytest-markdown-docs' fence collector and runner, in the page's world.

pytest-markdown-docs is what this project builds on for Python fences, but its supported
interface (``--markdown-docs``: its own ``MarkdownTextFile`` collector and items) cannot honour
a page's environment (ARCHITECTURE.md says why). So a python fence is one more registry
language: its item is the engine's, like a shell block's, and this module, the only one that
imports pytest-markdown-docs, hands the fence to two of its functions:

- ``extract_fence_tests`` (its collector) turns the fence into its ``FenceTestDefinition``:
  the code padded to the page's line numbers and its info-string options (``runner:NAME``,
  ``retry:N``; ``notest``, ``fixture:`` and ``continuation`` are refused: see ``definition``);
- its runner ``runtest``s it (compiled under the .md path, so a traceback names page lines)
  and renders a failure with ``repr_failure``.

Around them the engine provides what a shell block gets: the page shell's exported environment
and working directory, the block's timeout, and its stdout and stderr (its subprocesses'
included) captured and redacted. tests/test_engine_python_fence.py fails loudly when the
package's behaviour changes.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import threading
import time
import types
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from pytest_markdown_docs._runners import get_runner
from pytest_markdown_docs.definitions import FenceTestDefinition
from pytest_markdown_docs.plugin import (
    FenceSyntax,
    extract_fence_tests,
    parse_superfences_block_info,
)

from runbook_docs import report
from runbook_docs.blocks import Fence
from runbook_docs.runner import Context, Outcome
from runbook_docs.shell import Shell
from runbook_docs.transcript import Step, TranscriptError

_REFUSED = {
    "notest": 'skip it with <!-- runbook: skip reason="..." --> (a skip needs its reason)',
    "continuation": "a python block starts fresh; repeat what it needs (a reader pastes it alone)",
    "fixture:": "a page's python block gets the page's environment, never a pytest fixture",
}


class FenceOptionError(TranscriptError):
    """An info-string option the engine cannot honour; ``line`` is the fence's .md line."""


def definition(fence: Fence) -> FenceTestDefinition:
    """pytest-markdown-docs' test for ``fence``, its code on the page's line numbers."""
    for option in parse_superfences_block_info(fence.info)[1:]:
        for refused, why in _REFUSED.items():
            if option == refused or (refused.endswith(":") and option.startswith(refused)):
                raise FenceOptionError(fence.line, f"python fence option {option!r}: {why}")
    markdown = f"{fence.markup}{fence.info}\n{fence.source}{fence.markup}\n"
    tests = list(
        extract_fence_tests(
            MarkdownIt("commonmark"),
            markdown,
            start_line_offset=fence.line - 1,
            source_path=fence.path,
            fence_syntax=FenceSyntax.superfences,
        )
    )
    if len(tests) != 1:  # the registry only sends python fences here
        raise FenceOptionError(fence.line, f"pytest-markdown-docs found {len(tests)} tests here")
    return tests[0]


def run_python(fence: Fence, steps: Sequence[Step], shell: Shell, ctx: Context) -> Outcome:
    """Run the fence in this process with the page shell's exported env and cwd."""
    started = time.monotonic()
    test = definition(fence)
    runner = get_runner(test.runner_name)
    snapshot = shell.snapshot()
    if snapshot is None:
        return _failed(fence, ctx, started, "the page's shell ended before this block", "")
    env, cwd = snapshot
    failure: str | None = None
    headline = "python block failed"
    with _captured() as output:
        for attempt in range(test.max_retries + 1):
            try:
                with _environment(env, cwd), _deadline(ctx.timeout):
                    runner.runtest(test, types.ModuleType("fence").__dict__)
            except (Exception, SystemExit) as exc:
                if isinstance(exc, BlockTimeout):
                    headline = f"python block {exc}"
                failure = str(runner.repr_failure(test, pytest.ExceptionInfo.from_exception(exc)))
                if isinstance(exc, BlockTimeout) or attempt == test.max_retries:
                    break
            else:
                failure = None
                break
    printed = ctx.redact("".join(output))
    if failure is None:
        return Outcome(ok=True, seconds=time.monotonic() - started, outputs=(printed,))
    return _failed(fence, ctx, started, headline, printed, failure)


def _failed(
    fence: Fence, ctx: Context, started: float, headline: str, printed: str, failure: str = ""
) -> Outcome:
    shown = report.tail(printed) if printed.strip() else "(no output)"
    text = report.failure_text(
        f"{ctx.location}:{fence.line}",
        headline,
        report.excerpt(fence, ctx.page_lines),
        [failure, f"output:\n{shown}"],
    )
    seconds = time.monotonic() - started
    return Outcome(ok=False, seconds=seconds, text=ctx.redact(text), outputs=(printed,))


class BlockTimeout(Exception):
    """The block ran past its timeout (raised in it by SIGALRM)."""


@contextmanager
def _environment(env: dict[str, str], cwd: Path) -> Iterator[None]:
    """The page shell's exported environment and working directory, restored afterwards."""
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
def _deadline(seconds: float) -> Iterator[None]:
    """Interrupt a block running past its timeout (SIGALRM; main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise BlockTimeout(f"timed out after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextmanager
def _captured() -> Iterator[list[str]]:
    """fds 1 and 2 and ``sys.stdout``/``sys.stderr`` into one file, read into the list.

    The engine's own capture, in place of pytest's (which pytest-markdown-docs' item switches
    off): what a block prints lands in the redacted report and the ledger, never raw on the
    terminal, inside pytest or not (``headless``).
    """
    sys.stdout.flush()
    sys.stderr.flush()
    with tempfile.TemporaryFile() as sink:
        stream = open(  # noqa: SIM115 - closed below, after the fds are restored
            sink.fileno(), "w", buffering=1, encoding="utf-8", errors="replace", closefd=False
        )
        saved_fds = os.dup(1), os.dup(2)
        saved_streams = sys.stdout, sys.stderr
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        sys.stdout = sys.stderr = stream
        output: list[str] = []
        try:
            yield output
        finally:
            stream.flush()
            sys.stdout, sys.stderr = saved_streams
            for fd, saved in zip((1, 2), saved_fds, strict=True):
                os.dup2(saved, fd)
                os.close(saved)
            stream.close()
        sink.seek(0)
        output.append(sink.read().decode("utf-8", errors="replace"))
