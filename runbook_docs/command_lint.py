"""Lint the commands a reader sees: what breaks in an interactive zsh or on macOS's userland.

Every visible shell block (``console``, ``bash``, ``sh``, ``zsh``, ``shell``; skipped ones too: a
reader pastes them) is checked line by line against ``RULES`` when the page is collected; a
page with a problem gets a failing ``docs/PAGE::lint`` item naming each problem at its .md line.
``docs/testing.md`` lists the rules between the markers ``<!-- command-lint:begin -->`` and
``<!-- command-lint:end -->``: ``rules_markdown()`` writes that section (``python -m
runbook_docs.command_lint docs/testing.md``) and a test fails when it differs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from runbook_docs.blocks import Fence
from runbook_docs.generated import replace_section, rewrite_pages

LINTED_LANGS = frozenset({"console", "bash", "sh", "zsh", "shell"})
BEGIN = "<!-- command-lint:begin -->"
END = "<!-- command-lint:end -->"

# an option list before the flag: `date -u -d`, `grep -oP`, `sed -E -i`
_OPTS = r"(?:\s+(?:-\S+|'[^']*'|\"[^\"]*\"))*?"
_AT_COMMAND = r"(?:^|[\s;&|(`]|\$\()"  # where a command name starts


@dataclass(frozen=True)
class Rule:
    """One thing the lint refuses: ``pattern`` over a command line (comments cut off), or, for
    ``trailing-comment``, ``comment-line`` and ``tar-message``, the scanner below."""

    name: str
    shows: str  # the form refused, as testing.md shows it
    why: str
    fix: str
    pattern: re.Pattern[str] | None = None


def _tool(name: str) -> re.Pattern[str]:
    return re.compile(_AT_COMMAND + re.escape(name) + r"(?=$|[\s;&|)])")


RULES: tuple[Rule, ...] = (
    Rule(
        "trailing-comment",
        "`command   # comment`",
        "zsh, macOS's shell, starts with `INTERACTIVE_COMMENTS` off: a pasted comment's words "
        "become arguments (`rm -rf dir  # old files` also deletes `old` and `files`)",
        "put the comment in the prose",
    ),
    Rule(
        "comment-line",
        "a `# comment` line",
        "the same: interactive zsh runs it as the command `#` (`command not found: #`), and a "
        "quote or `(` in it starts a string or a syntax error",
        "put the comment in the prose, or split the block there",
    ),
    Rule(
        "date-d",
        "`date -d`",
        "BSD `date` (macOS) has no `-d`",
        "print the time with `python3 -c` or take it from `runbook` output",
        re.compile(_AT_COMMAND + r"date" + _OPTS + r"\s+-[A-Za-z]*d(?=$|\s)"),
    ),
    Rule(
        "date-N",
        "`%N` in a `date` format",
        "BSD `date` has no `%N` (nanoseconds): it prints a literal `N`",
        "whole seconds (`date -u +%Y-%m-%dT%H:%M:%SZ`), or `python3 -c`",
        re.compile(_AT_COMMAND + r"date\b[^|;&]*%[0-9]*N"),
    ),
    Rule(
        "sed-i",
        "`sed -i` without a suffix",
        "BSD `sed` takes the next argument of `-i` as the backup suffix",
        "`sed -i.bak ... && rm FILE.bak`, or write to a new file",
        re.compile(_AT_COMMAND + r"sed" + _OPTS + r"\s+-[A-Za-z]*i(?=$|\s)"),
    ),
    Rule(
        "stat-c",
        "`stat -c`",
        "BSD `stat` formats with `-f`, and has no `-c`",
        "`wc -c < FILE` for a size, or `runbook` / `python3 -c`",
        re.compile(_AT_COMMAND + r"stat" + _OPTS + r"\s+-[A-Za-z]*c(?=$|\s)"),
    ),
    Rule(
        "grep-P",
        "`grep -P`",
        "BSD `grep` has no Perl regular expressions",
        "`grep -E`",
        re.compile(_AT_COMMAND + r"grep" + _OPTS + r"\s+-[A-Za-z]*P[A-Za-z]*(?=$|\s)"),
    ),
    *(
        Rule(
            f"tool-{tool}",
            f"`{tool}`",
            f"macOS has no `{tool}`",
            fix,
            _tool(tool),
        )
        for tool, fix in (
            (
                "timeout",
                "the command's own timeout option (`PGCONNECT_TIMEOUT`, `--cli-read-timeout`)",
            ),
            ("nproc", "`getconf _NPROCESSORS_ONLN`"),
            ("numfmt", "`runbook` output, or `python3 -c`"),
            ("tac", "`sort -r` when the lines sort, or `python3 -c`"),
            ("sha256sum", "`shasum -a 256`"),
        )
    ),
    Rule(
        "read-p",
        "`read -p` (`read -r -p`, `read -rs -p`)",
        "zsh's `read -p` reads from a coprocess: `read: -p: no coprocess`",
        "`printf 'PROMPT: ' && read -r NAME` (`read -rs` for a secret, then `echo`)",
        re.compile(_AT_COMMAND + r"read" + r"(?:\s+-[A-Za-z]+)*?\s+-[A-Za-z]*p[A-Za-z]*(?=$|\s)"),
    ),
    Rule(
        "tar-message",
        "a transcript showing only GNU tar's `tar: Unexpected EOF` (or only bsdtar's "
        "`Truncated input file`)",
        "GNU tar (Linux) exits 2 with `Unexpected EOF in archive`, bsdtar (macOS) exits 1 with "
        "`Truncated input file (needed N bytes, only M available)`",
        "do not depend on the message (print your own when `tar` fails) and name both in the prose",
    ),
)
_BY_NAME = {rule.name: rule for rule in RULES}
_TAR_GNU = re.compile(r"tar: Unexpected EOF")
_TAR_BSD = re.compile(r"Truncated input file")
_HEREDOC = re.compile(r"<<-?\s*(['\"]?)(?P<tag>[A-Za-z_][A-Za-z0-9_]*)\1")
_WORD_BREAK = frozenset(" \t;&|()<>")


@dataclass(frozen=True)
class Problem:
    line: int  # 1-based .md line
    rule: Rule
    text: str


def split_comment(line: str, quote: str = "") -> tuple[str, str | None, str]:
    """``(code, comment, open_quote)``: ``line`` cut at a ``#`` that starts a shell word outside
    quotes (not ``${#x}``, ``$#``, ``a#b`` or a URL's ``#``); ``quote`` is the quote still open
    from the line before, ``open_quote`` the one open at the end."""
    i = 0
    while i < len(line):
        ch = line[i]
        if quote == "'":
            if ch == "'":
                quote = ""
        elif ch == "\\":
            i += 1
        elif quote == '"':
            if ch == '"':
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in _WORD_BREAK):
            return line[:i], line[i:], quote
        i += 1
    return line, None, quote


def _command_lines(fence: Fence) -> Iterator[tuple[int, str]]:
    """(.md line, text) of every line a reader pastes as a command: a console block's ``$ `` /
    ``> `` lines, every line of a shell block; heredoc bodies left out."""
    tag: str | None = None
    for offset, raw in enumerate(fence.source.split("\n")):
        line = raw
        if fence.lang == "console":
            if not (raw.startswith("$ ") or raw.startswith("> ")):
                continue
            line = raw[2:]
        if tag is not None:
            if line.strip() == tag:
                tag = None
            continue
        yield fence.first_code_line + offset, line
        if match := _HEREDOC.search(split_comment(line)[0]):
            tag = match["tag"]


def lint_fence(fence: Fence) -> list[Problem]:
    """The problems of one block (none for hidden blocks and other languages)."""
    if fence.hidden or fence.lang not in LINTED_LANGS:
        return []
    problems: list[Problem] = []
    quote = ""
    for number, line in _command_lines(fence):
        start_quote = quote
        code, comment, quote = split_comment(line, quote)
        if comment is not None:
            kind = "trailing-comment" if start_quote or code.strip() else "comment-line"
            problems.append(Problem(number, _BY_NAME[kind], line))
        for rule in RULES:
            if rule.pattern is not None and rule.pattern.search(code):
                problems.append(Problem(number, rule, line))
    if fence.lang == "console":
        problems += _tar_messages(fence)
    return problems


def _tar_messages(fence: Fence) -> list[Problem]:
    lines = fence.source.split("\n")
    gnu = [i for i, ln in enumerate(lines) if _TAR_GNU.search(ln) and not ln.startswith("$ ")]
    bsd = [i for i, ln in enumerate(lines) if _TAR_BSD.search(ln) and not ln.startswith("$ ")]
    if bool(gnu) == bool(bsd):
        return []
    i = (gnu or bsd)[0]
    return [Problem(fence.first_code_line + i, _BY_NAME["tar-message"], lines[i])]


def lint_fences(fences: Iterable[Fence]) -> list[Problem]:
    return [problem for fence in fences for problem in lint_fence(fence)]


def rules_markdown() -> str:
    """The rules as the table of docs/testing.md (between ``BEGIN`` and ``END``)."""
    rows = ["| refused | why | instead |", "|---|---|---|"]
    rows += [f"| {r.shows} | {r.why} | {r.fix} |" for r in RULES]
    return "\n".join(rows)


def with_rules(page_text: str) -> str:
    """``page_text`` with the section between the markers rewritten from ``RULES``."""
    return replace_section(page_text, BEGIN, END, rules_markdown())


class CommandLintError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} command lint problem(s)")
        self.problems = problems


class CommandLintItem(pytest.Item):
    """``docs/PAGE::lint``, collected for a page whose visible commands break a rule: it fails
    with every problem at its .md line."""

    def __init__(self, *, problems: list[Problem], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.problems = problems

    def runtest(self) -> None:
        raise CommandLintError(self.problems)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if not isinstance(excinfo.value, CommandLintError):
            return str(super().repr_failure(excinfo))
        page = self.nodeid.split("::")[0]
        lines = [
            f"{page}:{p.line}: {p.text.strip()}\n  {p.rule.why}; {p.rule.fix}"
            for p in self.problems
        ]
        return "\n".join([*lines, "(the rules: docs/testing.md, What the command lint refuses)"])

    def reportinfo(self) -> tuple[Path, int, str]:
        line = self.problems[0].line
        return self.path, line - 1, f"{self.nodeid.split('::')[0]}:{line}: command lint"


def main(argv: list[str]) -> int:
    """``python -m runbook_docs.command_lint docs/testing.md``: rewrite the page's rules table."""
    return rewrite_pages(argv, with_rules)


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
