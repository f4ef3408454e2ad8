"""Pages start from what a reader has: each profile line and the start page's export matter.

The pages are edited only as copies; the real docs are never touched. Each test builds its own
``PageStates`` (nothing cached from the suite's run) on the session's servers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from runbook_docs.contract import PageEnv
from runbook_docs.headless import PageFailed, run_page
from tests.fixtures.page_state import PageStates, table
from tests.fixtures.plugin import pytest_runbook_page_env
from tests.fixtures.registry import Sandbox

DOCS = Path(__file__).parents[1] / "docs"
SETUP_LINES = [
    line
    for line in (DOCS / "setup.md").read_text().splitlines()
    if line.startswith(("aws configure set ", "$ aws configure set "))
]
EXPORT_AWS_PROFILE = "$ export AWS_PROFILE=r2-vlvt"  # a transcript line of index.md


def test_setup_has_the_six_profile_lines() -> None:
    """The parametrized deletions below cover every line (an empty list would skip them)."""
    assert len(SETUP_LINES) == 6, SETUP_LINES


def without(page: str, line: str, tmp_path: Path) -> Path:
    """A copy of docs/``page`` with ``line`` removed (it must be there exactly once)."""
    text = (DOCS / page).read_text()
    assert text.count(line + "\n") == 1, f"{line!r} is not a line of {page}"
    copy = tmp_path / Path(page).name
    copy.write_text(text.replace(line + "\n", "", 1))
    return copy


@pytest.fixture(scope="module")
def page_env(pytestconfig: pytest.Config) -> Iterator[PageEnv]:
    """A populated sandbox (the bucket of nightly backups, ``railway``), as a page gets it."""
    env = pytest_runbook_page_env(DOCS / "restore.md", pytestconfig)
    try:
        yield env
    finally:
        env.close()


@pytest.fixture
def session_states(page_env: PageEnv, sandbox: Sandbox) -> PageStates:
    """The page states the docs pages of this run get (built by ``page_env``)."""
    states = sandbox.cache["page-states"]
    assert isinstance(states, PageStates)
    return states


def fresh_states(session: PageStates, *, keep: tuple[str, ...] = (), **pages: Path) -> PageStates:
    """Page states built anew with ``pages`` (``setup``/``index``) replaced; ``keep`` names
    pages whose end state is reused from ``session`` (only pages before the replaced ones)."""
    states = PageStates(
        docs_dir=DOCS,
        pg=session.pg,
        r2=session.r2,
        placeholders=session.placeholders,
        secrets=session.secrets,
        pages={f"{name}.md": path for name, path in pages.items()},
    )
    for page in keep:
        states.adopt(page, session.end_state(page))
    return states


def run_restore_page(states: PageStates, tmp_path: Path) -> None:
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    run_page(
        DOCS / "restore.md",
        states.environment("restore.md", home),
        work,
        display="docs/restore.md",
        timeout=120,
        placeholders=states.placeholders,
        secrets=states.secrets,
    )


def test_testing_md_prints_the_declared_page_states() -> None:
    assert table() in (DOCS / "testing.md").read_text()


def test_the_start_state_has_only_what_setup_and_the_start_page_made(
    session_states: PageStates, tmp_path: Path
) -> None:
    states, r2 = session_states, session_states.r2
    setup_env = states.environment("setup.md", tmp_path / "setup-home")
    assert not [k for k in setup_env if k.startswith(("AWS_PROFILE", "RUNBOOK_", "PG"))]
    assert not (tmp_path / "setup-home").exists() or not any((tmp_path / "setup-home").iterdir())
    (tmp_path / "home").mkdir()
    env = states.environment("restore.md", tmp_path / "home")
    assert env["AWS_PROFILE"] == "r2-vlvt" and env["RUNBOOK_BUCKET"] == r2.bucket
    assert "R2_SECRET_ACCESS_KEY" not in env and "AWS_CONFIG_FILE" not in env
    assert "[profile r2-vlvt]" in (tmp_path / "home" / ".aws" / "config").read_text()


@pytest.mark.slow(seconds=7)
@pytest.mark.parametrize("line", SETUP_LINES)
def test_each_aws_configure_set_line_of_setup_is_needed(
    line: str, session_states: PageStates, tmp_path: Path
) -> None:
    states = fresh_states(session_states, setup=without("setup.md", line, tmp_path))
    with pytest.raises(PageFailed, match=r"docs/setup\.md does not leave the state"):
        states.end_state("setup.md")


@pytest.mark.slow(seconds=6)
def test_export_aws_profile_of_the_start_page_is_needed(
    session_states: PageStates, tmp_path: Path
) -> None:
    index = without("index.md", EXPORT_AWS_PROFILE, tmp_path)
    states = fresh_states(session_states, keep=("setup.md",), index=index)
    with pytest.raises(PageFailed, match=r"docs/restore\.md"):
        run_restore_page(states, tmp_path)
