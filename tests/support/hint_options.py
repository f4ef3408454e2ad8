"""Which ``--options`` a hint may name: those of the real ``runbook`` argparse parsers.

An option inside `` `runbook COMMAND ...` `` must belong to that command; one right after
another program's name (``aws``, ``pg_dump``, ...) belongs to that program; any other must
belong to the given command (and its sub-commands), or with none given to some command.
"""

from __future__ import annotations

import argparse
import re

from runbook_helpers.cli import build_parser

OTHER_PROGRAMS = r"(?:aws(?: \w+)?|pg_dump|pg_restore|psql|gzip|createdb|dropdb|brew|apt-get)"
_AFTER_PROGRAM = re.compile(OTHER_PROGRAMS + r"(?:\s+--[\w-]+(?:[= ]\S+)?)+")
_OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def runbook_options() -> dict[str, set[str]]:
    """Option strings of every (sub-)command, keyed ``"restore"``, ``"backups list"``, ``""``."""
    found: dict[str, set[str]] = {}

    def walk(parser: argparse.ArgumentParser, path: str) -> None:
        found[path] = set()
        for action in parser._actions:
            found[path].update(s for s in action.option_strings if s.startswith("--"))
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, f"{path} {name}".strip())

    walk(build_parser(), "")
    return found


def unknown_options(
    text: str, options: dict[str, set[str]], command: str | None = None
) -> list[str]:
    """The ``--options`` in ``text`` that no matching ``runbook`` parser defines."""
    if command:  # the command and its sub-commands (``backups`` -> ``backups list``, ...)
        every = set().union(
            *(v for k, v in options.items() if k in ("", command) or k.startswith(command + " "))
        )
    else:
        every = set().union(*options.values())
    bad: list[str] = []
    for i, part in enumerate(text.split("`")):
        inside = i % 2 == 1
        if inside and part.startswith("runbook"):
            words = part.split()
            command = " ".join(w for w in words[1:3] if not w.startswith("-") and w.isalpha())
            while command and command not in options:
                command = command.rsplit(" ", 1)[0] if " " in command else ""
            allowed = options.get(command, set()) | options[""]
            bad += [o for o in _OPTION.findall(part) if o not in allowed]
            continue
        if inside and re.match(OTHER_PROGRAMS + r"\b", part):
            continue
        bad += [o for o in _OPTION.findall(_AFTER_PROGRAM.sub("", part)) if o not in every]
    return bad


def command_of(argv: list[str]) -> str:
    """The (sub-)command path an argv runs: ``["backups", "list", ...]`` -> ``"backups list"``."""
    options = runbook_options()
    words = [w for w in argv[:2] if not w.startswith("-")]
    while words and " ".join(words) not in options:
        words.pop()
    return " ".join(words)
