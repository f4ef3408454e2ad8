"""Child tools that do not outlive ``runbook``.

Ctrl-C and SIGTERM unwind ``runbook`` and its ``finally`` blocks kill the tools it started. A
SIGKILL (``kill -9``, the OOM killer, a closed container) runs nothing: a ``pg_restore -j``
building indexes would go on for minutes into a database nobody will use. On Linux the child
asks the kernel for SIGTERM when its parent dies (``PR_SET_PDEATHSIG``); pg_restore's SIGTERM
handler cancels its sessions' queries. The kernel sends it when the *thread* that started the
child ends, so it is only set for children started from the main thread.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1


def _prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _prctl()  # resolved once, never in a freshly forked child


def dies_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that has the child SIGTERMed when this process dies, or None where
    that is not possible (not Linux, not the main thread)."""
    prctl = _PRCTL
    if prctl is None or threading.current_thread() is not threading.main_thread():
        return None
    parent = os.getpid()

    def arm() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # died between fork and prctl: no signal would come
            os.kill(os.getpid(), signal.SIGTERM)

    return arm
