"""Sections of a docs page written by code: the text between a begin and an end marker.

``docs/testing.md``'s command-lint rules and emulated-userland tables are made this way, so the
page says what the code does; each module's ``python -m`` entry point rewrites its section.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path


def replace_section(page_text: str, begin: str, end: str, body: str) -> str:
    """``page_text`` with what lies between ``begin`` and ``end`` replaced by ``body``."""
    head, found_begin, rest = page_text.partition(begin)
    _, found_end, tail = rest.partition(end)
    if not found_begin or not found_end:
        raise ValueError(f"the page has no {begin} ... {end} section")
    return f"{head}{begin}\n{body}\n{end}{tail}"


def rewrite_pages(paths: Sequence[str], rewrite: Callable[[str], str]) -> int:
    """Rewrite each page in ``paths`` through ``rewrite`` (a ``main`` for ``python -m``)."""
    for name in paths:
        page = Path(name)
        page.write_text(rewrite(page.read_text()))
    return 0
