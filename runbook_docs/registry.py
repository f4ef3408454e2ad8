"""Language -> evaluator registry (Sybil's model: parser -> region -> evaluator).

``blocks`` is the parser (it finds fences, the regions); each fence's language picks one
``Evaluator`` here. Its ``parse`` turns the fence into steps once, at collection; the item
carries them, the ledger records their command text, and ``run`` executes them. Every
language goes through here, Python too (``python_fence``: pytest-markdown-docs' collector and
runner in the page's environment).

To support a new language, add one entry to ``EVALUATORS``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from runbook_docs import python_fence
from runbook_docs.blocks import PYTHON_LANGS, SHELL_LANGS, Fence, PageError, parse_page
from runbook_docs.runner import Context, Outcome, run_console, run_script
from runbook_docs.shell import Shell
from runbook_docs.transcript import Step, TranscriptError, parse_transcript

Checked = Literal["output", "status"]
Run = Callable[[Fence, tuple[Step, ...], Shell, Context], Outcome]


@dataclass(frozen=True)
class Evaluator:
    """How one language is run and what its result proves."""

    checked: Checked  # "output": each step's output is compared; "status": only exit codes
    parse: Callable[[Fence], tuple[Step, ...]]
    run: Run


def whole_block(fence: Fence) -> tuple[Step, ...]:
    """One step: the fence's whole text, expected to exit 0 (output is not compared)."""
    end = fence.first_code_line + fence.source.count("\n")
    return (Step(fence.source, 0, (), fence.first_code_line, end, end, end),)


def transcript_steps(fence: Fence) -> tuple[Step, ...]:
    return tuple(parse_transcript(fence.source, fence.first_code_line))


_SCRIPT = Evaluator(checked="status", parse=whole_block, run=run_script)


def python_steps(fence: Fence) -> tuple[Step, ...]:
    """One step, like a shell block; options pytest-markdown-docs has and the engine cannot
    honour are refused here, at collection."""
    python_fence.definition(fence)
    return whole_block(fence)


_PYTHON = Evaluator(checked="status", parse=python_steps, run=python_fence.run_python)

EVALUATORS: dict[str, Evaluator] = {
    "console": Evaluator(checked="output", parse=transcript_steps, run=run_console),
    "sql": _SCRIPT,
    **{lang: _SCRIPT for lang in SHELL_LANGS},
    **{lang: _PYTHON for lang in PYTHON_LANGS},
}


def evaluator_for(lang: str) -> Evaluator | None:
    """The evaluator for a fence language, or None when the language is only shown."""
    return EVALUATORS.get(lang)


Parsed = list[tuple[Fence, Evaluator | None, tuple[Step, ...]]]


def parse_fences(path: Path, text: str, display: str) -> Parsed:
    """Every fence of a page with its evaluator and steps (parsed once, here)."""
    parsed: Parsed = []
    for fence in parse_page(path, text, display):
        evaluator = evaluator_for(fence.lang)
        try:
            steps = evaluator.parse(fence) if evaluator else ()
        except TranscriptError as exc:
            raise PageError(f"{display}:{exc.line}: {exc}") from exc
        parsed.append((fence, evaluator, steps))
    return parsed
