"""Render a failed block as text: numbered .md excerpt, the failing step, status, output."""

from __future__ import annotations

from collections.abc import Sequence

from runbook_docs.blocks import Fence

_MAX_OUTPUT_LINES = 60


def excerpt(fence: Fence, page_lines: Sequence[str], mark: int | None = None) -> str:
    """The fence as written in the page, with .md line numbers; ``mark`` gets a ``>``."""
    last = min(fence.end_line, len(page_lines))
    width = len(str(last))
    rows = []
    for number in range(fence.line, last + 1):
        pointer = ">" if number == mark else " "
        rows.append(f"{pointer} {number:>{width}} | {page_lines[number - 1]}".rstrip())
    return "\n".join(rows)


def tail(output: str, limit: int = _MAX_OUTPUT_LINES) -> str:
    """The last ``limit`` lines of ``output`` (a note says how many were left out)."""
    lines = output.rstrip("\n").split("\n")
    if len(lines) <= limit:
        return "\n".join(lines)
    return "\n".join([f"[... {len(lines) - limit} earlier lines left out ...]", *lines[-limit:]])


def failure_text(location: str, headline: str, block: str, details: Sequence[str]) -> str:
    """Assemble the report: ``location: headline``, the excerpt, then detail sections."""
    parts = [f"{location}: {headline}", "", block]
    parts.extend(f"\n{d.rstrip()}" for d in details if d.strip())
    return "\n".join(parts)
