"""The ledger: one entry per fence in the docs dir, proving each ran or was skipped for a reason.

Statuses: passed, failed, skipped (with a reason), blocked (an earlier block of the page
failed), hidden (a hidden setup block that passed), not-runnable (a language the engine does
not run), not-run (runnable but never executed in this run: deselected, or a bug).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from tests.engine.blocks import Fence

NOT_RUN = "not-run"
NOT_RUNNABLE = "not-runnable"


@dataclass
class Entry:
    """One fence's line in ``build/docs-ledger.json``."""

    file: str
    line: int
    language: str
    status: str
    reason: str = ""
    seconds: float = 0.0


class Ledger:
    """Entries keyed by (file, line); fences are added at collection, results as they come."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, int], Entry] = {}

    def add(self, file: str, fence: Fence) -> None:
        status = NOT_RUN if fence.runnable else NOT_RUNNABLE
        self.entries.setdefault((file, fence.line), Entry(file, fence.line, fence.lang, status))

    def record(
        self, file: str, line: int, status: str, reason: str = "", seconds: float = 0.0
    ) -> None:
        entry = self.entries[(file, line)]
        entry.status, entry.reason, entry.seconds = status, reason, round(seconds, 3)

    def unaccounted(self) -> list[Entry]:
        """Runnable fences that were neither executed nor skipped with a reason."""
        return [e for e in self.sorted() if e.status == NOT_RUN]

    def sorted(self) -> list[Entry]:
        return [self.entries[k] for k in sorted(self.entries)]

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {"blocks": [asdict(e) for e in self.sorted()]}
        path.write_text(json.dumps(data, indent=2) + "\n")

    def summary(self) -> str:
        """``docs: N blocks, X executed, Y skipped`` plus the other non-zero counts."""
        counts = Counter(e.status for e in self.entries.values())
        executed = counts["passed"] + counts["failed"] + counts["hidden"]
        text = f"docs: {len(self.entries)} blocks, {executed} executed, {counts['skipped']} skipped"
        for status in ("failed", "blocked", "hidden", NOT_RUNNABLE, NOT_RUN):
            if counts[status]:
                text += f", {counts[status]} {status}"
        return text
