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

import ast
from pathlib import Path

import pytest

import runbook_helpers
from runbook_helpers import errors
from tests.support.hint_options import runbook_options, unknown_options

ROOT = Path(runbook_helpers.__file__).parent
ERROR_CLASSES = {
    name
    for name, value in vars(errors).items()
    if isinstance(value, type) and issubclass(value, errors.RunbookError)
} | {"Truncated"}


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


# Modules whose name does not start with the command they serve.
SERVES = {"restore_history": "restore-test", "restore_summary": "restore-test"}
# Packages all of whose modules serve one command.
PACKAGE_SERVES = {"restore": "restore"}


def module_command(where: str, options: dict[str, set[str]]) -> str | None:
    """The command a module serves (``restore/stream.py`` -> ``restore``,
    ``checks/restore_test.py`` -> ``restore-test``); None when shared."""
    path = Path(where.split(":")[0])
    stem = path.stem
    package = PACKAGE_SERVES.get(path.parent.name)
    for command in (package, SERVES.get(stem), stem.replace("_", "-"), stem.split("_")[0]):
        if command in options:
            return command
    return None


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
    assert module_command("runbook_helpers/restore/stream.py:3", options) == "restore"
    assert module_command("runbook_helpers/cli/verify.py:3", options) == "verify"
    assert module_command("runbook_helpers/r2/storage.py:3", options) is None


@pytest.mark.parametrize(("where", "text"), hint_texts(), ids=lambda v: str(v)[:60])
def test_hint_names_only_real_options(where: str, text: str) -> None:
    options = runbook_options()
    assert unknown_options(text, options, module_command(where, options)) == [], f"{where}: {text}"
