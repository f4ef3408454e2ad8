"""Page-level rewriting for the site: blocks, the verification stamp, and readability fixes.

``rewrite_page`` applies, in order: every fenced block as recorded (``render``), a stamp right
under the page title, "**If it differs:**" paragraphs as admonitions, and ``\\|`` inside code
spans of table rows as a plain pipe (GitHub needs the escape there; Python-Markdown already
keeps a pipe inside backticks in its cell and would show the backslash).
"""

from __future__ import annotations

import html
import re

from docs_site.ledger import Record
from docs_site.render import RUNNABLE, fences, rewrite_fence

_DIFFERS = re.compile(r"^\*\*If it differs:\*\*\s*")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")


def rewrite_page(markdown: str, file: str, record: Record, first_line: int = 1) -> str:
    """The page's Markdown as published; ``first_line`` is the source line of ``markdown``'s
    first line (after any front matter), so ledger line numbers map onto it."""
    lines = markdown.split("\n")
    out: list[str] = []
    done = 0
    for fence in fences(lines):
        out += lines[done : fence.start]
        out += rewrite_fence(fence, file, fence.start + first_line, record)
        done = fence.end + 1
    out += lines[done:]
    text = "\n".join(out)
    text = _insert_stamp(text, stamp(file, record))
    return differs_admonitions(table_pipes(text))


def stamp(file: str, record: Record) -> str:
    """One HTML line: when, at which commit and with which versions the page was last tested
    (the server and tools its own environment had: ``runbook_docs.versions``)."""
    if not record.present:
        return _stamp_html("unverified", "Not verified: this site was built without a test run.")
    blocks = [b for b in record.page(file) if b.language in RUNNABLE and b.status != "hidden"]
    tested = sum(b.status == "passed" for b in blocks)
    failed = sum(b.status == "failed" for b in blocks)
    skipped = sum(b.status == "skipped" for b in blocks)
    other = len(blocks) - tested - failed - skipped
    if not blocks:
        return _stamp_html("tested", f"No commands on this page · site tested {run_line(record)}")
    if tested + failed == 0 and skipped < len(blocks):
        return _stamp_html("not-run", "Not verified: this page was not run in the last test run.")
    counts = f"{tested} of {len(blocks)} blocks tested"
    if skipped:
        counts += f", {skipped} not tested here"
    if failed:
        counts += f", {failed} FAILED"
    if other:
        counts += f", {other} not run"
    status = "failed" if failed else "tested"
    return _stamp_html(status, f"Tested {run_line(record, file)} · {counts}")


def run_line(record: Record, file: str | None = None) -> str:
    """``DATE · commit C`` of the last docs run, then ``PostgreSQL V · tool V ...`` of ``file``."""
    run = record.run
    parts = [str(run.get("date", "at an unknown date"))]
    if run.get("commit"):
        parts.append(f"commit {run['commit']}")
    if file is not None:
        parts += [f"{name} {version}" for name, version in record.versions.get(file, {}).items()]
    return " · ".join(parts)


def _stamp_html(status: str, text: str) -> str:
    return f'<p class="rb-stamp" data-rb-status="{status}">{html.escape(text)}</p>'


def _insert_stamp(text: str, stamp_html: str) -> str:
    """Put the stamp after the first ``# `` title, or first on a page without one."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if line.startswith("# "):
            return "\n".join([*lines[: i + 1], "", stamp_html, "", *lines[i + 1 :]])
    return "\n".join([stamp_html, "", *lines])


def differs_admonitions(text: str) -> str:
    """``**If it differs:** ...`` paragraphs (at column 0) as ``!!! tip "If it differs"``."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        if not _DIFFERS.match(lines[i]):
            out.append(lines[i])
            i += 1
            continue
        para = [_DIFFERS.sub("", lines[i])]
        i += 1
        while i < len(lines) and lines[i].strip():
            para.append(lines[i])
            i += 1
        out += ['!!! tip "If it differs"', "", *("    " + ln for ln in para)]
    return "\n".join(out)


def table_pipes(text: str) -> str:
    r"""In table rows, ``\|`` inside a code span becomes ``|`` (the command as written)."""

    def fix_row(line: str) -> str:
        if not line.lstrip().startswith("|"):
            return line
        return _CODE_SPAN.sub(lambda m: m[1] + m[2].replace("\\|", "|") + m[1], line)

    return "\n".join(fix_row(line) for line in text.split("\n"))
