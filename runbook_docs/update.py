"""Write actual output back into console transcripts (``--runbook-update``)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

_PREFIX = re.compile(r"^(?P<prefix>[\s>]*)(?:```|~~~)")


@dataclass(frozen=True)
class Update:
    """Replace .md lines ``start`` up to (not including) ``end`` (1-based) with ``lines``."""

    path: Path
    fence_line: int  # the opening fence: its indentation is reused
    start: int
    end: int
    lines: tuple[str, ...]


def apply_updates(path: Path, updates: Iterable[Update]) -> int:
    """Rewrite ``path`` in place, bottom-up so line numbers stay valid; return the count."""
    text = path.read_text()
    lines = text.splitlines(keepends=True)
    count = 0
    for update in sorted(updates, key=lambda u: u.start, reverse=True):
        match = _PREFIX.match(lines[update.fence_line - 1])
        prefix = match["prefix"] if match else ""
        new = [(prefix + line).rstrip() + "\n" for line in update.lines]
        lines[update.start - 1 : update.end - 1] = new
        count += 1
    path.write_text("".join(lines))
    return count
