""":func:`runbook_helpers.child_lifetime.start`: the signals it holds for the fork are never
left blocked in the caller or in the tool it starts, and one that arrives meanwhile is raised."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from runbook_helpers import child_lifetime

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

HELD = (1 << (signal.SIGINT - 1)) | (1 << (signal.SIGTERM - 1))


def _masks(status: str) -> dict[str, int]:
    return {
        line.split(":")[0]: int(line.split()[1], 16)
        for line in status.splitlines()
        if line.startswith(("SigBlk:", "SigIgn:"))
    }


def test_the_tool_gets_the_signals_unblocked_and_not_ignored() -> None:
    proc = child_lifetime.start(
        ["cat", "/proc/self/status"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    out, _ = proc.communicate(timeout=30)
    masks = _masks(out.decode())
    assert masks["SigBlk"] & HELD == 0, masks  # pg_restore must see its death signal
    assert masks["SigIgn"] & (1 << (signal.SIGTERM - 1)) == 0, masks
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) & {signal.SIGINT, signal.SIGTERM} == set()


def test_a_signal_during_the_start_is_raised_and_the_child_killed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A SIGINT sent while the child is being started (here: from inside Popen, as a Ctrl-C
    arriving during the fork would) is raised by start(), not lost, and its child is gone."""
    started: list[subprocess.Popen[bytes]] = []
    real_popen = subprocess.Popen

    def popen_then_ctrl_c(*args: object, **kwargs: object) -> subprocess.Popen[bytes]:
        proc: subprocess.Popen[bytes] = real_popen(*args, **kwargs)  # type: ignore[call-overload]
        started.append(proc)
        signal.raise_signal(signal.SIGINT)  # held: pending until start() unblocks it
        return proc

    monkeypatch.setattr(subprocess, "Popen", popen_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        child_lifetime.start(["sleep", "30"])
    assert len(started) == 1 and started[0].returncode == -signal.SIGKILL
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) & {signal.SIGINT, signal.SIGTERM} == set()
