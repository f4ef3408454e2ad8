"""Find a page's code fences (markdown-it tokens, never regexes over Markdown) and directives.

A directive is an HTML comment that is the block-level element right before a fence (blank
lines between them are allowed, nothing else is)::

    <!-- runbook: skip reason="needs the Railway dashboard" -->
    <!-- runbook: timeout=300 -->

Keys: ``skip`` (needs a non-empty ``reason="..."``), ``timeout=SECONDS``. A directive that is
not followed by a fence, an unknown key or a skip without a reason is a ``PageError``.

Hidden test-only blocks live inside a comment, so mkdocs never renders them; they may carry
the same keys on their first line and run in page order like any other block::

    <!-- runbook: hidden
    ```bash
    createdb scratch
    ```
    -->

(The hidden code must not contain ``-->``.) Indented code blocks (e.g. an admonition body
after a blank line) are parsed again, so fences inside them count too. A line that looks like
a fence but is not parsed as one (e.g. inside an admonition paragraph) is a ``PageError``,
so no block escapes the ledger.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from markdown_it import MarkdownIt
from markdown_it.token import Token

SHELL_LANGS = frozenset({"bash", "sh", "shell"})
PYTHON_LANGS = frozenset({"python", "py", "python3"})
RUNNABLE_LANGS = SHELL_LANGS | PYTHON_LANGS | {"console", "sql"}  # = registry.EVALUATORS

_DIRECTIVE = re.compile(r"\A<!--\s*runbook:(?P<body>.*?)-->\s*\Z", re.DOTALL)
_HIDDEN = re.compile(
    r"\A<!--\s*runbook:(?P<head>[^\n]*\bhidden\b[^\n]*)\n(?P<inner>.*)-->\s*\Z", re.DOTALL
)
_FENCE_LIKE = re.compile(r"^\s*(?:>\s*)*(```|~~~)")


class PageError(Exception):
    """A page cannot be collected; the message names file:line and how to fix it."""


@dataclass(frozen=True)
class Directive:
    """Options for one fence, from the comment before it."""

    skip_reason: str | None = None
    timeout: float | None = None


@dataclass(frozen=True)
class Fence:
    """One fenced code block: ``line`` is the 1-based line of the opening fence."""

    path: Path
    line: int
    end_line: int  # 1-based line of the closing fence (or last line of the page)
    lang: str
    source: str
    directive: Directive = field(default_factory=Directive)
    hidden: bool = False
    info: str = ""  # the whole info string (language and options)
    markup: str = "```"  # the opening fence's backticks or tildes

    @property
    def runnable(self) -> bool:
        return self.lang in RUNNABLE_LANGS

    @property
    def first_code_line(self) -> int:
        return self.line + 1


def language(info: str) -> str:
    """The fence's language: the first word of the info string, or the ``{.lang}`` class."""
    info = info.strip()
    if info.startswith("{"):
        classes = [w[1:] for w in info.strip("{}").split() if w.startswith(".")]
        return classes[0].lower() if classes else ""
    return info.split()[0].lower() if info else ""


def parse_directive(body: str, where: str) -> tuple[Directive, bool]:
    """Parse ``key=value`` words after ``runbook:``; return the directive and the hidden flag."""
    try:
        words = shlex.split(body)
    except ValueError as exc:
        raise PageError(f"{where}: cannot parse runbook directive {body.strip()!r}: {exc}") from exc
    skip = hidden = False
    reason: str | None = None
    timeout: float | None = None
    for word in words:
        key, has_value, value = word.partition("=")
        if key == "skip" and not has_value:
            skip = True
        elif key == "hidden" and not has_value:
            hidden = True
        elif key == "reason" and has_value:
            reason = value.strip()
        elif key == "timeout" and has_value:
            try:
                timeout = float(value)
            except ValueError:
                timeout = -1.0
            if timeout <= 0:
                raise PageError(
                    f"{where}: timeout must be a positive number of seconds, got {value!r}"
                )
        else:
            raise PageError(
                f"{where}: unknown runbook directive {word!r}; known: skip "
                'reason="...", timeout=SECONDS, hidden'
            )
    if skip and not reason:
        raise PageError(
            f'{where}: "runbook: skip" needs a reason, e.g. '
            '<!-- runbook: skip reason="needs the Railway dashboard" -->'
        )
    if reason is not None and not skip:
        raise PageError(f"{where}: reason= is only meaningful with skip")
    return Directive(skip_reason=reason if skip else None, timeout=timeout), hidden


class _Parser:
    def __init__(self, path: Path, display: str) -> None:
        self.path = path
        self.display = display
        self.md = MarkdownIt("commonmark")
        self.fences: list[Fence] = []
        self.covered: set[int] = set()  # 0-based lines inside fences, comments, code blocks

    def where(self, line0: int) -> str:
        return f"{self.display}:{line0 + 1}"

    def walk(self, text: str, offset: int, hidden: bool, inherited: Directive | None) -> None:
        pending: tuple[Directive, int] | None = None
        for token in self.md.parse(text):
            if not token.map or token.nesting == -1 or token.type == "inline":
                continue
            start, end = token.map[0] + offset, token.map[1] + offset
            if token.type == "fence":
                self.covered.update(range(start, end))
                directive = pending[0] if pending else (inherited or Directive())
                pending = None
                self.add_fence(token, start, end, directive, hidden)
                continue
            if pending is not None and not _is_container(token):
                raise PageError(
                    f"{self.where(pending[1])}: runbook directive is not followed by "
                    "a code fence (for hidden blocks put keys on the hidden line)"
                )
            if token.type == "html_block":
                self.covered.update(range(start, end))
            if token.type == "html_block" and "runbook:" in token.content:
                hidden_match = _HIDDEN.match(token.content.strip())
                if hidden_match:
                    directive, _ = parse_directive(hidden_match["head"], self.where(start))
                    self.walk(hidden_match["inner"], start + 1, True, directive)
                    continue
                match = _DIRECTIVE.match(token.content.strip())
                if not match:
                    raise PageError(
                        f"{self.where(start)}: malformed runbook comment; write "
                        "<!-- runbook: KEY=VALUE ... --> on its own"
                    )
                directive, is_hidden = parse_directive(match["body"], self.where(start))
                if is_hidden:
                    raise PageError(
                        f"{self.where(start)}: a hidden block needs its fence inside "
                        "the comment (<!-- runbook: hidden, fence, -->)"
                    )
                pending = (directive, start)
            elif token.type == "code_block":
                self.covered.update(range(start, end))
                self.walk(_dedent4(token.content), start, hidden, None)
        if pending is not None:
            raise PageError(
                f"{self.where(pending[1])}: runbook directive is not followed by a code fence"
            )

    def add_fence(
        self, token: Token, start: int, end: int, directive: Directive, hidden: bool
    ) -> None:
        self.fences.append(
            Fence(
                path=self.path,
                line=start + 1,
                end_line=end,
                lang=language(token.info),
                source=token.content,
                directive=directive,
                hidden=hidden,
                info=token.info.strip(),
                markup=token.markup,
            )
        )


def _is_container(token: Token) -> bool:
    return token.type in {
        "bullet_list_open",
        "ordered_list_open",
        "list_item_open",
        "blockquote_open",
    }


def _dedent4(text: str) -> str:
    return "\n".join(
        line[4:] if line.startswith("    ") else line.lstrip(" ") for line in text.split("\n")
    )


def parse_page(path: Path, text: str, display: str | None = None) -> list[Fence]:
    """Return the page's fences in page order; raise ``PageError`` for bad directives."""
    parser = _Parser(path, display or str(path))
    parser.walk(text, 0, False, None)
    for number, line in enumerate(text.splitlines()):
        if number not in parser.covered and _FENCE_LIKE.match(line):
            raise PageError(
                f"{parser.where(number)}: this looks like a code fence but Markdown "
                "does not parse it as one (inside an admonition? leave a blank line "
                "after the '!!!' line); it would escape the docs tests"
            )
    return sorted(parser.fences, key=lambda f: f.line)
