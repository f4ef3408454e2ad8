"""ARCHITECTURE.md's code map names every module, each with its job, and no module that is gone.

The map has one ``### `dir/` `` heading per package and one ``- `module.py`: job`` line per
module under it. Every other ``something.py`` the document names must be a real file.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAPPED = ("runbook_helpers", "runbook_docs", "docs_site", "tests/fixtures", "tests/support")

_HEADING = re.compile(r"^### `([\w/]+)/`")
_ENTRY = re.compile(r"^- `([\w/]+\.py)`: (.*)")
_NAMED = re.compile(r"`([\w./]+\.py)\b")


def code_map(text: str) -> tuple[dict[str, str], set[str], list[str]]:
    """The map's modules (path -> job), its package headings, and its malformed lines."""
    before, after = text.split("\n## Code map\n", 1)
    section, first = after.split("\n## ", 1)[0], before.count("\n") + 3
    entries: dict[str, str] = {}
    packages: set[str] = set()
    problems: list[str] = []
    package: str | None = None
    for number, line in enumerate(section.splitlines(), first):
        if heading := _HEADING.match(line):
            package = heading.group(1)
            packages.add(package)
        elif entry := _ENTRY.match(line):
            path = f"{package}/{entry.group(1)}"
            if package is None:
                problems.append(f"ARCHITECTURE.md line {number}: a module before any heading")
            elif path in entries:
                problems.append(f"ARCHITECTURE.md line {number}: {path} listed twice")
            elif not entry.group(2).strip():
                problems.append(f"ARCHITECTURE.md line {number}: {path} has no job")
            entries[path] = entry.group(2)
    return entries, packages, problems


def modules(root: Path) -> list[str]:
    """Every module of the mapped packages, as a path relative to ``root``."""
    found = []
    for top in MAPPED:
        found += [p.relative_to(root).as_posix() for p in (root / top).rglob("*.py")]
    return sorted(f for f in found if "__pycache__" not in f)


def map_problems(text: str, files: list[str], every_file: list[str]) -> list[str]:
    """What is wrong with the document's map, given the mapped modules and all .py files."""
    entries, packages, problems = code_map(text)
    for path in files:
        package, name = path.rsplit("/", 1)
        if name == "__init__.py":
            if package not in packages:
                problems.append(f"package {package}/ has no heading in the code map")
        elif path not in entries:
            problems.append(f"{path} is missing from the code map")
    for path in entries:
        if path not in files:
            problems.append(f"the code map names {path}, which does not exist")
    for package in packages:
        if f"{package}/__init__.py" not in files and not any(
            f.startswith(f"{package}/") for f in every_file
        ):
            problems.append(f"the code map has a heading for {package}/, which does not exist")
    for named in sorted(set(_NAMED.findall(text))):
        if not any(f == named or f.endswith(f"/{named}") for f in every_file):
            problems.append(f"ARCHITECTURE.md names {named}, which does not exist")
    return problems


def _all_py(root: Path) -> list[str]:
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*.py")
        if not {".git", ".nox", "build", "__pycache__"} & set(p.relative_to(root).parts)
    )


def test_every_module_is_in_the_code_map_with_its_job() -> None:
    text = (ROOT / "ARCHITECTURE.md").read_text()
    assert map_problems(text, modules(ROOT), _all_py(ROOT)) == []


def test_the_check_catches_a_missing_and_a_stale_module() -> None:
    text = (ROOT / "ARCHITECTURE.md").read_text()
    new = "runbook_helpers/r2/new_thing.py"
    files = [*modules(ROOT), new]
    stale = text.replace("- `storage.py`:", "- `storage_old.py`:", 1)
    stale = stale.replace("`archive/stream.py`", "`archive_stream.py`", 1)
    problems = map_problems(stale, files, [*_all_py(ROOT), new])
    assert "runbook_helpers/r2/new_thing.py is missing from the code map" in problems
    assert "runbook_helpers/r2/storage.py is missing from the code map" in problems
    assert "the code map names runbook_helpers/r2/storage_old.py, which does not exist" in problems
    assert "ARCHITECTURE.md names archive_stream.py, which does not exist" in problems


def test_a_module_line_without_its_job_is_refused() -> None:
    text = "# A\n\n## Code map\n\n### `pkg/`: p\n\n- `a.py`: \n\n## Next\n"
    assert code_map(text)[2] == ["ARCHITECTURE.md line 7: pkg/a.py has no job"]
