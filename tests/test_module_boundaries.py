"""No private name crosses a module boundary in the library or the engine.

``from runbook_helpers.x import _helper`` or ``x._helper(...)`` from another module means the
helper is part of an API without saying so: make it public (and small) instead.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("runbook_helpers", "runbook_docs")


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def crossings(source: str, where: str) -> list[str]:
    """Every private name ``source`` takes from another project module."""
    tree = ast.parse(source)
    modules: set[str] = set()  # local names bound to project modules
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            ("runbook_helpers", "tests.")
        ):
            for alias in node.names:
                if _private(alias.name):
                    found.append(f"{where}:{node.lineno}: {node.module}.{alias.name}")
                else:
                    modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("runbook_helpers") and alias.asname:
                    modules.add(alias.asname)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
            and _private(node.attr)
        ):
            found.append(f"{where}:{node.lineno}: {node.value.id}.{node.attr}")
    return found


def test_the_check_sees_both_forms() -> None:
    assert crossings("from runbook_helpers.checks.drill import _run\n", "x.py") == [
        "x.py:1: runbook_helpers.checks.drill._run"
    ]
    assert crossings("from runbook_helpers import drill\ndrill._Runner()\n", "x.py") == [
        "x.py:2: drill._Runner"
    ]
    assert crossings("from runbook_helpers.r2.errors import translate_errors as _t\n", "x") == []


def test_no_private_name_crosses_a_module() -> None:
    found: list[str] = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found += crossings(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert found == []


READER = "runbook_helpers/archive/stream.py"
DECODERS = {
    "zlib": {"decompressobj", "decompress"},
    "isal_zlib": {"decompressobj", "decompress"},
    "_inflate": {"decompressobj", "decompress"},
    "gzip": {"decompress", "open", "GzipFile"},
    "tarfile": {"open", "TarFile", "TarInfo"},
}


def decoders(source: str) -> list[int]:
    """Lines of ``source`` that decompress gzip or read tar themselves."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.attr in DECODERS.get(node.value.id, set())
    ]


def outside_the_reader(lines_of: Callable[[str], list[int]]) -> list[str]:
    """``path:line`` of every hit of ``lines_of`` in the library, archive_stream excepted."""
    return [
        f"{path.relative_to(ROOT)}:{line}"
        for path in sorted((ROOT / "runbook_helpers").rglob("*.py"))
        if str(path.relative_to(ROOT)) != READER
        for line in lines_of(path.read_text(encoding="utf-8"))
    ]


def test_one_gzip_and_tar_reader() -> None:
    """Every gzip decompression and tar walk of the library is archive_stream's."""
    assert decoders("import zlib\nzlib.compressobj(6)\nzlib.decompressobj(wbits=31)\n") == [3]
    assert outside_the_reader(decoders) == []
    assert decoders((ROOT / READER).read_text(encoding="utf-8"))  # the reader is still there


# Offsets of ustar header fields (size, checksum, typeflag, magic, prefix): slicing a block at
# these, or looking for the "ustar" magic, is parsing tar headers.
TAR_FIELDS = {(124, 136), (148, 156), (156, 157), (257, 262), (257, 263), (345, 500)}


def tar_header_parsing(source: str) -> list[int]:
    """Lines of ``source`` that parse tar headers themselves (field slices or the magic)."""
    lines: list[int] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Slice) and isinstance(node.lower, ast.Constant):
            upper = node.upper.value if isinstance(node.upper, ast.Constant) else None
            if (node.lower.value, upper) in TAR_FIELDS:
                lines.append(node.lineno)
        elif isinstance(node, ast.Constant) and isinstance(node.value, (bytes, str)):
            text = node.value if isinstance(node.value, str) else node.value.decode("latin-1")
            if text.startswith("ustar"):
                lines.append(node.lineno)
    return sorted(lines)


def test_one_tar_header_parser() -> None:
    """Every tar header of the library is parsed by archive_stream, nowhere else."""
    sample = 'size = int(block[124:136], 8)\nmagic = block[257:262] == b"ustar"\nx = data[0:12]\n'
    assert tar_header_parsing(sample) == [1, 2, 2]
    assert outside_the_reader(tar_header_parsing) == []
    assert tar_header_parsing((ROOT / READER).read_text(encoding="utf-8"))
