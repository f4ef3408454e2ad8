"""What the fault-corpus path tests (tests/faults/test_corpus_*.py) check of every failure."""

from __future__ import annotations

from runbook_helpers.errors import ExitStatus
from tests.support.cli_checks import assert_clean_failure
from tests.support.cli_runs import CliResult

LEFT_ALONE = ("missing", "untouched", "empty (FAILED)")
# the 20-byte gzip of an empty tar is "not a dump" to verify --archive (exit 7), truncated to
# the others (exit 6); both are typed
TYPED = (ExitStatus.INTEGRITY, ExitStatus.INCOMPATIBLE)


def failed_cleanly(result: CliResult, argv: list[str], codes: tuple[int, ...] = TYPED) -> str:
    assert result.status in codes, f"exit {result.status}:\n{result.stdout}{result.stderr}"
    return assert_clean_failure(result, result.status, argv=argv)
