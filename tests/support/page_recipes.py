"""The pages' own manual checks, as commands to run against the fault corpus (no tests here).

Commands are read from the page's console blocks exactly as written (the test changes only the
environment and the working directory), then run in a reader's ``bash`` (no ``-e``, no
``pipefail`` unless the recipe sets it) with a timeout: pg_restore can hang on a cut tar.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from runbook_docs.blocks import parse_page
from runbook_docs.transcript import parse_transcript

DOCS = Path(__file__).resolve().parents[2] / "docs"


def console_commands(page: str, marker: str) -> list[str]:
    """The ``$`` commands of the one console block of ``docs/page`` whose text has ``marker``."""
    path = DOCS / page
    fences = [
        f for f in parse_page(path, path.read_text()) if f.lang == "console" and marker in f.source
    ]
    assert len(fences) == 1, f"{page}: {len(fences)} console blocks contain {marker!r}"
    return [step.command for step in parse_transcript(fences[0].source, fences[0].first_code_line)]


@dataclass(frozen=True)
class StepRun:
    command: str
    status: int | None  # None: timed out (a reader presses Ctrl-C)
    output: str


def run_steps(
    commands: list[str], cwd: Path, env: dict[str, str], *, timeout: float = 20
) -> list[StepRun]:
    """The commands of one block in one ``bash`` (state carries over, as in a terminal); a
    block still running after ``timeout`` s is stopped (a reader's Ctrl-C): the step it was in
    and the ones after it get status None."""
    statuses = cwd / ".statuses"
    statuses.write_text("")
    script = "".join(
        f"{command}\necho $? >> {statuses}\necho '<<step>>'; echo '<<step>>' >&2\n"
        for command in commands
    )
    try:
        proc = subprocess.run(
            ["bash", "--norc", "--noprofile", "-c", script],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        out, err = proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as exc:
        out, err = (_text(exc.stdout), _text(exc.stderr))
    codes = [int(c) for c in statuses.read_text().split()]
    outs, errs = out.split("<<step>>\n"), err.split("<<step>>\n")
    runs = []
    for i, command in enumerate(commands):
        text = (outs[i] if i < len(outs) else "") + (errs[i] if i < len(errs) else "")
        runs.append(StepRun(command, codes[i] if i < len(codes) else None, text))
    return runs


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else data


def pattern_of(cell: str) -> re.Pattern[str]:
    """A troubleshooting message (``NNNN``, ``N``, ``M``, ``FILE``, ``schema.table``, ``...`` as
    placeholders) as a regular expression."""
    text = re.escape(cell)
    for placeholder, rx in (
        ("NNNN", r"\d+"),
        (r"\\\.\\\.\\\.", ".*"),
        ("FILE", r"\S+"),
        (r"schema\\\.table", r"\S+"),
        (r"\bN\b", r"\d+"),
        (r"\bM\b", r"\d+"),
    ):
        text = re.sub(placeholder, rx.replace("\\", "\\\\"), text)
    return re.compile(text)


def table_messages(page: str = "troubleshooting.md") -> list[re.Pattern[str]]:
    """The code spans of the first column of the page's "Error messages" table, as patterns."""
    text = (DOCS / page).read_text()
    section = text.split("## Error messages and what to do", 1)[1].split("\n## ", 1)[0]
    spans: list[re.Pattern[str]] = []
    for line in section.splitlines():
        if line.startswith("| ") and not line.startswith("| ---"):
            first = line.split(" | ", 1)[0]
            for span in re.findall(r"`([^`]+)`", first.replace("\\|", "|")):
                spans.append(pattern_of(span))
    return spans
