"""The fault corpus (backups broken the way production breaks them), built once per session, and
the memo of the commands the corpus tests run on it (:mod:`tests.support.corpus_runs`)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from runbook_helpers.sandbox import sandbox_environment
from runbook_helpers.sandbox.r2 import R2Mock
from runbook_helpers.sandbox.server import PostgresServer
from tests.support.corpus_runs import CorpusRuns
from tests.support.fault_corpus import Corpus, build_corpus, corpus_report


@pytest.fixture(scope="session")
def fault_corpus(pg16_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    """Every case of :mod:`tests.support.fault_corpus`, made by the template's pipeline against
    PostgreSQL 16; its record (and build time) goes to ``build/fault-corpus.json``."""
    corpus = build_corpus(
        pg16_server, tmp_path_factory.mktemp("fault-corpus"), sandbox_environment(pg16_server, None)
    )
    out = Path("build") / "fault-corpus.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(corpus_report(corpus), indent=2) + "\n")
    return corpus


@pytest.fixture(scope="session")
def corpus_runs(
    fault_corpus: Corpus,
    pg16_server: PostgresServer,
    r2: R2Mock,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[CorpusRuns]:
    """Each corpus run (command, case, source, jobs, starting state) made once per session,
    for every test that asserts on it; the databases of its successful restores dropped after."""
    runs = CorpusRuns(
        fault_corpus,
        pg16_server,
        r2,
        sandbox_environment(pg16_server, r2),
        tmp_path_factory.mktemp("corpus-runs"),
    )
    try:
        yield runs
    finally:
        runs.close()


@pytest.fixture
def corpus_env(pg16_server: PostgresServer, r2_clean: R2Mock) -> dict[str, str]:
    """The sandbox environment with PostgreSQL 16's tools first (the corpus' pg_dump major)."""
    return sandbox_environment(pg16_server, r2_clean)


@pytest.fixture
def new_target(pg16_server: PostgresServer) -> Iterator[str]:
    """The URL of a database that does not exist yet (``--create``); dropped afterwards."""
    name = f"fc_{uuid.uuid4().hex[:10]}"
    try:
        yield pg16_server.url(name)
    finally:
        pg16_server.drop_database(name)
