"""The pytest-markdown-docs internals the engine builds on (``items.PythonFenceItem``).

The engine reaches past the plugin's public hooks: it builds ``FenceTestDefinition``s itself and
subclasses ``MarkdownInlinePythonItem``. Those are not a public API, so the version is pinned
(``==0.9.2`` in pyproject.toml) and this test fails loudly, naming what changed, on any other.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest_markdown_docs.hooks
from _pytest.capture import CaptureManager
from pytest_markdown_docs.definitions import FenceTestDefinition
from pytest_markdown_docs.plugin import MarkdownInlinePythonItem

PINNED = "0.9.2"
CHANGED = (
    "pytest-markdown-docs internals changed ({what}); runbook_docs/items.py (PythonFenceItem) "
    f"relies on them: adapt it, then update the pin (== {PINNED}) and this test"
)


def test_installed_version_is_the_pinned_one() -> None:
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    pins = [
        d
        for d in pyproject["project"]["optional-dependencies"]["test"]
        if d.startswith("pytest-markdown-docs")
    ]
    assert pins == [f"pytest-markdown-docs=={PINNED}"], "pin it exactly: its internals are used"
    assert version("pytest-markdown-docs") == PINNED, CHANGED.format(what="another version")


def test_fence_test_definition_fields() -> None:
    fields = {f.name: f for f in dataclasses.fields(FenceTestDefinition)}
    used = {"source", "fixture_names", "start_line", "source_path", "runner_name"}
    assert used <= set(fields), CHANGED.format(what=f"FenceTestDefinition fields: {sorted(fields)}")
    required = {
        n
        for n, f in fields.items()
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    assert required <= used, CHANGED.format(what=f"new required fields {sorted(required - used)}")


def test_inline_python_item_constructor_and_methods() -> None:
    params = inspect.signature(MarkdownInlinePythonItem.__init__).parameters
    assert "test_definition" in params, CHANGED.format(what=f"item __init__{list(params)}")
    for method in ("setup", "runtest", "repr_failure", "reportinfo"):
        assert method in vars(MarkdownInlinePythonItem), CHANGED.format(what=f"no {method}()")
    # runtest switches pytest's capture off through this CaptureManager method (see _captured)
    source = inspect.getsource(MarkdownInlinePythonItem)
    assert re.search(r"global_and_fixture_disabled", source), CHANGED.format(
        what="runtest no longer uses capman.global_and_fixture_disabled"
    )
    assert hasattr(CaptureManager, "global_and_fixture_disabled")


def test_globals_hookspec_exists() -> None:
    assert hasattr(pytest_markdown_docs.hooks, "pytest_markdown_docs_globals"), CHANGED.format(
        what="no pytest_markdown_docs_globals hookspec"
    )
