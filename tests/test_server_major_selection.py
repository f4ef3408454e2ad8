"""``nox -s tests_pg16`` / ``tests_pg18`` run the tests marked ``server_major``
(tests/fixtures/majors.py): every test that uses the chosen server, through any fixture, and
every test of a module that chooses a backend itself; no other."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

CONFTEST = """
import pytest

@pytest.fixture
def pg_server():
    return "server"

@pytest.fixture
def pg_url(pg_server):
    return pg_server + "/db"

@pytest.fixture
def pg16_server():
    return "fixed major"
"""


def test_the_selection_is_what_the_chosen_server_reaches(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        test_uses="""
        def test_direct(pg_server): pass
        def test_through_a_fixture(pg_url): pass
        def test_fixed_major(pg16_server): pass
        def test_pure(): pass
        """,
        test_chooses="""
        import os
        def test_env():
            assert os.environ.get("RUNBOOK_PG", "auto")
        """,
    )
    result = pytester.runpytest(
        "-p", "tests.fixtures.majors", "-p", "no:cacheprovider", "-m", "server_major",
        "--collect-only", "-q",
    )  # fmt: skip
    collected = {line for line in result.outlines if "::" in line}
    assert collected == {
        "test_uses.py::test_direct",
        "test_uses.py::test_through_a_fixture",
        "test_chooses.py::test_env",
    }
