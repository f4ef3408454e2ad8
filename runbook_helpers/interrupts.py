"""SIGINT and SIGTERM end a command by raising KeyboardInterrupt - and are remembered.

Python drops an exception that a signal handler raises while an at-fork hook or a finalizer runs
(it prints "Exception ignored in ..." and goes on): a Ctrl-C or a ``kill`` that lands just as
``subprocess.Popen`` forks would be lost, and a restore would go on to commit and rename. So each
signal is also recorded, and the points of no return (a COMMIT sent, a database renamed) call
:func:`raise_if_interrupted` first.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

STOPPING = (signal.SIGINT, signal.SIGTERM)
_received: list[int] = []


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    _received.append(signum)
    raise KeyboardInterrupt


def received() -> list[int]:
    """The signals that arrived since :func:`handled` was entered (oldest first)."""
    return list(_received)


def raise_if_interrupted() -> None:
    """KeyboardInterrupt if a stopping signal arrived, even one whose exception was dropped."""
    if _received:
        raise KeyboardInterrupt


@contextlib.contextmanager
def handled() -> Iterator[None]:
    """While inside: SIGINT and SIGTERM raise KeyboardInterrupt and are recorded, so that
    ``finally`` blocks remove partial files and stop child processes instead of dying mid-write.
    A SIGINT the caller ignores (a job started with ``&`` by a script) stays ignored, as Python
    leaves it. Outside the main thread (signals go to the main thread only) nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _received.clear()
    caught = [s for s in STOPPING if s != signal.SIGINT or signal.getsignal(s) != signal.SIG_IGN]
    previous = {sig: signal.signal(sig, _interrupt) for sig in caught}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
