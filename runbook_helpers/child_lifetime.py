"""Child tools that do not outlive ``runbook``, started without losing a Ctrl-C.

Ctrl-C and SIGTERM unwind ``runbook`` and its ``finally`` blocks kill the tools it started. A
SIGKILL (``kill -9``, the OOM killer, a closed container) runs nothing: a ``pg_restore -j``
building indexes would go on for minutes into a database nobody will use. On Linux the child
asks the kernel for SIGTERM when its parent dies (``PR_SET_PDEATHSIG``); pg_restore's SIGTERM
handler cancels its sessions' queries. The kernel sends it when the *thread* that started the
child ends, so it is only set for children started from the main thread.

That needs a ``preexec_fn``, and with one CPython runs the ``os.register_at_fork`` hooks
(``logging``'s lock) around the fork: a Ctrl-C or SIGTERM arriving then raised its
KeyboardInterrupt inside a hook, where it is printed as "Exception ignored" and dropped - the
restore went on to succeed after the signal. :func:`start` blocks SIGINT and SIGTERM for the
fork; a signal that came meanwhile is raised as the mask is restored, after the child has been
killed (the caller never saw it).
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any, cast

_PR_SET_PDEATHSIG = 1
_HELD = {signal.SIGINT, signal.SIGTERM}


def _prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _prctl()  # resolved once, never in a freshly forked child


def start(cmd: list[str], **popen: Any) -> subprocess.Popen[bytes]:
    """``subprocess.Popen(cmd, **popen)`` (bytes), SIGTERMed when this process dies where that
    is possible (Linux, main thread); a Ctrl-C or SIGTERM during the fork is not lost."""
    if threading.current_thread() is not threading.main_thread():
        return _popen(cmd, None, popen)  # signal handlers run in the main thread only
    caller_mask = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
    try:
        proc = _popen(cmd, _in_child(os.getpid(), caller_mask), popen)
    except BaseException:
        signal.pthread_sigmask(signal.SIG_SETMASK, caller_mask)
        raise
    try:
        signal.pthread_sigmask(signal.SIG_SETMASK, caller_mask)  # a held signal raises here
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return proc


def _popen(
    cmd: list[str], preexec: Callable[[], None] | None, popen: dict[str, Any]
) -> subprocess.Popen[bytes]:
    return cast("subprocess.Popen[bytes]", subprocess.Popen(cmd, preexec_fn=preexec, **popen))


def _in_child(parent: int, mask: set[int | signal.Signals]) -> Callable[[], None]:
    """The ``preexec_fn``: death signal, then the signals back to their defaults and unblocked
    (a SIGTERM pending from the death signal then ends the child before it execs)."""
    prctl = _PRCTL

    def arm() -> None:
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
            if os.getppid() != parent:  # died between fork and prctl: no signal would come
                os._exit(1)
        for sig in _HELD:  # Python's handlers would swallow them until exec resets them
            if signal.getsignal(sig) not in (signal.SIG_IGN, None):
                signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)

    return arm
