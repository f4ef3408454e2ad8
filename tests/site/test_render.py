"""The mkdocs hook's rewriting, rendered with the site's own Markdown extensions (no browser)."""

from __future__ import annotations

import html
import re
from pathlib import Path

import markdown  # type: ignore[import-untyped]
import yaml

from docs_site.ledger import Block, Record
from docs_site.page import rewrite_page, stamp, table_pipes

ROOT = Path(__file__).resolve().parents[2]
FILE = "docs/x.md"


def _render(text: str) -> str:
    """HTML as mkdocs renders the page (the extensions and options of mkdocs.yml)."""
    config = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=yaml.BaseLoader)
    names: list[str] = []
    options: dict[str, object] = {}
    for ext in config["markdown_extensions"]:
        if isinstance(ext, dict):
            ((name, value),) = ext.items()
            names.append(name)
            options[name] = value or {}
        else:
            names.append(ext)
    options["pymdownx.highlight"] = {"pygments_lang_class": True}
    return str(markdown.markdown(text, extensions=names, extension_configs=options))


def _blocks(page_html: str) -> list[dict[str, str]]:
    found = []
    for match in re.finditer(
        r"<div (class=\"[^\"]*rb-block[^\"]*\"[^>]*)>(.*?)</div>", page_html, re.S
    ):
        attrs = {k: html.unescape(v) for k, v in re.findall(r'([\w-]+)="([^"]*)"', match[1])}
        attrs["text"] = html.unescape(re.sub(r"<[^>]+>", "", match[2]))
        found.append(attrs)
    return found


PAGE = """# Title

```console
$ runbook backups list --limit 5
TAKEN [..]
...
5 of [..] backups in s3://[BUCKET]/
$ echo "a & b" <<'EOF' | grep '}'
> {x}
> EOF
? 1
```

```console
$ runbook restore x --target postgresql:///db
? 8
runbook: error: [..]
```

**If it differs:** do this
and that.

| Symptom | Fix |
| --- | --- |
| not an archive | `gzip -cd FILE \\| pg_restore ...` |
"""


def _record(**sandbox: str) -> Record:
    block = Block(
        FILE,
        3,
        "console",
        "passed",
        checked="output",
        commands=("runbook backups list --limit 5", "echo \"a & b\" <<'EOF' | grep '}'\n{x}\nEOF"),
        outputs=(
            f"TAKEN  AGE\nrow 1\n5 of 9 backups in s3://vlvt-backups/ via {sandbox['ENDPOINT']}\n",
            "",
        ),
    )
    record = Record(
        present=True,
        run={
            "date": "2026-11-25 14:00 UTC",
            "commit": "abc",
            "sandbox": sandbox,
        },
        versions={FILE: {"PostgreSQL": "16.2", "pg_restore": "16.2"}, "docs/other.md": {"x": "1"}},
    )
    record.blocks[(FILE, 3)] = block
    record.blocks[(FILE, 13)] = Block(FILE, 13, "console", "passed", commands=("runbook restore",))
    return record


def test_transcript_shows_recorded_output_and_copies_the_executed_commands() -> None:
    record = _record(ENDPOINT="http://127.0.0.1:45678")
    blocks = _blocks(_render(rewrite_page(PAGE, FILE, record)))
    first = blocks[0]
    assert first["data-rb-copy"] == "\n".join(record.blocks[(FILE, 3)].commands)
    assert first["data-rb-status"] == "tested"
    assert "5 of 9 backups in s3://vlvt-backups/ via https://<ACCOUNT_ID>" in first["text"]
    assert "[..]" not in first["text"] and "? 1" not in first["text"]
    assert "127.0.0.1:45678" not in first["text"]
    assert first["text"].startswith("$ runbook backups list --limit 5\nTAKEN  AGE\nrow 1\n")
    assert "\n> {x}\n> EOF\n" in first["text"]


def test_a_refusal_is_an_example_without_copy_text() -> None:
    blocks = _blocks(_render(rewrite_page(PAGE, FILE, _record(ENDPOINT="http://x:1"))))
    refusal = blocks[1]
    assert "rb-example" in refusal["class"]
    assert "data-rb-copy" not in refusal
    assert refusal["data-rb-label"].startswith("example of a refusal (exit 8)")
    assert "? 8" not in refusal["text"]


def test_without_a_ledger_the_page_says_not_verified_and_hides_wildcards() -> None:
    page_html = _render(rewrite_page(PAGE, FILE, Record()))
    assert 'class="rb-stamp" data-rb-status="unverified">Not verified' in page_html
    first = _blocks(page_html)[0]
    assert first["data-rb-status"] == "unverified"
    assert "[..]" not in first["text"] and "\n...\n" not in first["text"]
    assert "5 of … backups in s3://vlvt-backups/" in first["text"]
    assert first["data-rb-copy"] == (
        "runbook backups list --limit 5\necho \"a & b\" <<'EOF' | grep '}'\n{x}\nEOF"
    )


def test_stamp_names_date_commit_versions_and_counts() -> None:
    text = stamp(FILE, _record(ENDPOINT="http://x:1"))
    assert (
        "Tested 2026-11-25 14:00 UTC · commit abc · PostgreSQL 16.2 · pg_restore 16.2 · "
        "2 of 2 blocks tested"
    ) in html.unescape(text)  # this page's versions only, not another page's


def test_if_it_differs_is_an_admonition_and_table_pipes_are_plain() -> None:
    page_html = _render(rewrite_page(PAGE, FILE, Record()))
    assert '<p class="admonition-title">If it differs</p>\n<p>do this\nand that.</p>' in page_html
    assert "<code>gzip -cd FILE | pg_restore ...</code>" in page_html
    assert table_pipes("a `x \\| y`") == "a `x \\| y`"  # only in table rows


def test_the_real_troubleshooting_table_renders_the_pipe() -> None:
    source = (ROOT / "docs" / "troubleshooting.md").read_text()
    page_html = _render(rewrite_page(source, "docs/troubleshooting.md", Record()))
    assert "<code>gzip -cd FILE | pg_restore" in page_html
    assert "\\|" not in page_html
