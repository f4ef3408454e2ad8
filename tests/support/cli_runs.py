"""Running ``runbook`` from a test: in-process (:func:`run_cli`) or in a process of its own
(:func:`run_runbook`); both return a :class:`CliResult`.

``run_cli`` checks, on every call, the two promises every command makes: no traceback, and no
secret in anything printed. What a *failing* command must print is checked by
:func:`tests.support.cli_checks.assert_clean_failure`.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from unittest import mock

from runbook_helpers.cli import main
from runbook_helpers.cli.output import Output
from tests.support import runbook_forkserver


@dataclass(frozen=True)
class CliResult:
    """A finished ``runbook`` command: exit status and everything it printed."""

    status: int
    stdout: str
    stderr: str

    @property
    def error_line(self) -> str:
        """The ``runbook: error: ...`` line (exactly one is printed for an expected failure)."""
        lines = [ln for ln in self.stderr.splitlines() if ln.startswith("runbook: error: ")]
        assert len(lines) == 1, self.stderr
        return lines[0]


def run_cli(argv: list[str], env: Mapping[str, str], *, secrets: Iterable[str] = ()) -> CliResult:
    """``runbook ARGV`` in-process with exactly ``env``; no traceback, no ``secrets`` printed."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with mock.patch.dict(os.environ, dict(env), clear=True):
        status = main(argv, Output(stdout, stderr, is_tty=False))
    result = CliResult(status, stdout.getvalue(), stderr.getvalue())
    printed = result.stdout + result.stderr
    assert "Traceback" not in printed, printed
    for secret in secrets:
        if secret:
            assert secret not in printed, f"secret leaked in output:\n{printed}"
    return result


def run_runbook(argv: list[str], env: Mapping[str, str], timeout: float = 120) -> CliResult:
    """``runbook ARGV`` in a process of its own, as a fresh interpreter would run it (exactly
    ``env``, $TMPDIR read anew, every byte it and its children print), bounded in time: forked
    from a pre-imported server (:mod:`tests.support.runbook_forkserver`), or a fresh
    interpreter where that cannot stand in for one."""
    proc = runbook_forkserver.run(argv, env, timeout)
    if proc is None:
        proc = subprocess.run(
            [sys.executable, "-m", "runbook_helpers", *argv],
            capture_output=True,
            text=True,
            env=dict(env),
            timeout=timeout,
            check=False,
        )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def interruptible() -> None:
    """``preexec_fn``: Ctrl-C's default action, as in a terminal. A shell without job control
    starts background commands with SIGINT ignored (POSIX), a CI runner may too, and Python
    keeps an inherited SIG_IGN: the signal tests would then test nothing."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def spawn_runbook(
    argv: list[str], env: Mapping[str, str], *, capture: bool = False
) -> subprocess.Popen[str]:
    """``runbook ARGV`` started in the background (tests that signal or race it)."""
    out = subprocess.PIPE if capture else subprocess.DEVNULL
    return subprocess.Popen(
        [sys.executable, "-m", "runbook_helpers", *argv],
        env=dict(env),
        stdout=out,
        stderr=out,
        text=True,
        preexec_fn=interruptible,
    )
