"""Reading a backup of the fault corpus: inspect, fetch and verify say what is wrong with it.

Each: one error line, a hint, a typed non-zero exit. The restores are in
test_corpus_restores.py, the nightly jobs in test_corpus_jobs.py (three files, so that
``--dist loadfile`` runs them side by side). pg_restore 16.2 can hang on a tar cut inside a data
member, so every command that may start one runs in its own interpreter with a timeout
(``run_runbook``). Each run is made once per session (:mod:`tests.support.corpus_runs`):
test_corpus_messages.py reads the same inspect, fetch, restore and verify runs."""

from __future__ import annotations

import json

import pytest

from runbook_helpers.errors import ExitStatus
from runbook_helpers.sandbox.server import PostgresServer
from tests.support.cli_runs import run_cli
from tests.support.corpus_checks import failed_cleanly
from tests.support.corpus_runs import CorpusRuns
from tests.support.fault_corpus import BROKEN, KILLED, RESTORABLE, Corpus


@pytest.mark.parametrize("name", BROKEN)
def test_inspect_says_incomplete_and_never_compatible(name: str, corpus_runs: CorpusRuns) -> None:
    run = corpus_runs.inspect(name)
    result = run.result
    failed_cleanly(result, run.args, (ExitStatus.INTEGRITY,))
    assert "compatible        yes" not in result.stdout
    if name in KILLED:  # killed mid-table: it says so and names what is missing
        assert "complete          no" in result.stdout
        assert "2553.dat (public.m_big)" in result.stdout or name == "terminated_after_largest"
        assert "2554.dat (public.z_last)" in result.stdout
        assert "is incomplete" in result.error_line


def test_inspect_json_of_a_killed_dump(fault_corpus: Corpus, corpus_env: dict[str, str]) -> None:
    case = fault_corpus.cases["terminated_during_largest"]
    result = run_cli(["inspect", "--json", str(case.path)], corpus_env)
    assert result.status == ExitStatus.INTEGRITY
    data = json.loads(result.stdout)
    assert data["complete"] is False and data["compatible"] is False
    assert data["data_members_promised"] == 3 and data["data_members_present"] == 1
    assert data["missing_members"] == ["2553.dat (public.m_big)", "2554.dat (public.z_last)"]
    assert data["end_blocks"] is False


@pytest.mark.parametrize("name", RESTORABLE)
def test_inspect_and_restore_a_whole_backup(name: str, corpus_runs: CorpusRuns) -> None:
    """The control: the same pipeline's complete backups (database timeouts included: pg_dump
    sets its own to 0) inspect as complete and restore with every row."""
    result = corpus_runs.inspect(name).result
    assert result.status == 0, result.stderr
    assert "complete          yes" in result.stdout and "compatible        yes" in result.stdout
    restored = corpus_runs.restore(name, "file", "2")
    assert restored.result.status == 0, restored.result.stderr
    assert restored.target is not None
    verify = corpus_runs.verify(name, restored.target, "in-process").result
    assert verify.status == 0, verify.stderr


@pytest.mark.parametrize("name", BROKEN)
def test_fetch_leaves_no_file(name: str, corpus_runs: CorpusRuns) -> None:
    """``runbook fetch URI --to DIR`` of last night's backup, into an empty directory."""
    run = corpus_runs.fetch(name)
    failed_cleanly(run.result, run.args, (ExitStatus.INTEGRITY,))
    assert run.left == ()


@pytest.mark.parametrize("name", BROKEN)
def test_verify_against_the_archive(
    name: str, corpus_runs: CorpusRuns, pg16_server: PostgresServer
) -> None:
    run = corpus_runs.verify(name, pg16_server.url("postgres"), "interpreter")
    failed_cleanly(run.result, run.args)


def test_the_memo_runs_each_run_once_and_keeps_asks_that_differ_apart(
    corpus_runs: CorpusRuns,
) -> None:
    """What every test above relies on: a second ask reads the first run back, and an ask that
    differs in what determines the run (the case, the runner) makes its own."""
    first = corpus_runs.inspect("complete")
    made = corpus_runs.made
    assert corpus_runs.inspect("complete") is first and corpus_runs.made == made
    other = corpus_runs.inspect("zero_byte")
    assert other is not first and other.argv[-1].endswith("zero_byte.tar.gz")
    target = corpus_runs.server.url("postgres")
    in_process = corpus_runs.verify("complete", target, "in-process")
    assert corpus_runs.verify("complete", target, "interpreter") is not in_process
    assert corpus_runs.made >= made + 2
