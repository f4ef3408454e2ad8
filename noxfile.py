"""Developer tasks. `nox -s tests` is what CI runs; `nox -s drill` is the main job."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "tests", "docs"]
nox.options.reuse_existing_virtualenvs = True

PYTHON = None  # the interpreter nox runs with


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Whole suite: the docs engine runs every fence in docs/ against real Postgres + moto R2."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHON)
def tests_pg16(session: nox.Session) -> None:
    """The library, fixture and engine tests against PostgreSQL 16 (the pgserver wheel).

    A second major version: archive versions, client/server matching and cross-version restores
    are exercised for real. The docs pages are not run here: they show PostgreSQL 15 output.
    """
    session.install("-e", ".[test]")
    session.run("pytest", "tests", *session.posargs, env={"RUNBOOK_PG": "pgserver"})


@nox.session(python=PYTHON)
def drill(session: nox.Session) -> None:
    """The restore drill on the embedded default (local PostgreSQL + moto R2)."""
    session.install("-e", ".[sandbox]")
    args = session.posargs or ["--scale", "2", "--report", "build/drill-report.json"]
    session.run("runbook", "drill", *args)


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Build the mkdocs-material site with --strict."""
    session.install("-e", ".[docs]")
    session.run("mkdocs", "build", "--strict", "--site-dir", "build/site")


@nox.session(python=PYTHON)
def serve(session: nox.Session) -> None:
    """Serve the site locally with live reload."""
    session.install("-e", ".[docs]")
    session.run("mkdocs", "serve", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff on everything, mypy --strict on the library and the test engine."""
    session.install("-e", ".[lint,test]")
    session.run("ruff", "check", ".")
    session.run("mypy", "--strict", "runbook_helpers", "tests/engine")


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Every restore path side by side, alternating rounds, at 0.25/1/2 GB (benchmarks/run.py).

    Writes build/bench.json and build/bench.svg. RUNBOOK_BENCH_SIZES_GB (default 0.25,1,2) and
    RUNBOOK_BENCH_ROUNDS (default 3) set the sizes and rounds; copy the JSON to
    docs/data/bench.json and run `python benchmarks/report.py` to update docs/time-estimates.md.
    """
    session.install("-e", ".[sandbox]")
    session.run("python", "benchmarks/run.py", *session.posargs)


@nox.session(python=PYTHON)
def bench_pytest(session: nox.Session) -> None:
    """Memory and incident-path targets (pytest-benchmark), never timed tests."""
    session.install("-e", ".[bench]")
    # RUNBOOK_BENCH_SCALE (default 20, ~200 MB database) sets the size; see benchmarks/README.md.
    session.run(
        "pytest",
        "benchmarks",
        "--benchmark-only",
        "-p",
        "no:cacheprovider",
        "--benchmark-columns=min,mean,max,rounds",
        "--benchmark-json=build/benchmark.json",
        *session.posargs,
    )
