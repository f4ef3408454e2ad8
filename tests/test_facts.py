"""docs/facts.md: every fact about Railway or R2 that the tests cannot run has a source, a
commit and a date, and every page relying on one links to the list (issue 26).

A page that names a Railway or R2 feature from :data:`MARKERS` must be listed on that fact's
row, so a new claim cannot slip in without its source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

DOCS = Path(__file__).resolve().parents[1] / "docs"
FACTS = DOCS / "facts.md"
SOURCE_REPOS = ("railwayapp/docs", "cloudflare/cloudflare-docs")
# a phrase on a page -> the fact it relies on
MARKERS: dict[str, str] = {
    "point-in-time recovery": "R3",
    "volume backups": "R1",
    "Public Access": "R7",
    "railway connect": "R8",
    "railway run": "R9",
    "railway down": "R10",
    "Admin Read & Write": "C1",
    "2.23.0": "C5",
}


@dataclass(frozen=True)
class Fact:
    ident: str
    claim: str
    pages: tuple[str, ...]  # paths relative to docs/
    source: str
    read: str


def _cells(tokens: list, start: int) -> tuple[list[str], list[list[str]], int]:
    """The row's cell texts and the link targets in each cell, from ``tr_open`` at ``start``."""
    texts: list[str] = []
    links: list[list[str]] = []
    i = start + 1
    while tokens[i].type != "tr_close":
        if tokens[i].type == "inline":
            texts.append(tokens[i].content)
            links.append(
                [
                    str(child.attrs["href"])
                    for child in tokens[i].children or []
                    if child.type == "link_open"
                ]
            )
        i += 1
    return texts, links, i


def facts() -> list[Fact]:
    tokens = MarkdownIt("commonmark").enable("table").parse(FACTS.read_text(encoding="utf-8"))
    found: list[Fact] = []
    in_body = False
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.type == "tbody_open":
            in_body = True
        elif token.type == "tbody_close":
            in_body = False
        elif token.type == "tr_open" and in_body:
            texts, links, i = _cells(tokens, i)
            ident, claim, _on, source, read = texts
            found.append(Fact(ident, claim, tuple(links[2]), source, read))
        i += 1
    return found


def test_facts_are_listed_with_source_commit_and_date() -> None:
    rows = facts()
    assert len(rows) >= 10
    assert len({f.ident for f in rows}) == len(rows)
    repo = ""
    for fact in rows:
        assert re.fullmatch(r"[RC]\d+", fact.ident), fact
        assert len(fact.claim) > 40, fact
        assert fact.pages, f"{fact.ident}: no page relies on it?"
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", fact.read), fact
        named = [r for r in SOURCE_REPOS if r in fact.source]
        repo = named[0] if named else repo  # "same file" rows inherit the repository
        assert repo, f"{fact.ident}: no source repository"
        if not fact.source.startswith("same"):
            assert re.search(r"`[\w/.-]+\.mdx?`", fact.source), f"{fact.ident}: no file"
            assert re.search(r"@ `[0-9a-f]{12}`", fact.source), f"{fact.ident}: no commit"


@pytest.mark.parametrize("fact", facts(), ids=lambda f: f.ident)
def test_every_page_relying_on_a_fact_links_to_the_list(fact: Fact) -> None:
    for page in fact.pages:
        path = (DOCS / page).resolve()
        assert path.is_file(), f"{fact.ident}: {page} does not exist"
        tokens = MarkdownIt("commonmark").enable("table").parse(path.read_text(encoding="utf-8"))
        targets = {
            (path.parent / str(child.attrs["href"]).split("#")[0]).resolve()
            for token in tokens
            if token.type == "inline"
            for child in token.children or []
            if child.type == "link_open" and not str(child.attrs["href"]).startswith("http")
        }
        assert FACTS in targets, f"{page} relies on {fact.ident} but does not link to facts.md"


def test_pages_naming_a_railway_or_r2_feature_are_on_its_row() -> None:
    by_ident = {f.ident: f for f in facts()}
    missing = []
    for path in sorted(DOCS.rglob("*.md")):
        page = path.relative_to(DOCS).as_posix()
        if page in ("facts.md", "testing.md"):
            continue
        text = path.read_text(encoding="utf-8")
        for phrase, ident in MARKERS.items():
            if phrase.lower() in text.lower() and page not in by_ident[ident].pages:
                missing.append(f"{page} names {phrase!r}: add it to row {ident} of facts.md")
    assert not missing, "\n".join(missing)
