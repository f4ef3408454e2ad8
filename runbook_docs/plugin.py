"""pytest glue for the docs engine: options, session state, collection, ledger, summary.

Every fenced block of every page under ``runbook_docs`` becomes one item (``docs/x.md::L42[bash]``)
or, when its language is not runnable, one ledger entry. The flow: ``blocks`` parses a page into
fences; ``registry`` picks each fence's evaluator and parses its steps once; ``items`` runs them
in the page's ``shell`` through ``runner`` (``transcript``/``matching`` judge console output);
``ledger`` records the results. ``reader`` re-runs pages typed into a reader's interactive zsh
and bash (``terminal``, on a pseudo-terminal with the macOS-like ``userland``) via ``headless``,
which the fixtures also use to run the pages a page starts after.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from runbook_docs.blocks import Fence, PageError
from runbook_docs.contract import RunbookHookSpecs
from runbook_docs.items import RunbookPage, display_path
from runbook_docs.ledger import Ledger
from runbook_docs.reader import MARKER
from runbook_docs.registry import parse_fences
from runbook_docs.update import Update, apply_updates
from runbook_helpers.redact import redact_text


@dataclass
class State:
    """Session-wide engine state, kept in ``config.stash`` and handed to each page."""

    docs_dir: Path
    timeout: float
    update: bool
    ledger: Ledger = field(default_factory=Ledger)
    nodes: dict[str, tuple[str, Fence]] = field(default_factory=dict)  # nodeid -> (file, fence)
    pages: set[Path] = field(default_factory=set)
    secrets: set[str] = field(default_factory=set)
    updates: list[Update] = field(default_factory=list)
    partial: bool = False
    workers: list[dict[str, Any]] = field(default_factory=list)  # pytest-xdist: their results


STATE = pytest.StashKey[State]()


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(RunbookHookSpecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("runbook_docs", "directory whose **/*.md pages are tested", default="docs")
    parser.addini("runbook_timeout", "default seconds per docs block", default="120")
    parser.addini(
        "runbook_ledger", "ledger path, relative to rootdir", default="build/docs-ledger.json"
    )
    parser.addini(
        "runbook_min_output_checked",
        "a full docs run fails below this percentage of output-checked executed blocks",
        default="0",
    )
    parser.addini(
        "runbook_reader_pages",
        "pages (globs relative to runbook_docs) also typed into a reader's terminals",
        default="",
    )
    parser.addini(
        "runbook_versions",
        "NAME = command lines: versions read in each page's environment (the site's stamp)",
        type="linelist",
        default=[],
    )
    parser.addini(
        "runbook_reader_shells",
        "reader terminals: interactive zsh and/or bash on a pty",
        default="zsh bash",
    )
    group = parser.getgroup("runbook", "executed runbook docs")
    group.addoption(
        "--runbook-timeout",
        type=float,
        default=None,
        help="seconds per docs block (overrides the runbook_timeout ini)",
    )
    group.addoption(
        "--runbook-update",
        action="store_true",
        default=False,
        help="rewrite the expected output of mismatching console steps in place",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}: a docs page re-run in a reader's interactive terminal"
    )
    timeout = config.getoption("runbook_timeout") or float(config.getini("runbook_timeout"))
    config.stash[STATE] = State(
        docs_dir=(config.rootpath / str(config.getini("runbook_docs"))).resolve(),
        timeout=timeout,
        update=bool(config.getoption("runbook_update")),
    )


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> RunbookPage | None:
    state = parent.config.stash[STATE]
    if file_path.suffix == ".md" and file_path.resolve().is_relative_to(state.docs_dir):
        page: RunbookPage = RunbookPage.from_parent(parent, path=file_path, state=state)
        return page
    return None


def pytest_deselected(items: list[pytest.Item]) -> None:
    if items:
        state = items[0].config.stash[STATE]
        state.partial = state.partial or any(i.nodeid in state.nodes for i in items)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item,
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    state = item.config.stash[STATE]
    if report.nodeid in state.nodes:
        # pytest's captured output is shown on failure: redact it too
        page = getattr(item, "page", None)
        secrets = [*state.secrets, *(page.secrets if page is not None else [])]
        report.sections = [(k, redact_text(v, secrets)) for k, v in report.sections]
        _record(state, report)
    return report


def _record(state: State, report: pytest.TestReport) -> None:
    file, fence = state.nodes[report.nodeid]
    if report.skipped and isinstance(report.longrepr, tuple):
        reason = report.longrepr[2].removeprefix("Skipped: ")
        status = "blocked" if reason.startswith("blocked by ") else "skipped"
        state.ledger.record(file, fence.line, status, reason)
    elif report.failed:
        state.ledger.record(
            file,
            fence.line,
            "failed",
            "" if report.when == "call" else f"{report.when} error",
            report.duration,
        )
    elif report.when == "call" and report.passed:
        state.ledger.record(
            file, fence.line, "hidden" if fence.hidden else "passed", seconds=report.duration
        )


def _register_uncollected(config: pytest.Config, state: State) -> None:
    """Pages this run did not collect still get ledger entries (status not-run)."""
    for path in sorted(state.docs_dir.rglob("*.md")):
        if path in state.pages:
            continue
        state.partial = True
        display = display_path(config, path)
        try:
            parsed = parse_fences(path, path.read_text(), display)
        except PageError:
            continue
        for fence, evaluator, steps in parsed:
            state.ledger.add(display, fence, evaluator.checked if evaluator else None, steps)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object | None) -> None:
    """pytest-xdist's controller: keep what a finished worker ran (its ``workeroutput``)."""
    output = getattr(node, "workeroutput", {}).get(WORKER_OUTPUT)
    if output is not None:
        node.config.stash[STATE].workers.append(output)


WORKER_OUTPUT = "runbook_docs"


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    state = config.stash[STATE]
    worker_output = getattr(config, "workeroutput", None)  # set in a pytest-xdist worker only
    if state.workers:  # the pytest-xdist controller: one ledger from every worker's records
        state.ledger = Ledger.merged(w["ledger"] for w in state.workers)
        state.pages = {Path(p) for w in state.workers for p in w["pages"]}
        state.partial = any(w["partial"] for w in state.workers)
    if not state.pages:  # no docs page in this run: keep the last docs run's ledger
        return
    if not state.workers:
        _finish_pages(config, state)
    if worker_output is not None:  # a worker's records: the controller writes and judges
        worker_output[WORKER_OUTPUT] = {
            "ledger": state.ledger.to_json(),
            "pages": sorted(str(p) for p in state.pages),
            "partial": state.partial or bool(config.option.collectonly),
            "updated": len(state.updates),
        }
        return
    state.ledger.write(config.rootpath / str(config.getini("runbook_ledger")))
    state.partial = bool(
        state.partial or config.option.collectonly or session.shouldstop or session.shouldfail
    )
    if not state.partial and state.ledger.unaccounted() and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    if not state.partial and _below_min_checked(config, state) and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _finish_pages(config: pytest.Config, state: State) -> None:
    """Where the pages ran: ledger entries for the pages not collected, the ``--runbook-update``
    rewrites applied, and every recorded text redacted."""
    _register_uncollected(config, state)
    by_file: dict[Path, list[Update]] = defaultdict(list)
    for update in state.updates:
        by_file[update.path].append(update)
    for path, updates in by_file.items():
        apply_updates(path, updates)
    for entry in state.ledger.entries.values():
        entry.reason = redact_text(entry.reason, state.secrets)
        entry.outputs = [redact_text(o, state.secrets) for o in entry.outputs]
        entry.commands = [redact_text(c, state.secrets) for c in entry.commands]
    for file, versions in state.ledger.versions.items():
        state.ledger.versions[file] = {
            k: redact_text(v, state.secrets) for k, v in versions.items()
        }


def _below_min_checked(config: pytest.Config, state: State) -> bool:
    return state.ledger.output_checked_percent() < float(
        config.getini("runbook_min_output_checked")
    )


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    state = config.stash[STATE]
    if not state.pages:  # no docs page in this run (e.g. only unit tests were selected)
        return
    write = terminalreporter.write_line
    unaccounted = state.ledger.unaccounted()
    if state.partial and unaccounted:
        write(f"docs: partial run, {len(unaccounted)} runnable block(s) not run", yellow=True)
    elif unaccounted:
        for entry in unaccounted:
            write(
                f"docs: {entry.file}:{entry.line} [{entry.language}] was neither run nor "
                "skipped with a reason",
                red=True,
            )
    updated = len(state.updates) + sum(int(w["updated"]) for w in state.workers)
    if updated:
        write(f"docs: updated {updated} console step(s) in place", yellow=True)
    write(state.ledger.summary())
    write(state.ledger.checked_summary())
    if not state.partial and _below_min_checked(config, state):
        minimum = config.getini("runbook_min_output_checked")
        write(f"docs: below runbook_min_output_checked = {minimum}%", red=True)
