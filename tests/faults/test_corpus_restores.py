"""Restoring every broken backup of the fault corpus, from a file and streamed from R2, serial
and parallel: one error line, a hint, exit 6, and a target that is untouched, missing or marked
FAILED.

pg_restore 16.2 can hang on a tar cut inside a data member, so every restore runs in its own
interpreter with a timeout (``run_runbook``). Each restore is made once per session
(:mod:`tests.support.corpus_runs`): test_corpus_messages.py reads the same runs."""

from __future__ import annotations

import pytest

from runbook_helpers.errors import ExitStatus
from tests.support.corpus_checks import LEFT_ALONE, failed_cleanly
from tests.support.corpus_runs import CorpusRuns
from tests.support.fault_corpus import BROKEN


@pytest.mark.parametrize("jobs", ["1", "2"])
@pytest.mark.parametrize("name", BROKEN)
def test_restore_from_a_file(name: str, jobs: str, corpus_runs: CorpusRuns) -> None:
    """``runbook restore FILE --target NEW --create --jobs N``."""
    run = corpus_runs.restore(name, "file", jobs)
    failed_cleanly(run.result, run.args, (ExitStatus.INTEGRITY,))
    assert run.state in LEFT_ALONE


@pytest.mark.parametrize("jobs", ["1", "2"])
@pytest.mark.parametrize("name", BROKEN)
def test_restore_streamed_from_r2(name: str, jobs: str, corpus_runs: CorpusRuns) -> None:
    """``runbook restore latest``: the newest backup, streamed from R2 (the size check of
    ``backups latest`` is not what stops it: restore reads the bytes)."""
    run = corpus_runs.restore(name, "r2", jobs)
    failed_cleanly(run.result, run.args, (ExitStatus.INTEGRITY,))
    assert run.state in LEFT_ALONE
