"""Pure parts of the docs engine: wildcard matching, transcripts, fences and directives."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook_docs.blocks import Directive, PageError, parse_page
from runbook_docs.matching import UnknownPlaceholder, compare, matches, rewrite
from runbook_docs.transcript import Step, TranscriptError, parse_transcript

PLACES = {"BUCKET": "my-bucket", "DB": "restore_db"}


@pytest.mark.parametrize(
    ("actual", "expected", "ok"),
    [
        ("a\nb", "a\nb", True),
        ("a  \nb\n\n\n", "a\nb", True),  # trailing whitespace and blank lines ignored
        ("a\nb", "a\nc", False),
        ("a\nx\ny\nb", "a\n...\nb", True),
        ("a\nb", "a\n...\nb", True),  # ... matches zero lines
        ("a\nb\nc", "a\n...", True),
        ("", "...", True),
        ("a\nb\nb\nc", "...\nb\nc", True),  # backtracks past the first "b"
        ("a\nb", "...\nc", False),
        ("size: 42 MB", "size: [..] MB", True),
        ("size: 42 GB", "size: [..] MB", False),
        ("s3://my-bucket/x", "s3://[BUCKET]/x", True),
        ("s3://other/x", "s3://[BUCKET]/x", False),
        ("key [REDACTED]", "key [REDACTED]", True),
        ("[..] literal", "[..] literal", True),
        ("a.b", "a[..]b", True),
        ("axb", "a.b", False),  # regex characters are literal
    ],
)
def test_matches(actual: str, expected: str, ok: bool) -> None:
    diff, _ = compare(actual, expected.split("\n"), PLACES, "p.md:1")
    assert (diff is None) is ok


def test_unknown_placeholder_names_known_ones() -> None:
    with pytest.raises(UnknownPlaceholder, match=r"\[NOPE\].*known: \[\.\.\], \[BUCKET\], \[DB\]"):
        matches(["x"], ["[NOPE]"], PLACES)
    assert matches(["[WARN] x"], ["[WARN] x"], PLACES)  # a literal equal line is fine


@pytest.mark.parametrize(
    ("actual", "expected", "rewritten"),
    [
        (["a", "x", "y", "b"], ["a", "...", "b"], ["a", "...", "b"]),
        (["a", "B", "c"], ["a", "b", "c"], ["a", "B", "c"]),
        (["v 1", "new", "end"], ["v [..]", "end"], ["v [..]", "new", "end"]),
        (["a"], ["a", "b"], ["a"]),
    ],
)
def test_rewrite_keeps_matching_patterns(
    actual: list[str], expected: list[str], rewritten: list[str]
) -> None:
    assert rewrite(actual, expected, PLACES) == rewritten


def test_diff_shows_only_real_mismatches_and_update_uses_placeholders() -> None:
    diff, updated = compare("t=17\nmy-bucket ok\nnew", ["t=[..]", "[BUCKET] ok"], PLACES, "x.md:3")
    assert diff is not None
    assert diff.splitlines() == [
        "--- x.md:3 (expected)",
        "+++ x.md:3 (actual)",
        "@@ -1,2 +1,3 @@",
        " t=[..]",
        " [BUCKET] ok",
        "+new",
    ]
    assert updated == ["t=[..]", "[BUCKET] ok", "new"]


def test_transcript_steps() -> None:
    text = "$ echo a \\\n> b\na b\n\n$ false\n? 1\n$ x\n? failed\nerr\n...\n$ true\n"
    steps = parse_transcript(text, 10)
    assert steps == [
        Step("echo a \\\nb", 0, ("a b",), line=10, status_line=12, output_start=12, output_end=13),
        Step("false", 1, (), line=14, status_line=15, output_start=16, output_end=16),
        Step(
            "x", "failed", ("err", "..."), line=16, status_line=17, output_start=18, output_end=20
        ),
        Step("true", 0, (), line=20, status_line=21, output_start=21, output_end=21),
    ]
    assert steps[2].status_ok(3) and not steps[2].status_ok(0)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("output first\n$ x\n", 5, "got 'output first'"),
        ("$ \n", 5, "empty"),
    ],
)
def test_transcript_errors(text: str, line: int, message: str) -> None:
    with pytest.raises(TranscriptError, match=message) as info:
        parse_transcript(text, 5)
    assert info.value.line == line


PAGE = """# T

```bash
a
```

<!-- runbook: skip reason="needs the Railway dashboard" -->

```console
$ b
```

<!-- runbook: hidden timeout=5
```sql
select 1;
```
-->

- item

    ```{.sh title="x"}
    c
    ```

```
plain
```
"""


def test_parse_page_fences_and_directives() -> None:
    fences = parse_page(Path("p.md"), PAGE)
    assert [(f.line, f.lang, f.hidden) for f in fences] == [
        (3, "bash", False),
        (9, "console", False),
        (14, "sql", True),
        (21, "sh", False),
        (25, "", False),
    ]
    assert fences[1].directive == Directive(skip_reason="needs the Railway dashboard")
    assert fences[2].directive == Directive(timeout=5.0)
    assert fences[2].source == "select 1;\n"
    assert not fences[4].runnable


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<!-- runbook: skip -->\n```bash\nx\n```\n", r"p.md:1: \"runbook: skip\" needs a reason"),
        ("<!-- runbook: bogus=1 -->\n```bash\nx\n```\n", "p.md:1: unknown runbook directive"),
        ('<!-- runbook: reason="x" -->\n```bash\nx\n```\n', "only meaningful with skip"),
        ("<!-- runbook: timeout=5 -->\n\ntext\n", "p.md:1: runbook directive is not followed"),
        ("<!-- runbook: timeout=5 -->\n", "p.md:1: runbook directive is not followed"),
        ("!!! note\n    ```bash\n    x\n    ```\n", "p.md:2: this looks like a code fence"),
    ],
)
def test_parse_page_errors(text: str, message: str) -> None:
    with pytest.raises(PageError, match=message):
        parse_page(Path("p.md"), text)


def test_every_runnable_language_has_one_evaluator() -> None:
    from runbook_docs.blocks import RUNNABLE_LANGS
    from runbook_docs.registry import EVALUATORS

    assert set(EVALUATORS) == RUNNABLE_LANGS
    assert EVALUATORS["console"].checked == "output"
    assert {EVALUATORS[lang].checked for lang in ("bash", "sh", "sql", "python")} == {"status"}


@pytest.mark.parametrize(
    ("output", "errors"),
    [
        ('ERROR:  relation "x" does not exist', ['ERROR:  relation "x" does not exist']),
        ("psql:<stdin>:2: ERROR:  division by zero", ["psql:<stdin>:2: ERROR:  division by zero"]),
        (
            'psql: error: connection to server failed: FATAL:  database "x" does not exist',
            ['psql: error: connection to server failed: FATAL:  database "x" does not exist'],
        ),
        ("PANIC:  could not write", ["PANIC:  could not write"]),
        ("runbook: error: no backups", []),  # the helper's own errors are judged by status
        ("ok\nERRORS: 0\nmy ERROR: thing", []),
    ],
)
def test_server_errors(output: str, errors: list[str]) -> None:
    from runbook_docs.matching import server_errors

    assert server_errors(output) == errors


def test_unshown_errors_need_a_line_not_an_ellipsis() -> None:
    from runbook_docs.matching import unshown_errors

    out = "a\nERROR:  division by zero\nb"
    assert unshown_errors(out, ["a", "ERROR:  division by zero", "b"], {}) == []
    assert unshown_errors(out, ["a", "ERROR:  [..]", "b"], {}) == []
    assert unshown_errors(out, ["a", "...", "b"], {}) == ["ERROR:  division by zero"]
