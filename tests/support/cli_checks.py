"""The promise every failing command makes: one error line, one hint line, no secret."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from tests.support.hint_options import command_of, runbook_options, unknown_options


class Printed(Protocol):
    """A finished command: ``run_cli``'s result, or a subprocess run of ``runbook``."""

    @property
    def status(self) -> int: ...
    @property
    def stdout(self) -> str: ...
    @property
    def stderr(self) -> str: ...


def assert_clean_failure(
    result: Printed, status: int, secrets: Iterable[str] = (), *, argv: list[str] | None = None
) -> None:
    """Exit ``status``; exactly one error line then one hint line; no secret; and, given the
    ``argv`` that ran, a hint naming only options that command (or another named one) has."""
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
    if argv is not None:
        hint = hints[0].removeprefix("runbook: hint: ")
        command = command_of(argv)
        assert unknown_options(hint, runbook_options(), command) == [], (command, hint)
