"""mkdocs hook (``hooks:`` in mkdocs.yml): the private contact list, in a private build only.

The public site holds no names, phone numbers or e-mail addresses (``tests/site/test_private.py``
scans the build). ``RUNBOOK_CONTACTS=/path/to/contacts.md mkdocs build`` puts that file's
Markdown where drills.md has its marker, for a site published privately (docs/drills.md).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

MARKER = "<!-- contacts: a private build (RUNBOOK_CONTACTS=path) puts the private list here -->"


def fill(markdown: str, contacts: str | None) -> str:
    """The page with the private list in place of the marker (none given: the marker goes)."""
    if MARKER not in markdown:
        return markdown
    text = Path(contacts).read_text() if contacts else ""
    return markdown.replace(MARKER, text)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    return fill(markdown, os.environ.get("RUNBOOK_CONTACTS") or None)
