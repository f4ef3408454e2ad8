"""``python -m tests.support.interpreter_probe ACTION``: what a ``runbook`` process sees of how
it was started, or one way of ending, so a forked run can be compared with a fresh interpreter.

Actions: ``report`` (JSON of the environment - Python's and C's -, temp dir, cwd, sys.path,
stdin, standard streams, signal dispositions and mask), ``exit CODE``, ``exit-text TEXT``,
``raise``, ``interrupt``, ``grandchild`` (a child that prints after this process ended),
``sleep`` (prints its pid, then sleeps).
"""

from __future__ import annotations

import io
import json
import os
import signal
import stat
import subprocess
import sys
import tempfile
import time
from typing import Any, cast

# An import that reads $TMPDIR (tempfile caches it): a forked run must not see the server's.
IMPORTED_WITH_TMPDIR = tempfile.gettempdir()
SIGNALS = ("SIGINT", "SIGTERM", "SIGPIPE", "SIGXFSZ", "SIGCHLD", "SIGHUP", "SIGQUIT", "SIGUSR1")


def _disposition(handler: Any) -> str:
    if handler is signal.default_int_handler:
        return "default_int_handler"
    return str(handler)


def report() -> dict[str, Any]:
    """How this process was started, as far as a ``runbook`` command could tell."""
    c_env = subprocess.run(["env", "-0"], capture_output=True, check=True).stdout
    stdin = os.fstat(0)
    return {
        "environ": dict(os.environ),
        "c_environ": sorted(c_env.decode().split("\0")[:-1]),
        "tempdir": tempfile.gettempdir(),
        "imported_with_tmpdir": IMPORTED_WITH_TMPDIR,
        "cwd": os.getcwd(),
        "argv": sys.argv,
        "path": sys.path,
        "stdin": [stat.S_ISCHR(stdin.st_mode), stdin.st_rdev == os.stat(os.devnull).st_rdev],
        "streams": [
            [s.encoding, s.errors, s.line_buffering, s.write_through]
            for s in (cast(io.TextIOWrapper, sys.stdout), cast(io.TextIOWrapper, sys.stderr))
        ],
        "signals": {
            name: _disposition(signal.getsignal(getattr(signal, name))) for name in SIGNALS
        },
        "mask": sorted(int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, [])),
        "main": sys.modules["__main__"].__name__,
        "tz": time.tzname,
    }


def main(argv: list[str]) -> int:
    """Run one action."""
    action, *rest = argv
    if action == "report":
        print(json.dumps(report()))
        return 0
    if action == "exit":
        print("out before exit")
        print("err before exit", file=sys.stderr)
        raise SystemExit(int(rest[0]))
    if action == "exit-text":
        raise SystemExit(rest[0])
    if action == "raise":
        raise RuntimeError("probe failure")
    if action == "interrupt":
        raise KeyboardInterrupt
    if action == "grandchild":
        script = "sleep 0.5; echo grandchild out; echo grandchild err >&2"
        subprocess.Popen(["sh", "-c", script])  # not waited for, on purpose
        print("child out", flush=True)
        return 0
    if action == "sleep":
        print(os.getpid(), flush=True)
        time.sleep(60)
        return 0
    raise SystemExit(f"unknown action {action}")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
