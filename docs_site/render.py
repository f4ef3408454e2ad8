"""Rewrite one page's Markdown for the site from what the docs tests recorded.

Per fenced block: console transcripts show the recorded output of the last run instead of the
test expectation (no ``[..]``, ``...`` or ``? N``), and every block carries data attributes
(``{.lang data-rb-...}``, rendered on the block's ``div.highlight`` by superfences + attr_list):
the status and a one-line label ("tested", "not tested here: REASON"), and ``data-rb-copy``,
the exact command text the suite executed (what the copy button copies). Refusal
demonstrations (every step expects a non-zero exit) become labelled examples without a copy.
The Markdown source keeps its wildcards: only the published page changes.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from docs_site.ledger import Block, Record
from runbook_docs.transcript import Step, TranscriptError, parse_transcript

_FENCE_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<ticks>`{3,}|~{3,})\s*(?P<info>[^`]*)$")
_PLACEHOLDER = re.compile(r"\[(?P<name>[A-Z][A-Z0-9_]*)\]")
_SHELL = frozenset({"bash", "sh", "shell"})
RUNNABLE = _SHELL | {"console", "sql", "python", "py", "python3"}
ELLIPSIS = "…"

# What a reader sees in place of a test environment's value ([NAME] in a transcript, or the
# sandbox's own value in a recorded output): the production value, or a stable stand-in.
SHOWN_AS = {
    "BUCKET": "vlvt-backups",
    "ENDPOINT": "https://<ACCOUNT_ID>.r2.cloudflarestorage.com",
    "PGHOST": "<PGHOST>",
    "PGPORT": "5432",
    "REDACTED": "[REDACTED]",
}
# Sandbox values (recorded by docs_site.runinfo) that vary from run to run, as shown instead.
_GENERIC = [(re.compile(r"http://(?:127\.0\.0\.1|localhost):\d+"), SHOWN_AS["ENDPOINT"])]


def _sandbox_patterns(sandbox: Mapping[str, str]) -> list[tuple[re.Pattern[str], str]]:
    found: list[tuple[re.Pattern[str], str]] = []
    if sandbox.get("TMP"):
        tmp = re.escape(sandbox["TMP"])
        found += [
            (re.compile(tmp + r"/page-[^/\s]+/home"), "~"),
            (re.compile(tmp + r"/page-[^/\s]+/work"), "~/work"),
            (re.compile(tmp + r"[^\s'\"]*"), "/tmp/…"),
        ]
    if sandbox.get("ENDPOINT"):
        found.append((re.compile(re.escape(sandbox["ENDPOINT"])), SHOWN_AS["ENDPOINT"]))
    if sandbox.get("PGPORT"):
        port = re.escape(sandbox["PGPORT"])
        found.append((re.compile(rf"(?<=port )\b{port}\b|(?<=:){port}\b"), SHOWN_AS["PGPORT"]))
    return found + _GENERIC


@dataclass(frozen=True)
class Fence:
    """A fenced block of the page: 0-based line indexes of its opening and closing fence."""

    start: int
    end: int
    indent: str
    ticks: str
    info: str
    body: list[str]  # dedented content lines

    @property
    def lang(self) -> str:
        info = self.info.strip()
        if info.startswith("{"):
            classes = [w[1:] for w in info.strip("{}").split() if w.startswith(".")]
            return classes[0].lower() if classes else ""
        return info.split()[0].lower() if info else ""


def fences(lines: list[str]) -> Iterator[Fence]:
    """Fenced blocks outside HTML comments (hidden test blocks are never rendered)."""
    i, in_comment = 0, False
    while i < len(lines):
        line = lines[i]
        if in_comment:
            in_comment = "-->" not in line
            i += 1
            continue
        if "<!--" in line and "-->" not in line.split("<!--", 1)[1]:
            in_comment = True
            i += 1
            continue
        match = _FENCE_OPEN.match(line)
        if not match:
            i += 1
            continue
        indent, ticks = match["indent"], match["ticks"]
        close = re.compile(rf"^{re.escape(indent)}{re.escape(ticks[0])}{{{len(ticks)},}}\s*$")
        j = i + 1
        while j < len(lines) and not close.match(lines[j]):
            j += 1
        inner = lines[i + 1 : j]
        body = [ln[len(indent) :] if ln.startswith(indent) else ln.lstrip() for ln in inner]
        yield Fence(i, j, indent, ticks, match["info"].strip(), body)
        i = j + 1


def stabilize(text: str, sandbox: Mapping[str, str] | None = None) -> str:
    """Recorded output as shown: sandbox values replaced by stable, reader-facing ones."""
    for pattern, shown in _sandbox_patterns(sandbox or {}):
        text = pattern.sub(shown, text)
    return _PLACEHOLDER.sub(lambda m: SHOWN_AS.get(m["name"], m[0]), text)


def _unwildcard(line: str) -> str:
    """An expected-output line shown without test syntax (for blocks with no recording)."""
    if line.strip() == "...":
        return ELLIPSIS
    return stabilize(line.replace("[..]", ELLIPSIS))


def _command_lines(command: str) -> list[str]:
    first, *rest = command.split("\n")
    return [f"$ {first}", *(f"> {line}" for line in rest)]


def transcript_lines(
    steps: list[Step], block: Block | None, sandbox: Mapping[str, str] | None = None
) -> list[str]:
    """The transcript as published: commands, then the recorded output (else the expectation)."""
    recorded = block is not None and block.executed and len(block.outputs) == len(steps)
    out: list[str] = []
    for i, step in enumerate(steps):
        out += _command_lines(step.command)
        if recorded and block is not None:
            text = stabilize(block.outputs[i], sandbox).rstrip("\n")
            out += text.split("\n") if text else []
        else:
            out += [_unwildcard(line) for line in step.expected_output]
    return out


def is_refusal(steps: list[Step]) -> bool:
    """Every step expects a non-zero exit: a demonstration of what is refused, not a recipe."""
    return bool(steps) and all(s.expected_status != 0 for s in steps)


def label(block: Block | None, have_ledger: bool) -> tuple[str, str]:
    """(status, label) of a runnable block: tested, failed, skipped, not-run or unverified."""
    if block is None or not have_ledger:
        return "unverified", "not verified: this site was built without a test run"
    if block.status == "passed":
        how = " (exit status only)" if block.checked == "status" else ""
        return "tested", f"tested{how}"
    if block.status == "failed":
        return "failed", "FAILED in the last test run"
    if block.status == "skipped":
        return "skipped", f"not tested here: {block.reason}"
    if block.status == "blocked":
        return "not-run", f"not tested in the last run: {block.reason}"
    return "not-run", "not run in the last test run"


def _attr(value: str) -> str:
    return '"' + html.escape(value, quote=True).replace("\n", "&#10;") + '"'


def copy_text(fence: Fence, steps: list[Step] | None, block: Block | None) -> str:
    """What the copy button copies: the executed commands, else the commands of the source."""
    if block is not None and block.commands:  # the engine's own parse; executed unless skipped
        return "\n".join(block.commands)
    if steps is not None:
        return "\n".join(s.command for s in steps)
    return "\n".join(fence.body).rstrip("\n")


def rewrite_fence(fence: Fence, file: str, line: int, record: Record) -> list[str]:
    """The fence as published (same indent; info string with data attributes)."""
    lang = fence.lang
    if lang not in RUNNABLE:
        return [
            fence.indent + fence.ticks + fence.info,
            *_indent(fence.body, fence.indent),
            fence.indent + fence.ticks,
        ]
    block = record.blocks.get((file, line))
    steps: list[Step] | None = None
    body = fence.body
    if lang == "console":
        try:
            steps = parse_transcript("\n".join(body), line + 1)
        except TranscriptError:
            steps = None
        else:
            body = transcript_lines(steps, block, record.run.get("sandbox"))
    status, text = label(block, record.present)
    attrs = [
        f".{lang}",
        ".rb-block",
        f"data-rb-file={_attr(file)}",
        f'data-rb-line="{line}"',
        f'data-rb-status="{status}"',
    ]
    if steps is not None and is_refusal(steps):
        codes = sorted({str(s.expected_status) for s in steps})
        text = f"example of a refusal (exit {', '.join(codes)}), {text}"
        attrs.append(".rb-example")
    else:
        attrs.append(f"data-rb-copy={_attr(copy_text(fence, steps, block))}")
    attrs.append(f"data-rb-label={_attr(text)}")
    head = fence.indent + fence.ticks + "{" + " ".join(attrs) + "}"
    return [head, *_indent(body, fence.indent), fence.indent + fence.ticks]


def _indent(body: list[str], indent: str) -> list[str]:
    return [indent + ln if ln else ln for ln in body]
