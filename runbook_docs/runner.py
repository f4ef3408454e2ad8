"""Evaluators: run one shell, sql or console fence in the page shell and judge the result.

No pytest here: an evaluator returns an ``Outcome``; every text in it is already redacted.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from runbook_docs import report
from runbook_docs.blocks import SHELL_LANGS, Fence
from runbook_docs.matching import UnknownPlaceholder, compare, server_errors, unshown_errors
from runbook_docs.shell import RunResult, Shell
from runbook_docs.transcript import Step
from runbook_docs.update import Update

Redact = Callable[[str], str]


@dataclass(frozen=True)
class Outcome:
    """The result of one fence; ``text`` is the failure report (empty when it passed)."""

    ok: bool
    seconds: float
    text: str = ""
    updates: tuple[Update, ...] = field(default_factory=tuple)
    outputs: tuple[str, ...] = ()  # each executed step's redacted output, for the ledger


@dataclass(frozen=True)
class Context:
    """What an evaluator needs besides the fence and the shell."""

    location: str  # "docs/x.md" as shown to people
    page_lines: Sequence[str]
    timeout: float
    placeholders: Mapping[str, str]
    redact: Redact
    update: bool = False


def sql_command(shell: Shell, sql: str) -> str:
    """The command a person would type: psql on a file, stopping at the first error."""
    path = shell.new_file(".sql", sql)
    return f"psql -X -v ON_ERROR_STOP=1 -f {shlex.quote(str(path))}"


def _status_text(result: RunResult, timeout: float) -> str:
    if result.timed_out:
        return f"timed out after {timeout:g} s (its process group was killed); partial output:"
    if result.shell_ended and result.status == 0:
        return "the block ended the page's shell (exit status 0)"
    return f"exit status {result.status}"


def run_script(fence: Fence, steps: Sequence[Step], shell: Shell, ctx: Context) -> Outcome:
    """A bash/sh/shell block is sourced as is; a sql block goes through psql.

    Only the exit status is compared, plus one output check: a psql ``ERROR:``/``FATAL:``/
    ``PANIC:`` line fails the block even when the block exited 0 (a heredoc without
    ``ON_ERROR_STOP`` does).
    """
    (step,) = steps
    code = step.command if fence.lang in SHELL_LANGS else sql_command(shell, step.command)
    result = shell.run(code, ctx.timeout)
    output = ctx.redact(result.output)
    errors = server_errors(output)
    if result.status == 0 and not result.shell_ended and not errors:
        return Outcome(ok=True, seconds=result.seconds, outputs=(output,))
    headline = (
        f"{fence.lang} block failed: {_status_text(result, ctx.timeout)}"
        if result.status != 0 or result.shell_ended
        else f"{fence.lang} block exited 0 but its output shows a PostgreSQL error: {errors[0]}"
    )
    block = report.excerpt(fence, ctx.page_lines)
    shown = report.tail(output) if output.strip() else "(no output)"
    text = report.failure_text(
        f"{ctx.location}:{fence.line}", headline, block, [f"output:\n{shown}"]
    )
    return Outcome(ok=False, seconds=result.seconds, text=ctx.redact(text), outputs=(output,))


def run_console(fence: Fence, steps: Sequence[Step], shell: Shell, ctx: Context) -> Outcome:
    """Run each ``$`` step and compare its status and output with the transcript."""
    started = time.monotonic()
    deadline = started + ctx.timeout
    updates: list[Update] = []
    outputs: list[str] = []
    for step in steps:
        result = shell.run(step.command, max(deadline - time.monotonic(), 0.001), fatal=False)
        outputs.append(ctx.redact(result.output))
        problem, update = _judge(fence, step, result, ctx)
        if update is not None:
            updates.append(update)
        if problem is not None:
            block = report.excerpt(fence, ctx.page_lines, mark=step.line)
            text = report.failure_text(
                f"{ctx.location}:{step.line}", problem[0], block, problem[1:]
            )
            return Outcome(
                ok=False,
                seconds=time.monotonic() - started,
                text=ctx.redact(text),
                outputs=tuple(outputs),
            )
    return Outcome(
        ok=True,
        seconds=time.monotonic() - started,
        updates=tuple(updates),
        outputs=tuple(outputs),
    )


def _judge(
    fence: Fence, step: Step, result: RunResult, ctx: Context
) -> tuple[list[str] | None, Update | None]:
    """Return (failure headline + details, or None) and an update for ``--runbook-update``."""
    output = ctx.redact(result.output)
    command = "$ " + step.command.replace("\n", "\n> ")
    if result.timed_out or result.shell_ended:
        return [
            f"console step failed: {_status_text(result, ctx.timeout)}",
            f"command:\n{command}",
            f"output:\n{report.tail(output) or '(no output)'}",
        ], None
    assert result.status is not None
    label = f"{ctx.location}:{step.line}"
    try:
        diff, rewritten = compare(output, step.expected_output, ctx.placeholders, label)
    except UnknownPlaceholder as exc:
        return [f"console step: {exc}", f"command:\n{command}"], None
    if not step.status_ok(result.status):
        if ctx.update:  # rewrite the `? N` line (or drop it for 0) together with the output
            status = [] if result.status == 0 else [f"? {result.status}"]
            lines = tuple(status + (rewritten if diff is not None else list(step.expected_output)))
            return None, Update(fence.path, fence.line, step.status_line, step.output_end, lines)
        expected = "non-zero" if step.expected_status == "failed" else step.expected_status
        return [
            f"console step failed: exit status {result.status}, expected {expected}",
            f"command:\n{command}",
            f"output:\n{report.tail(output) or '(no output)'}",
        ], None
    unshown = unshown_errors(output, step.expected_output, ctx.placeholders)
    if diff is None and unshown:
        return [
            "console step output shows a PostgreSQL error its transcript does not show",
            f"command:\n{command}",
            "not in the transcript (write each error line out, '...' does not cover it):\n"
            + "\n".join(unshown),
        ], None
    if diff is None:
        return None, None
    if ctx.update:
        return None, Update(
            fence.path, fence.line, step.output_start, step.output_end, tuple(rewritten)
        )
    return [
        "console step output differs",
        f"command:\n{command}",
        f"diff (- expected, + actual):\n{diff}",
    ], None
