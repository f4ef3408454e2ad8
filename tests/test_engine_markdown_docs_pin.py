"""pytest-markdown-docs as the engine uses it (``runbook_docs/python_fence.py``, and only there).

The engine hands each python fence to the package's collector (``extract_fence_tests``) and its
default runner, in the page's environment; ARCHITECTURE.md says why its own items are not used.
Those functions are not its documented interface, so the version is pinned (``==0.9.2`` in
pyproject.toml) and these tests fail loudly, naming what changed, when its behaviour does.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest
from _pytest.capture import CaptureManager
from pytest_markdown_docs.definitions import FenceTestDefinition
from pytest_markdown_docs.plugin import MarkdownInlinePythonItem

from runbook_docs import python_fence
from runbook_docs.blocks import Fence, PageError, parse_page
from runbook_docs.registry import parse_fences
from runbook_docs.runner import Context
from runbook_docs.shell import PageShell

pytest_plugins = ["pytester"]

PINNED = "0.9.2"
CHANGED = (
    "pytest-markdown-docs changed ({what}); runbook_docs/python_fence.py relies on it: "
    f"adapt it, then update the pin (== {PINNED}) and this test"
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
    fields = {f.name for f in dataclasses.fields(FenceTestDefinition)}
    used = {"source", "fixture_names", "start_line", "source_path", "runner_name", "max_retries"}
    assert used <= fields, CHANGED.format(what=f"FenceTestDefinition fields: {sorted(fields)}")


def _fence(tmp_path: Path, text: str, number: int = 0) -> Fence:
    path = tmp_path / "page.md"
    path.write_text(text)
    return parse_page(path, text)[number]


PAGE = "# Title\n\nSome prose.\n\n```python\nx = 1\nassert x == 1\n```\n"


def test_its_collector_keeps_the_page_line_numbers(tmp_path: Path) -> None:
    test = python_fence.definition(_fence(tmp_path, PAGE))
    assert test.start_line == 5, CHANGED.format(what=f"start_line {test.start_line}, not 5")
    lines = test.source.split("\n")
    assert lines[5:7] == ["x = 1", "assert x == 1"], CHANGED.format(
        what="fence code no longer padded to its .md lines"
    )
    assert (test.fixture_names, test.runner_name, test.max_retries) == ((), None, 0)
    assert test.source_path == tmp_path / "page.md"


def test_its_collector_reads_superfences_and_retry_options(tmp_path: Path) -> None:
    text = "```{.python retry:2}\nprint(1)\n```\n"
    test = python_fence.definition(_fence(tmp_path, text))
    assert test.max_retries == 2, CHANGED.format(what="retry:N not read from a {.python} fence")


@pytest.mark.parametrize(
    ("info", "message"),
    [
        ("python notest", "'notest': skip it with <!-- runbook: skip"),
        ("python continuation", "'continuation': a python block starts fresh"),
        ("python fixture:tmp_path", "'fixture:tmp_path': a page's python block gets the page"),
    ],
)
def test_options_the_engine_cannot_honour_fail_collection(
    tmp_path: Path, info: str, message: str
) -> None:
    text = f"# T\n\n```{info}\nprint(1)\n```\n"
    path = tmp_path / "page.md"
    path.write_text(text)
    with pytest.raises(PageError, match=rf"^docs/page\.md:3: python fence option {message}"):
        parse_fences(path, text, "docs/page.md")


def _context(page: str, timeout: float = 30) -> Context:
    return Context(
        location="docs/page.md",
        page_lines=page.splitlines(),
        timeout=timeout,
        placeholders={},
        redact=lambda t: t.replace("s3cr3t", "[REDACTED]"),
    )


def test_a_block_runs_in_the_page_shell_environment_and_its_output_is_captured(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    page = (
        "```python\nimport os, subprocess\nprint('in', os.getcwd(), os.environ['TOKEN'])\n"
        "subprocess.run(['echo', 'child'], check=True)\n```\n"
    )
    fence = _fence(tmp_path, page)
    (tmp_path / "sub").mkdir()
    shell = PageShell({"PATH": os.environ["PATH"]}, tmp_path)
    try:
        shell.run("export TOKEN=s3cr3t; cd sub", 10)
        before = dict(os.environ), Path.cwd()
        outcome = python_fence.run_python(fence, (), shell, _context(page))
    finally:
        shell.close()
    assert outcome.ok, outcome.text
    assert outcome.outputs == (f"in {tmp_path / 'sub'} [REDACTED]\nchild\n",)
    assert (dict(os.environ), Path.cwd()) == before
    assert "s3cr3t" not in capfd.readouterr().out


def test_a_failure_names_the_page_line_through_its_runner(tmp_path: Path) -> None:
    page = "# T\n\n```python\nvalue = 's3cr3t'\nassert value == 'other', value\n```\n"
    fence = _fence(tmp_path, page)
    shell = PageShell({"PATH": os.environ["PATH"]}, tmp_path)
    try:
        outcome = python_fence.run_python(fence, (), shell, _context(page))
    finally:
        shell.close()
    assert not outcome.ok
    assert outcome.text.startswith("docs/page.md:3: python block failed\n")
    assert f'File "{tmp_path / "page.md"}", line 5, in <module>' in outcome.text, CHANGED.format(
        what="its runner's traceback no longer names the .md file and line"
    )
    assert "AssertionError: [REDACTED]" in outcome.text
    assert "s3cr3t" not in outcome.text


def test_a_block_past_its_timeout_is_interrupted(tmp_path: Path) -> None:
    page = "```python\nimport time\ntime.sleep(30)\n```\n"
    fence = _fence(tmp_path, page)
    shell = PageShell({"PATH": os.environ["PATH"]}, tmp_path)
    try:
        outcome = python_fence.run_python(fence, (), shell, _context(page, timeout=0.5))
    finally:
        shell.close()
    assert not outcome.ok
    assert outcome.text.startswith("docs/page.md:1: python block timed out after 0.5 s\n")
    assert outcome.seconds < 10


def test_its_own_items_switch_capture_off() -> None:
    """Why the engine does not run its items: prints would reach the terminal unredacted."""
    source = inspect.getsource(MarkdownInlinePythonItem.runtest)
    assert "global_and_fixture_disabled" in source, CHANGED.format(
        what="its item no longer switches pytest's capture off: reconsider using its items"
    )
    assert hasattr(CaptureManager, "global_and_fixture_disabled")


def test_its_collector_stays_off_without_its_flag(pytester: pytest.Pytester) -> None:
    """One item per python fence: the package collects .md files only with --markdown-docs."""
    pytester.makeini("[pytest]\nrunbook_docs = docs\n")
    (pytester.path / "docs").mkdir()
    (pytester.path / "docs" / "page.md").write_text("```python\nprint('once')\n```\n")
    result = pytester.runpytest("-p", "runbook_docs.plugin", "-p", "no:cacheprovider", "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*docs/page.md::L1[[]python[]] PASSED*"])
