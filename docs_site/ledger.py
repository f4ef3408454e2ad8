"""Read what the last docs test run recorded: the block ledger and each page's versions.

The ledger (written by ``runbook_docs``) has one entry per fence: ``file``, ``line``,
``language``, ``status``, ``reason`` and, for executed blocks, ``checked`` ("output" or
"status"), ``commands`` (the exact text executed, one per step) and ``outputs`` (the recorded,
redacted output per step), and per page the ``versions`` of the tools and server its environment
had. The run info (written by ``docs_site.runinfo``) has the date and commit of that run. Both
are optional: without them the site says "not verified".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LEDGER = Path("build/docs-ledger.json")
RUNINFO = Path("build/docs-runinfo.json")
EXECUTED = frozenset({"passed", "failed", "hidden"})


@dataclass(frozen=True)
class Block:
    """One ledger entry, as the site needs it."""

    file: str
    line: int
    language: str
    status: str
    reason: str = ""
    checked: str = ""
    commands: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()

    @property
    def executed(self) -> bool:
        return self.status in EXECUTED


@dataclass
class Record:
    """The ledger's blocks keyed by (file, line), and the run info (empty when unknown)."""

    blocks: dict[tuple[str, int], Block] = field(default_factory=dict)
    run: dict[str, Any] = field(default_factory=dict)
    present: bool = False
    versions: dict[str, dict[str, str]] = field(default_factory=dict)  # page -> tool -> version

    def page(self, file: str) -> list[Block]:
        return [b for (f, _), b in sorted(self.blocks.items()) if f == file]


def _block(raw: dict[str, Any]) -> Block:
    return Block(
        file=str(raw["file"]),
        line=int(raw["line"]),
        language=str(raw.get("language", "")),
        status=str(raw.get("status", "")),
        reason=str(raw.get("reason") or ""),
        checked=str(raw.get("checked") or ""),
        commands=tuple(str(c) for c in raw.get("commands") or ()),
        outputs=tuple(str(o) for o in raw.get("outputs") or ()),
    )


def load(root: Path, ledger: Path = LEDGER, runinfo: Path = RUNINFO) -> Record:
    """The record under ``root``; an absent ledger gives an empty record (``present`` False)."""
    record = Record()
    ledger_path = root / ledger
    if ledger_path.is_file():
        data = json.loads(ledger_path.read_text())
        for raw in data.get("blocks", []):
            block = _block(raw)
            record.blocks[(block.file, block.line)] = block
        for file, page in (data.get("pages") or {}).items():
            record.versions[file] = {str(k): str(v) for k, v in page.get("versions", {}).items()}
        record.present = True
    info_path = root / runinfo
    if record.present and info_path.is_file():
        record.run = json.loads(info_path.read_text())
    return record
