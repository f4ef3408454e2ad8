"""The promise every failing command makes: one error line, one hint line, no secret."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol


class Printed(Protocol):
    """A finished command: ``run_cli``'s result, or a subprocess run of ``runbook``."""

    @property
    def status(self) -> int: ...
    @property
    def stdout(self) -> str: ...
    @property
    def stderr(self) -> str: ...


def assert_clean_failure(result: Printed, status: int, secrets: Iterable[str] = ()) -> None:
    """Exit ``status``; stderr ends with exactly one error line and one hint line; no secret."""
    assert result.status == status, f"exit {result.status}, expected {status}:\n{result.stderr}"
    lines = result.stderr.splitlines()
    errors = [ln for ln in lines if ln.startswith("runbook: error: ")]
    hints = [ln for ln in lines if ln.startswith("runbook: hint: ")]
    assert len(errors) == 1 and len(hints) == 1, result.stderr
    assert lines.index(hints[0]) == lines.index(errors[0]) + 1, result.stderr
    assert len(errors[0]) > len("runbook: error: ") and len(hints[0]) > len("runbook: hint: ")
    printed = result.stdout + result.stderr
    assert "Traceback" not in printed, printed
    for secret in secrets:
        if secret:
            assert secret not in printed, f"secret leaked:\n{printed}"
