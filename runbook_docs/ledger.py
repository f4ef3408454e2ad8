"""The ledger: one entry per fence in the docs dir, proving each ran or was skipped for a reason.

Statuses: passed, failed, skipped (with a reason), blocked (an earlier block of the page
failed), hidden (a hidden setup block that passed), not-runnable (a language the engine does
not run), not-run (runnable but never executed in this run: deselected, or a bug).

Per entry, ``checked`` says what a pass proves ("output": every step's output was compared
with the page; "status": only exit codes and the server-error check; null: not runnable),
``commands`` holds the exact command text of each step (a console ``$`` command with its
``> `` lines joined by newlines; a bash/sql/python block's whole text) and ``outputs`` the
redacted output each executed step printed (empty when the block did not run).
Per page that ran, ``pages`` holds the ``versions`` its environment had (``versions.py``).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from runbook_docs.blocks import Fence
from runbook_docs.transcript import Step

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
    checked: str | None = None  # "output" | "status" | None (not runnable)
    commands: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)


class Ledger:
    """Entries keyed by (file, line); fences are added at collection, results as they come."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, int], Entry] = {}
        self.versions: dict[str, dict[str, str]] = {}  # page -> tool -> version

    def add(
        self, file: str, fence: Fence, checked: str | None = None, steps: Sequence[Step] = ()
    ) -> None:
        status = NOT_RUN if checked else NOT_RUNNABLE
        commands = [step.command for step in steps]
        entry = Entry(file, fence.line, fence.lang, status, checked=checked, commands=commands)
        self.entries.setdefault((file, fence.line), entry)

    def record_outputs(self, file: str, line: int, outputs: Sequence[str]) -> None:
        self.entries[(file, line)].outputs = list(outputs)

    def record_versions(self, file: str, versions: dict[str, str]) -> None:
        self.versions[file] = dict(versions)

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
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n")

    def to_json(self) -> dict[str, Any]:
        pages = {f: {"versions": v} for f, v in sorted(self.versions.items())}
        return {"blocks": [asdict(e) for e in self.sorted()], "pages": pages}

    @classmethod
    def merged(cls, parts: Iterable[dict[str, Any]]) -> Ledger:
        """One ledger from the workers' (pytest-xdist): each collected every page, and ran some.

        Per fence, the entry of the worker that ran it wins over the others' ``not-run``; a
        fence two workers ran (never, with ``--dist loadgroup``) keeps a failure if either
        failed. A fence that no worker ran stays ``not-run``, and fails the full run.
        """
        ledger = cls()
        for part in parts:
            for data in part["blocks"]:
                entry = Entry(**data)
                key = (entry.file, entry.line)
                known = ledger.entries.get(key)
                if known is None or _rank(entry) > _rank(known):
                    ledger.entries[key] = entry
            for file, page in part.get("pages", {}).items():
                ledger.versions[file] = page["versions"]
        return ledger

    def summary(self) -> str:
        """``docs: N blocks, X executed, Y skipped`` plus the other non-zero counts."""
        counts = Counter(e.status for e in self.entries.values())
        executed = sum(counts[s] for s in _EXECUTED)
        text = f"docs: {len(self.entries)} blocks, {executed} executed, {counts['skipped']} skipped"
        for status in ("failed", "blocked", "hidden", NOT_RUNNABLE, NOT_RUN):
            if counts[status]:
                text += f", {counts[status]} {status}"
        return text

    def output_checked_percent(self) -> float:
        """Output-checked executed blocks, in percent of executed blocks (100 when none ran)."""
        executed = [e for e in self.entries.values() if e.status in _EXECUTED]
        output = sum(e.checked == "output" for e in executed)
        return 100 * output / len(executed) if executed else 100.0

    def checked_summary(self) -> str:
        """``docs: N of M executed blocks output-checked (P%)``."""
        executed = [e for e in self.entries.values() if e.status in _EXECUTED]
        output = sum(e.checked == "output" for e in executed)
        share = self.output_checked_percent()
        return f"docs: {output} of {len(executed)} executed blocks output-checked ({share:.0f}%)"


_EXECUTED = frozenset({"passed", "failed", "hidden"})


def _rank(entry: Entry) -> int:
    """Which of two workers' entries for one fence the merged ledger keeps."""
    return {NOT_RUN: 0, NOT_RUNNABLE: 0, "failed": 2}.get(entry.status, 1)
