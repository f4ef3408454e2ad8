"""Every ``--option`` a hint (or the exit-code table) tells the reader to use exists.

Hints are found in the source, not at run time, so a hint on a rare path is checked too:
string literals passed as ``hint=``/``*_hint=``, as the second argument of a RunbookError
class, or assigned to a name containing ``hint``/``HINTS``/``MEANINGS``. An option written
inside `` `runbook COMMAND ...` `` must belong to that command; one written after another
program (``aws``, ``pg_dump``, ...) belongs to that program; any other must belong to the
command of the module it is in (``restore.py``, ``cli/restore.py`` -> ``runbook restore``), or
for shared modules (storage, archive, ...) to some ``runbook`` command.
"""

from __future__ import annotations

import argparse
import ast
import re
from pathlib import Path

import pytest

import runbook_helpers
from runbook_helpers import errors
from runbook_helpers.cli import build_parser

ROOT = Path(runbook_helpers.__file__).parent
ERROR_CLASSES = {
    name
    for name, value in vars(errors).items()
    if isinstance(value, type) and issubclass(value, errors.RunbookError)
} | {"Truncated"}
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


def _text(node: ast.AST) -> str:
    """The literal text of a (possibly f-, possibly concatenated) string expression."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(_text(v) if isinstance(v, ast.Constant) else "{}" for v in node.values)
    if isinstance(node, ast.BinOp):
        return _text(node.left) + _text(node.right)
    if isinstance(node, ast.Dict):
        return "\n".join(_text(v) for v in node.values if v is not None)
    return "".join(_text(child) for child in ast.iter_child_nodes(node))


def _is_hint_name(name: str) -> bool:
    return "hint" in name.lower() or "MEANINGS" in name


def module_command(where: str, options: dict[str, set[str]]) -> str | None:
    """The command a module serves (``restore_stream.py`` -> ``restore``); None when shared."""
    stem = Path(where.split(":")[0]).stem.split("_")[0]
    return stem if stem in options else None


def hint_texts() -> list[tuple[str, str]]:
    """(``file:line``, text) of every hint literal in runbook_helpers (sandbox excluded)."""
    found: list[tuple[str, str]] = []
    for path in sorted(ROOT.rglob("*.py")):
        if "sandbox" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            where = f"{path.relative_to(ROOT.parent)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Call):
                for kw in node.keywords:
                    if kw.arg and _is_hint_name(kw.arg):
                        found.append((where, _text(kw.value)))
                name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                if name in ERROR_CLASSES and len(node.args) >= 2:
                    found.append((where, _text(node.args[1])))
            elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(_is_hint_name(getattr(t, "id", "")) for t in targets):
                    found.append((where, _text(node.value)))
    return [(where, text) for where, text in found if text]


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


def test_the_scan_finds_the_hints() -> None:
    texts = [t for _, t in hint_texts()]
    assert len(texts) > 40
    assert any("allow more time with {}=SECONDS" in t for t in texts)  # a module constant
    assert any("--subfolder" in t for t in texts)  # an assignment to ``hint``


def test_checker_catches_an_invented_option() -> None:
    options = runbook_options()
    assert unknown_options("pass --no-such-flag", options) == ["--no-such-flag"]
    assert unknown_options("run `runbook fetch --production`", options) == ["--production"]
    assert unknown_options("run `runbook restore --production`", options) == []
    assert unknown_options("run `aws configure --profile x` or pg_dump --format=tar", options) == []
    assert unknown_options("pass --production", options, "restore") == []
    assert unknown_options("pass --production", options, "fetch") == ["--production"]
    assert module_command("runbook_helpers/restore_stream.py:3", options) == "restore"
    assert module_command("runbook_helpers/cli/verify.py:3", options) == "verify"
    assert module_command("runbook_helpers/storage.py:3", options) is None


@pytest.mark.parametrize(("where", "text"), hint_texts(), ids=lambda v: str(v)[:60])
def test_hint_names_only_real_options(where: str, text: str) -> None:
    options = runbook_options()
    assert unknown_options(text, options, module_command(where, options)) == [], f"{where}: {text}"
