"""Restoring every broken backup of the fault corpus, from a file and streamed from R2, serial
and parallel: one error line, a hint, exit 6, and a target that is untouched, missing or marked
FAILED.

pg_restore 16.2 can hang on a tar cut inside a data member, so every restore runs in its own
interpreter with a timeout (``run_runbook``)."""

from __future__ import annotations

import pytest

from runbook_helpers.errors import ExitStatus
from runbook_helpers.sandbox.r2 import R2Mock
from tests.support.cli_runs import run_runbook
from tests.support.corpus_checks import LEFT_ALONE, failed_cleanly
from tests.support.fault_corpus import BROKEN, Corpus, upload_history
from tests.support.faults import target_state


@pytest.mark.parametrize("jobs", ["1", "2"])
@pytest.mark.parametrize("name", BROKEN)
def test_restore_from_a_file(
    name: str, jobs: str, fault_corpus: Corpus, corpus_env: dict[str, str], new_target: str
) -> None:
    argv = ["restore", str(fault_corpus.cases[name].path), "--target", new_target, "--create"]
    argv += ["--jobs", jobs]
    failed_cleanly(run_runbook(argv, corpus_env), argv, (ExitStatus.INTEGRITY,))
    assert target_state(new_target) in LEFT_ALONE


@pytest.mark.parametrize("jobs", ["1", "2"])
@pytest.mark.parametrize("name", BROKEN)
def test_restore_streamed_from_r2(
    name: str,
    jobs: str,
    fault_corpus: Corpus,
    corpus_env: dict[str, str],
    r2_clean: R2Mock,
    new_target: str,
) -> None:
    """``runbook restore latest``: the newest backup, streamed from R2 (the size check of
    ``backups latest`` is not what stops it: restore reads the bytes)."""
    cases = fault_corpus.cases
    uri = upload_history(r2_clean.client(), r2_clean.bucket, cases[name], cases["complete"])
    argv = ["restore", uri, "--target", new_target, "--create", "--jobs", jobs]
    failed_cleanly(run_runbook(argv, corpus_env), argv, (ExitStatus.INTEGRITY,))
    assert target_state(new_target) in LEFT_ALONE
