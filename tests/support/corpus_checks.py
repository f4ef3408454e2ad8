"""What the fault-corpus path tests (tests/faults/test_corpus_*.py) check of every failure."""

from __future__ import annotations

from runbook_helpers.errors import ExitStatus
from tests.support.cli_checks import assert_clean_failure
from tests.support.cli_runs import CliResult

LEFT_ALONE = ("missing", "untouched", "empty (FAILED)")
# every case is an integrity failure (exit 6) on every path; the 20-byte gzip that holds
# nothing, too: "holds no data once decompressed" (verify --archive said "not a backup", exit 7)
TYPED = (ExitStatus.INTEGRITY,)


def failed_cleanly(result: CliResult, argv: list[str], codes: tuple[int, ...] = TYPED) -> str:
    assert result.status in codes, f"exit {result.status}:\n{result.stdout}{result.stderr}"
    return assert_clean_failure(result, result.status, argv=argv)
