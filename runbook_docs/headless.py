"""Run a whole page's blocks outside pytest's item loop, in a shell of a given flavor.

Two users: the fixtures run the pages a page starts after (setup, then the start page) to get
the state they leave behind (``strict``, the suite's shell), and ``reader`` re-runs a page in a
reader's interactive terminal (``terminal.TERMINALS``: ``zsh-tty``, ``bash-tty``).
Blocks run in page order with the same evaluators as the suite (python ones too, in this
process with the shell's exported environment); skipped blocks are skipped. In a terminal,
hidden blocks (never pasted by a reader) are sourced from a file, visible ones are typed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from runbook_docs.registry import parse_fences
from runbook_docs.runner import Context
from runbook_docs.shell import PageShell, Shell
from runbook_docs.terminal import TERMINALS, TerminalShell
from runbook_helpers.redact import redact_text

# Variables a shell sets for itself; never part of the state a page leaves behind.
SHELL_OWN = frozenset({"PWD", "OLDPWD", "SHLVL", "_", "ZDOTDIR"})


class PageFailed(Exception):
    """A block failed; the message is the evaluator's (redacted) failure report."""


@dataclass(frozen=True)
class PageRunResult:
    """The exported environment and working directory of the page's shell after its last block."""

    env: dict[str, str]
    blocks: int  # how many blocks ran
    cwd: Path


def run_page(
    path: Path,
    env: Mapping[str, str],
    cwd: Path,
    *,
    display: str,
    timeout: float,
    placeholders: Mapping[str, str],
    secrets: Sequence[str],
    flavor: str = "strict",
) -> PageRunResult:
    """Run every runnable, not skipped block of ``path`` in one new shell; raise on a failure."""
    text = path.read_text()
    lines = text.splitlines()
    ctx = Context(
        location=display,
        page_lines=lines,
        timeout=timeout,
        placeholders=placeholders,
        redact=lambda t: redact_text(t, list(secrets)),
    )
    shell: Shell = (
        TerminalShell(dict(env), cwd, flavor)
        if flavor in TERMINALS
        else PageShell(dict(env), cwd, flavor)
    )
    ran = 0
    try:
        for fence, evaluator, steps in parse_fences(path, text, display):
            if evaluator is None or fence.directive.skip_reason:
                continue
            target = shell
            if fence.hidden and isinstance(shell, TerminalShell):
                target = shell.sourced()
            outcome = evaluator.run(fence, steps, target, ctx)
            ran += 1
            if not outcome.ok:
                raise PageFailed(outcome.text)
        snapshot = shell.snapshot()
        if snapshot is None:
            raise PageFailed(f"{display}: the page's shell ended before its last block")
        env_now = {k: v for k, v in snapshot[0].items() if k not in SHELL_OWN}
        return PageRunResult(env_now, ran, snapshot[1])
    finally:
        shell.close()
