"""Reading a backup of the fault corpus: inspect, fetch and verify say what is wrong with it.

Each: one error line, a hint, a typed non-zero exit. The restores are in
test_corpus_restores.py, the nightly jobs in test_corpus_jobs.py (three files, so that
``--dist loadfile`` runs them side by side). pg_restore 16.2 can hang on a tar cut inside a data
member, so every command that may start one runs in its own interpreter with a timeout
(``run_runbook``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runbook_helpers.errors import ExitStatus
from runbook_helpers.sandbox.r2 import R2Mock
from runbook_helpers.sandbox.server import PostgresServer
from tests.support.cli_runs import run_cli, run_runbook
from tests.support.corpus_checks import failed_cleanly
from tests.support.fault_corpus import BROKEN, KILLED, RESTORABLE, Corpus, upload_history


@pytest.mark.parametrize("name", BROKEN)
def test_inspect_says_incomplete_and_never_compatible(
    name: str, fault_corpus: Corpus, corpus_env: dict[str, str]
) -> None:
    case = fault_corpus.cases[name]
    argv = ["inspect", str(case.path)]
    result = run_cli(argv, corpus_env)
    failed_cleanly(result, argv, (ExitStatus.INTEGRITY,))
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
def test_inspect_and_restore_a_whole_backup(
    name: str, fault_corpus: Corpus, corpus_env: dict[str, str], new_target: str
) -> None:
    """The control: the same pipeline's complete backups (database timeouts included: pg_dump
    sets its own to 0) inspect as complete and restore with every row."""
    case = fault_corpus.cases[name]
    result = run_cli(["inspect", str(case.path)], corpus_env)
    assert result.status == 0, result.stderr
    assert "complete          yes" in result.stdout and "compatible        yes" in result.stdout
    argv = ["restore", str(case.path), "--target", new_target, "--create", "--jobs", "2"]
    assert run_runbook(argv, corpus_env).status == 0
    verify = run_cli(["verify", "--target", new_target, "--archive", str(case.path)], corpus_env)
    assert verify.status == 0, verify.stderr


@pytest.mark.parametrize("name", BROKEN)
def test_fetch_leaves_no_file(
    name: str, fault_corpus: Corpus, corpus_env: dict[str, str], r2_clean: R2Mock, tmp_path: Path
) -> None:
    cases = fault_corpus.cases
    uri = upload_history(r2_clean.client(), r2_clean.bucket, cases[name], cases["complete"])
    argv = ["fetch", uri, "--to", str(tmp_path)]
    failed_cleanly(run_cli(argv, corpus_env), argv, (ExitStatus.INTEGRITY,))
    assert [p.name for p in tmp_path.iterdir()] == []


@pytest.mark.parametrize("name", BROKEN)
def test_verify_against_the_archive(
    name: str, fault_corpus: Corpus, corpus_env: dict[str, str], pg16_server: PostgresServer
) -> None:
    argv = ["verify", "--target", pg16_server.url("postgres")]
    argv += ["--archive", str(fault_corpus.cases[name].path)]
    failed_cleanly(run_runbook(argv, corpus_env), argv)
