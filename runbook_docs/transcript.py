"""Parse a ``console`` transcript (trycmd style) into plain data before anything runs.

    $ pg_restore --list dump.pgdump | head -n 2
    ;
    ; Archive created at [..]
    $ false
    ? 1
    $ psql -c 'select 1/0'
    ? failed
    $ aws s3 ls s3://vlvt-backups/ --profile r2-vlvt-dev
    ? 254 or 255
    ...

``$ `` starts a command, ``> `` continues it, a ``? N`` (or ``? failed``: any non-zero) line
right after the command sets the expected exit status (default 0; ``? 254 or 255``: exactly one of
these, for a status that differs by tool version, as AWS CLI v2 / v1); the lines up to the next
``$ `` are the expected output (stdout and stderr merged).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal


class OneOf(tuple[int, ...]):
    """``? 254 or 255``: any one of these statuses (one tool's versions differ)."""

    def __str__(self) -> str:
        return " or ".join(str(s) for s in self)


ExpectedStatus = int | OneOf | Literal["failed"]

_STATUS = re.compile(r"^\? (?P<status>\d+(?: or \d+)+|\d+|failed)\s*$")


class TranscriptError(Exception):
    """The transcript is malformed; ``line`` is the 1-based .md line."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class Step:
    """One command of a transcript; line numbers are 1-based .md lines."""

    command: str
    expected_status: ExpectedStatus
    expected_output: tuple[str, ...]
    line: int  # the ``$ `` line
    status_line: int  # where a ``? N`` line is or would go (right after the command lines)
    output_start: int  # first expected-output line (== output_end when there is none)
    output_end: int  # one past the last non-blank expected-output line

    def status_ok(self, status: int) -> bool:
        if self.expected_status == "failed":
            return status != 0
        if isinstance(self.expected_status, OneOf):
            return status in self.expected_status
        return status == self.expected_status


def _is_command(line: str) -> bool:
    return line.startswith("$ ") or line.rstrip() == "$"


def parse_transcript(text: str, first_line: int) -> list[Step]:
    """Split ``text`` (a fence's content starting at .md line ``first_line``) into steps."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    steps: list[Step] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        if not _is_command(line):
            raise TranscriptError(first_line + i, f"expected a '$ ' command, got {line!r}")
        start = i
        command = [line[2:]]
        i += 1
        while i < len(lines) and (lines[i].startswith("> ") or lines[i].rstrip() == ">"):
            command.append(lines[i][2:])
            i += 1
        if not "\n".join(command).strip():
            raise TranscriptError(first_line + start, "empty '$ ' command")
        status_at = i
        status: ExpectedStatus = 0
        if i < len(lines) and (match := _STATUS.match(lines[i])):
            value = match["status"]
            if value == "failed":
                status = "failed"
            elif " or " in value:
                status = OneOf(int(v) for v in value.split(" or "))
            else:
                status = int(value)
            i += 1
        out_start = i
        while i < len(lines) and not _is_command(lines[i]):
            i += 1
        output = [ln.rstrip() for ln in lines[out_start:i]]
        while output and not output[-1]:
            output.pop()
        steps.append(
            Step(
                command="\n".join(command),
                expected_status=status,
                expected_output=tuple(output),
                line=first_line + start,
                status_line=first_line + status_at,
                output_start=first_line + out_start,
                output_end=first_line + out_start + len(output),
            )
        )
    return steps
