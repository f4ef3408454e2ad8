"""mkdocs hooks (``hooks:`` in mkdocs.yml): publish each page as the docs tests last ran it.

Reads ``build/docs-ledger.json`` and ``build/docs-runinfo.json`` (override the ledger with
``RUNBOOK_LEDGER``); without a ledger the site still builds and says "not verified".
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # mkdocs loads hooks by path; the package needs its root
    sys.path.insert(0, str(ROOT))

from docs_site.ledger import LEDGER, Record, load  # noqa: E402
from docs_site.page import rewrite_page  # noqa: E402

_record = Record()


def on_config(config: Any) -> Any:
    """Load the ledger once per build."""
    global _record
    ledger = Path(os.environ.get("RUNBOOK_LEDGER", str(LEDGER)))
    _record = load(ROOT, ledger, ledger.with_name("docs-runinfo.json"))
    return config


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Rewrite the page; ledger lines are source lines, so count any stripped front matter."""
    source = page.file.content_string
    skipped = source[: len(source) - len(markdown)] if source.endswith(markdown) else ""
    file = Path(config["docs_dir"]).relative_to(ROOT).as_posix() + "/" + page.file.src_uri
    return rewrite_page(markdown, file, _record, first_line=skipped.count("\n") + 1)
