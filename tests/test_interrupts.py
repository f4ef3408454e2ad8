"""SIGINT/SIGTERM raise KeyboardInterrupt and are remembered (runbook_helpers/interrupts.py):
a signal whose exception Python drops (it landed in an at-fork hook) still stops the command
at its next point of no return."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# A SIGTERM that arrives while subprocess.Popen runs the at-fork hooks (logging registers one):
# the handler's KeyboardInterrupt is printed as "Exception ignored" and Popen returns.
DROPPED = textwrap.dedent(
    """
    import os, signal, subprocess
    from runbook_helpers import interrupts

    armed = [True]
    def hook():
        if armed:
            armed.clear()
            os.kill(os.getpid(), signal.SIGTERM)
            sum(range(100))  # the handler runs here, inside the hook

    os.register_at_fork(after_in_parent=hook)
    with interrupts.handled():
        subprocess.run(["true"], preexec_fn=lambda: None, check=True)
        print("popen returned", flush=True)
        try:
            interrupts.raise_if_interrupted()
        except KeyboardInterrupt:
            print("stopped at the commit point", interrupts.received(), flush=True)
    """
)


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def test_a_signal_python_dropped_still_stops_at_the_commit_point() -> None:
    done = _python(DROPPED)
    assert "Exception ignored" in done.stderr and "KeyboardInterrupt" in done.stderr, done
    assert done.stdout.splitlines() == [
        "popen returned",  # the exception was lost: without the record the restore goes on
        "stopped at the commit point [15]",
    ], done


def test_handlers_are_restored_and_an_ignored_sigint_stays_ignored() -> None:
    done = _python(
        textwrap.dedent(
            """
            import signal
            from runbook_helpers import interrupts

            signal.signal(signal.SIGINT, signal.SIG_IGN)  # as a script's `cmd &` starts it
            with interrupts.handled():
                print(signal.getsignal(signal.SIGINT) is signal.SIG_IGN)
                print(signal.getsignal(signal.SIGTERM) is interrupts._interrupt)
                interrupts.raise_if_interrupted()  # nothing came: no exception
            print(signal.getsignal(signal.SIGTERM) is signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            with interrupts.handled():
                print(signal.getsignal(signal.SIGINT) is interrupts._interrupt)
            print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)
            """
        )
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True"] * 5
