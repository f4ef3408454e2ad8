"""One persistent shell per page, like the terminal a person pastes the runbook into.

Exports, ``cd`` and shell functions carry over between blocks. Each block is written to a file
and sourced; its status comes back on a control pipe (fd 3). The suite's shell is ``bash``
with ``set -euo pipefail``: a failing command ends the shell, and the block fails with that
status. Console commands run with ``set +e`` around them, so their status is compared, not
fatal. (A reader's interactive terminal is ``terminal.TerminalShell``; ``Shell`` is what both
offer the evaluators.)

Commands get ``/dev/null`` as stdin; stdout and stderr go to one file per run. A timeout kills
the shell's whole process group (TERM, then KILL) and keeps the partial output.
"""

from __future__ import annotations

import contextlib
import os
import select
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

_KILL_GRACE = 2.0

# flavor -> (argv, first lines sent to it)
SHELLS: dict[str, tuple[list[str], str]] = {
    "strict": (["bash", "--noprofile", "--norc"], "set -euo pipefail\n"),
}


@dataclass(frozen=True)
class RunResult:
    """What one run of code in the page shell did."""

    status: int | None  # None when it timed out
    output: str  # stdout and stderr, merged
    seconds: float
    shell_ended: bool = False  # the page shell is gone (failed under set -e, exit, timeout)

    @property
    def timed_out(self) -> bool:
        return self.status is None


class Shell(Protocol):
    """What an evaluator uses: a page's persistent shell (``PageShell``, ``TerminalShell``)."""

    @property
    def alive(self) -> bool: ...

    def new_file(self, suffix: str, content: str = "") -> Path: ...

    def run(self, code: str, timeout: float, *, fatal: bool = True) -> RunResult: ...

    def snapshot(self, timeout: float = 10.0) -> tuple[dict[str, str], Path] | None: ...

    def close(self) -> None: ...


def read_snapshot(shell: Shell, timeout: float) -> tuple[dict[str, str], Path] | None:
    """``shell``'s exported environment and working directory, read by running ``env -0`` and
    ``pwd`` in it; None when the shell has ended or the command failed."""
    if not shell.alive:
        return None
    env_file, cwd_file = shell.new_file(".env"), shell.new_file(".cwd")
    result = shell.run(
        f"env -0 >{shlex.quote(str(env_file))}; pwd >{shlex.quote(str(cwd_file))}",
        timeout,
        fatal=False,
    )
    if result.status != 0:
        return None
    pairs = (item.partition("=") for item in env_file.read_text().split("\0") if item)
    return {k: v for k, _, v in pairs}, Path(cwd_file.read_text().strip())


class PageShell:
    """A shell process (``SHELLS[flavor]``) that runs a page's blocks in order."""

    def __init__(self, env: dict[str, str], cwd: Path, flavor: str = "strict") -> None:
        argv, prelude = SHELLS[flavor]
        self.flavor = flavor
        self.workdir = Path(tempfile.mkdtemp(prefix="runbook-shell-"))
        self._count = 0
        read_fd, write_fd = os.pipe()
        self._control = read_fd
        self._log = open(self.workdir / "shell.log", "wb")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
            # the status pipe becomes the shell's fd 3 (zsh cannot close a multi-digit fd by
            # number; every other fd of ours is non-inheritable, so close_fds is not needed)
            close_fds=False,
            preexec_fn=lambda: os.dup2(write_fd, 3),
        )
        os.close(write_fd)
        if prelude:
            self._send(prelude)

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def _send(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text.encode())
        self.proc.stdin.flush()

    def new_file(self, suffix: str, content: str = "") -> Path:
        """A fresh file in the shell's private work dir (not the page's cwd)."""
        self._count += 1
        path = self.workdir / f"{self._count:04d}{suffix}"
        path.write_text(content)
        return path

    def run(self, code: str, timeout: float, *, fatal: bool = True) -> RunResult:
        """Source ``code`` in the shell; ``fatal=False`` runs it with ``set +e`` around it."""
        script = self.new_file(".sh", code if code.endswith("\n") else code + "\n")
        out = self.new_file(".out")
        quoted_script, quoted_out = shlex.quote(str(script)), shlex.quote(str(out))
        body = f"{{ source {quoted_script}; }} </dev/null >{quoted_out} 2>&1 3>&-"
        if fatal:
            line = f'{body}; printf "%s\\n" "$?" >&3\n'
        else:
            line = f'set +e; {body}; __runbook_rc=$?; set -e; printf "%s\\n" "$__runbook_rc" >&3\n'
        started = time.monotonic()
        with contextlib.suppress(BrokenPipeError):
            self._send(line)
        status, ended = self._wait_status(started + timeout)
        seconds = time.monotonic() - started
        output = out.read_bytes().decode(errors="replace")
        return RunResult(status=status, output=output, seconds=seconds, shell_ended=ended)

    def _wait_status(self, deadline: float) -> tuple[int | None, bool]:
        buffer = b""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._kill()
                return None, True
            ready, _, _ = select.select([self._control], [], [], min(remaining, 0.5))
            if ready:
                chunk = os.read(self._control, 64)
                if not chunk:  # the shell closed fd 3: it exited
                    return self._exit_status(), True
                buffer += chunk
                if buffer.endswith(b"\n"):
                    return int(buffer.strip().splitlines()[-1]), False
            elif not self.alive:
                return self._exit_status(), True

    def _exit_status(self) -> int:
        code = self.proc.wait()
        return 128 - code if code < 0 else code  # killed by a signal: 128 + signal number

    def _kill(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(_KILL_GRACE)
                if sig == signal.SIGTERM:
                    # the shell is gone; make sure nothing it started survives either
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(self.proc.pid, signal.SIGKILL)
                    return

    def snapshot(self, timeout: float = 10.0) -> tuple[dict[str, str], Path] | None:
        """The shell's exported environment and working directory (for Python blocks)."""
        return read_snapshot(self, timeout)

    def close(self) -> None:
        """End the shell (like closing the terminal) and everything it left running."""
        if self.alive:
            with contextlib.suppress(BrokenPipeError, OSError):
                self._send("exit 0\n")
        if self.proc.stdin is not None:
            with contextlib.suppress(BrokenPipeError, OSError):
                self.proc.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)
        self._kill()
        os.close(self._control)
        self._log.close()
        shutil.rmtree(self.workdir, ignore_errors=True)
