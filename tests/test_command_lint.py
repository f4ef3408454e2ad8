"""The command lint (runbook_docs/command_lint.py): what it refuses, what it lets through, its
table in docs/testing.md, and a page breaking a rule failing the suite."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from runbook_docs.blocks import Fence
from runbook_docs.command_lint import RULES, lint_fences, rules_markdown, with_rules
from runbook_docs.registry import parse_fences
from runbook_docs.transcript import OneOf, parse_transcript

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]


def _problems(lang: str, source: str, *, hidden: bool = False) -> list[str]:
    fence = Fence(Path("p.md"), 10, 20, lang, textwrap.dedent(source).lstrip("\n"), hidden=hidden)
    return [p.rule.name for p in lint_fences([fence])]


@pytest.mark.parametrize(
    ("line", "rule"),
    [
        ("echo ok   # note", "trailing-comment"),
        (
            "cd ~ && rm -rf ~/vlvt-rows   # the backup and backup.tar: personal data",
            "trailing-comment",
        ),
        ("export PGPORT=41234;# its port", "trailing-comment"),
        ("# a comment on its own line", "comment-line"),
        ("   # indented, still on its own line", "comment-line"),
        ("date -u -d yesterday +%F", "date-d"),
        ("X=$(date -ud '10 minutes ago' +%s)", "date-d"),
        ("date -u +%Y-%m-%dT%H:%M:%S.%3NZ", "date-N"),
        ("sed -i 's/a/b/' file", "sed-i"),
        ("sed -E -i 's/a/b/' file", "sed-i"),
        ("stat -c %s backup.tar.gz", "stat-c"),
        ("grep -oP '\\d+' f", "grep-P"),
        ("timeout 5 psql -c 'select 1'", "tool-timeout"),
        ("make -j$(nproc)", "tool-nproc"),
        ("numfmt --to=iec 1024", "tool-numfmt"),
        ("tac log.txt", "tool-tac"),
        ("sha256sum backup.tar.gz", "tool-sha256sum"),
        ("read -r -p 'x: ' X", "read-p"),
        ('read -rs -p "PGPASSWORD: " PGPASSWORD && export PGPASSWORD', "read-p"),
        ("read -p 'x: ' X", "read-p"),
    ],
)
def test_refused(line: str, rule: str) -> None:
    assert _problems("bash", line) == [rule]
    assert _problems("console", f"$ {line}\noutput # not a command\n") == [rule]


@pytest.mark.parametrize(
    "line",
    [
        "echo ${#PGPASSWORD} $# 'a # b' \"c # d\" a#b",
        "curl -fsS https://example.com/page#section",
        "date -u +%Y-%m-%dT%H:%M:%SZ",
        "sed -i.bak 's/a/b/' file && rm file.bak",
        "sed -n 2p file",
        "shasum -a 256 backup.tar.gz",
        "grep -E '^(GRANT|REVOKE)' f",
        "psql -c 'set statement_timeout = 1000' && export PGCONNECT_TIMEOUT=5",
        "aws s3 cp x y --cli-read-timeout 30",
        "printf 'PGPASSWORD: ' && read -rs PGPASSWORD && echo",
        "runbook restore --target-db x --timeout 60",
        "pg_restore --list dump.tar | head -n 2",
    ],
)
def test_let_through(line: str) -> None:
    assert _problems("bash", line) == []
    assert _problems("console", f"$ {line}\n") == []


def test_heredoc_bodies_quoted_lines_hidden_blocks_and_other_languages_are_not_commands() -> None:
    heredoc = """
        psql <<'SQL'
        select 1 # a SQL word, not a shell comment
        SQL
        echo done   # this one is
    """
    assert _problems("bash", heredoc) == ["trailing-comment"]
    multi_line_quote = """
        python3 -c '
        print(1)  # inside the quotes
        '
    """
    assert _problems("bash", multi_line_quote) == []
    assert _problems("bash", "echo ok  # note", hidden=True) == []
    assert _problems("text", "echo ok  # note") == []
    # a console block's output is not linted as a command
    assert _problems("console", "$ runbook inspect x\n  timeout: 5 # s\n") == []


def test_a_transcript_shows_both_tar_messages_or_neither() -> None:
    gnu = "$ gzip -cd x | tar -tf -\n? 2\ntar: Unexpected EOF in archive\n"
    assert _problems("console", gnu) == ["tar-message"]
    bsd = "$ gzip -cd x | tar -tf -\n? 1\ntar: Truncated input file (needed 1 bytes, only 0)\n"
    assert _problems("console", bsd) == ["tar-message"]
    assert _problems("console", "$ tar -tf x || echo cut short\ncut short\n") == []


def test_every_page_of_the_docs_passes_the_lint() -> None:
    for page in sorted((ROOT / "docs").rglob("*.md")):
        fences = [fence for fence, _, _ in parse_fences(page, page.read_text(), str(page))]
        assert [(p.line, p.rule.name) for p in lint_fences(fences)] == [], page


def test_testing_md_lists_exactly_the_lint_rules() -> None:
    page = (ROOT / "docs" / "testing.md").read_text()
    assert with_rules(page) == page, (
        "docs/testing.md's command-lint table differs from runbook_docs/command_lint.py's "
        "RULES: python -m runbook_docs.command_lint docs/testing.md"
    )
    assert rules_markdown().count("\n") == len(RULES) + 1


def test_a_status_that_is_one_of_several() -> None:
    (step,) = parse_transcript("$ aws s3 ls s3://b/\n? 254 or 255\nAccessDenied\n", 3)
    assert step.expected_status == OneOf((254, 255)) and str(step.expected_status) == "254 or 255"
    assert step.status_ok(254) and step.status_ok(255)
    assert not step.status_ok(0) and not step.status_ok(1) and not step.status_ok(253)


# Done when: each of these, added to a visible block of docs/index.md, fails the suite.
ADDED = {
    "trailing comment": ("bash", "echo ok   # note", "trailing-comment"),
    "date -d": ("bash", "date -u -d yesterday +%F", "date-d"),
    "read -p": ("bash", "read -r -p 'x: ' X", "read-p"),
    "GNU tar only": (
        "console",
        "$ gzip -cd x | tar -tf -\n? 2\ntar: Unexpected EOF in archive\n"
        "tar: Error is not recoverable: exiting now",
        "tar-message",
    ),
}


def _index_with(lang: str, text: str) -> str:
    """docs/index.md with ``text`` added at the end of its first visible ``lang`` block."""
    page = ROOT / "docs" / "index.md"
    source = page.read_text()
    fence = next(
        f
        for f, _, _ in parse_fences(page, source, "docs/index.md")
        if f.lang == lang and not f.hidden
    )
    lines = source.split("\n")
    lines[fence.end_line - 1 : fence.end_line - 1] = text.split("\n")
    return "\n".join(lines)


def _run_lint(pytester: pytest.Pytester, page_text: str) -> pytest.RunResult:
    pytester.makeini("[pytest]\nrunbook_docs = docs\n")
    (pytester.path / "docs").mkdir()
    (pytester.path / "docs" / "index.md").write_text(page_text)
    # only the lint item runs: the page's blocks need the suite's servers
    return pytester.runpytest("-p", "runbook_docs.plugin", "-p", "no:cacheprovider", "-k", "lint")


@pytest.mark.parametrize("case", ADDED, ids=list(ADDED))
def test_a_line_added_to_the_start_page_fails_the_suite(
    pytester: pytest.Pytester, case: str
) -> None:
    lang, text, rule = ADDED[case]
    result = _run_lint(pytester, _index_with(lang, text))
    result.assert_outcomes(failed=1)
    first = text.split("\n")[0].removeprefix("$ ")
    added_at = _index_with(lang, text).split("\n").index(text.split("\n")[0]) + 1
    if rule == "tar-message":
        added_at += 2  # the message line, not the command
    result.stdout.fnmatch_lines([f"docs/index.md:{added_at}: *", "*docs/index.md::lint*"])
    assert first  # the added line is reported with its rule's explanation
    why = next(r.why for r in RULES if r.name == rule)
    assert why.split(":")[0][:40] in result.stdout.str().replace("\n", " ")


def test_the_start_page_as_it_is_has_no_lint_failure(pytester: pytest.Pytester) -> None:
    result = _run_lint(pytester, (ROOT / "docs" / "index.md").read_text())
    assert "docs/index.md::lint" not in result.stdout.str()
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
