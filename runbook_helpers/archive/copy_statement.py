"""The ``COPY name (columns) FROM stdin;`` line pg_dump writes before each table's data, parsed.

Used to count rows per table (:mod:`runbook_helpers.archive.counts`) and to load a table's
rows with a COPY statement built from identifiers (:mod:`runbook_helpers.restore.copy`): the
statement text of a backup is never sent to a server as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_COPY = re.compile(r"^COPY (?P<table>.+?) +(?:\((?P<columns>.*)\) )?FROM stdin;$")
_IDENT = re.compile(r'"(?:[^"]|"")*"|[^,\s]+')
_NAME_PART = re.compile(r'"(?:[^"]|"")*"|[^.]+')


def unquote(ident: str) -> str:
    """A double-quoted identifier without its quotes (``""`` is one ``"``); else unchanged."""
    return ident[1:-1].replace('""', '"') if ident.startswith('"') else ident


@dataclass(frozen=True)
class CopyStatement:
    name: tuple[str, ...]  # ("public", "users")
    columns: tuple[str, ...]  # empty when the statement names none

    @property
    def table(self) -> str:
        """``schema.table``, as the manifest and the row checks key it."""
        return ".".join(self.name)


def parse_copy(text: str) -> CopyStatement | None:
    """The statement's table and columns; None for anything but ``COPY ... FROM stdin;``."""
    match = _COPY.match(text.strip())
    if not match:
        return None
    name = tuple(unquote(p) for p in _NAME_PART.findall(match.group("table")))
    columns = tuple(unquote(c) for c in _IDENT.findall(match.group("columns") or ""))
    return CopyStatement(name, columns)
