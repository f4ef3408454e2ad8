"""A reader's terminal: an interactive ``zsh -f -i`` or ``bash -i`` on a pseudo-terminal.

``TerminalShell`` is a drop-in for ``shell.PageShell`` (same ``run``/``snapshot``/``new_file``/
``close``) that types each block into the shell as a person does, one line at a time, each line
after the shell's prompt (``PS1``, or ``PS2`` inside an unfinished command): nothing is sourced,
so the interactive shell's own rules apply (zsh's ``INTERACTIVE_COMMENTS`` is off, history
expansion is on, stdin is the terminal). The page's commands see a macOS-like userland
(``runbook_docs.userland``).

Only the terminal is set up, never a command: echo off, no line editor (zsh ``+Z``, bash
``--noediting``: the typed text is not redrawn), 80x24, ``PAGER=cat`` unless one is set, and
prompts that carry a marker and the last status (``PS1``) or mark a continuation (``PS2``). An
``ERR``/``ZERR`` trap appends each failed command's status to a file: a script block passes only
when no command failed the way ``set -e`` counts failures and its last line's status is 0; a
console step's status is its last line's. Output is what the terminal shows between the
prompts (``\\r\\n`` as newlines, ``\\r`` and erase-line redraws applied, other escapes dropped).
Hidden blocks (the test world's set-up, which no reader pastes) go through ``sourced()``: one
typed line sources them from a file, in the same shell.
A timeout kills every process of the terminal's session (HUP, as when a terminal window closes,
then KILL); so does a block that leaves a command unfinished (the shell would wait forever).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import secrets
import select
import shutil
import signal
import struct
import subprocess
import tempfile
import termios
import time
from pathlib import Path

from runbook_docs.shell import RunResult, read_snapshot
from runbook_docs.userland import reader_path

_KILL_GRACE = 2.0
_ROWS, _COLUMNS = 24, 80
_MAX_LINE = 4000  # a canonical-mode terminal line holds 4095 bytes
_PROMPT_BYTES = 40  # longer than any prompt marker

# flavor -> argv of the interactive shell (no startup files, no line editor)
TERMINALS: dict[str, list[str]] = {
    "zsh-tty": ["zsh", "-f", "-i", "+Z"],
    "bash-tty": ["bash", "--norc", "--noprofile", "--noediting", "-i"],
}

_CSI = re.compile(r"\x1b\[[0-9;?]*([A-Za-z])|\x1b[()][A-Za-z0-9]|\x1b[=>]|\x1b\][^\x07]*\x07")


def render(raw: str) -> str:
    """What a terminal shows for ``raw``: lines as displayed after ``\\r`` and erase-line."""
    shown: list[str] = []
    for line in raw.replace("\r\n", "\n").split("\n"):
        screen: list[str] = []
        col = 0
        pos = 0
        while pos < len(line):
            char = line[pos]
            if char == "\x1b" and (match := _CSI.match(line, pos)):
                if match.group(1) == "K":  # erase to the end of the line
                    del screen[col:]
                pos = match.end()
                continue
            if char == "\r":
                col = 0
            elif char == "\b":
                col = max(col - 1, 0)
            elif char >= " " or char == "\t":
                if col < len(screen):
                    screen[col] = char
                else:
                    screen.append(char)
                col += 1
            pos += 1
        shown.append("".join(screen))
    return "\n".join(shown)


def running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie, dead but not yet reaped, is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _session_pids(sid: int) -> list[int]:
    """The live processes of session ``sid`` (the shell's jobs each have their own group)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                if os.getsid(int(entry)) == sid and running(int(entry)):
                    pids.append(int(entry))
    return pids


class TerminalShell:
    """An interactive shell (``TERMINALS[flavor]``) on a pty, fed a page's blocks in order."""

    def __init__(self, env: dict[str, str], cwd: Path, flavor: str = "zsh-tty") -> None:
        self.flavor = flavor
        self.workdir = Path(tempfile.mkdtemp(prefix="runbook-tty-"))
        self._count = 0
        self._errors = self.workdir / "failed-statuses"
        env = dict(env)
        env["PATH"] = reader_path(env.get("PATH", os.defpath))
        if "PAGER" not in env and "PSQL_PAGER" not in env:
            env["PAGER"] = "cat"  # a pager waits for a key press the test cannot give
        env.setdefault("TERM", "xterm-256color")
        master, slave = os.openpty()
        attrs = termios.tcgetattr(slave)
        attrs[3] &= ~(termios.ECHO | termios.ECHONL)
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", _ROWS, _COLUMNS, 0, 0))
        self._master = master
        self.proc = subprocess.Popen(
            TERMINALS[flavor],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
        )
        os.close(slave)
        nonce = secrets.token_hex(6)
        self._prompt = re.compile(rf"<rb{nonce}:(\d+)>|<rb{nonce}\+>".encode())
        self._buffer = b""
        self._ended = False
        status = "%?" if flavor.startswith("zsh") else "$?"
        errors = str(self._errors)
        assert "'" not in errors and '"' not in errors
        trap = f'trap \'printf "%s\\n" $? >>"{errors}"\' {"ZERR" if status == "%?" else "ERR"}'
        setup = [f"PS1='<rb{nonce}:{status}>'", f"PS2='<rb{nonce}+>'", trap]
        if flavor.startswith("zsh"):
            setup.insert(0, "unsetopt prompt_cr prompt_sp")  # no redraw around the prompt
        else:
            setup.append(f"HISTFILE='{self.workdir}/history'")  # not the page's home
        self._write("; ".join(setup) + "\n")
        started = time.monotonic()
        event = self._next_prompt(started + 30)
        if event[0] != "ps1":
            raise RuntimeError(f"{flavor}: the shell did not start: {self._take_text()!r}")
        self._buffer = b""

    @property
    def alive(self) -> bool:
        return not self._ended and self.proc.poll() is None

    def new_file(self, suffix: str, content: str = "") -> Path:
        """A fresh file in the terminal's private work dir (not the page's cwd)."""
        self._count += 1
        path = self.workdir / f"{self._count:04d}{suffix}"
        path.write_text(content)
        return path

    def _write(self, text: str) -> None:
        data = text.encode()
        while data:
            written = os.write(self._master, data)
            data = data[written:]

    def _take_text(self) -> str:
        text, self._buffer = self._buffer.decode(errors="replace"), b""
        return text

    def _next_prompt(self, deadline: float) -> tuple[str, int | None, bytes]:
        """Read up to the next prompt: ("ps1", status, output), ("ps2", None, output),
        ("ended", None, output) or ("timeout", None, output)."""
        searched = 0  # the buffer before this offset holds no prompt (a chunk may split one)
        while True:
            match = self._prompt.search(self._buffer, max(searched - _PROMPT_BYTES, 0))
            searched = len(self._buffer)
            if match:
                output, self._buffer = self._buffer[: match.start()], self._buffer[match.end() :]
                if match.group(1) is None:
                    return "ps2", None, output
                return "ps1", int(match.group(1)), output
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "timeout", None, self._buffer
            ready, _, _ = select.select([self._master], [], [], min(remaining, 0.5))
            if ready:
                try:
                    chunk = os.read(self._master, 65536)
                except OSError:  # EIO: every process holding the terminal is gone
                    chunk = b""
                if not chunk:
                    self._ended = True
                    return "ended", None, self._buffer
                self._buffer += chunk
            elif self.proc.poll() is not None:
                self._ended = True
                return "ended", None, self._buffer

    def run(self, code: str, timeout: float, *, fatal: bool = True) -> RunResult:
        """Type ``code`` line by line; ``fatal`` (a script block): any failed command fails it."""
        started = time.monotonic()
        deadline = started + timeout
        self._errors.write_text("")
        lines = code[:-1].split("\n") if code.endswith("\n") else code.split("\n")
        output = b""
        status: int | None = None
        for number, line in enumerate(lines, 1):
            if len(line.encode()) > _MAX_LINE:
                raise ValueError(f"line {number} is too long to type into a terminal")
            with contextlib.suppress(OSError):
                self._write(line + "\n")
            kind, value, text = self._next_prompt(deadline)
            output += text
            if kind == "ps1":
                status = value
            elif kind != "ps2":
                return self._ended_result(kind, output, started)
        if kind == "ps2":  # the block left a command unfinished: the shell waits for the rest
            self._kill()
            note = b"\n(the block ended inside a command: the shell waited for its rest)\n"
            shown = render((output + note).decode(errors="replace"))
            return RunResult(2, shown, time.monotonic() - started, shell_ended=True)
        assert status is not None
        failed = [int(s) for s in self._errors.read_text().split()]
        if fatal and failed and status == 0:
            status = failed[0]
        seconds = time.monotonic() - started
        return RunResult(
            status=status, output=render(output.decode(errors="replace")), seconds=seconds
        )

    def sourced(self) -> Sourced:
        """This terminal, running each block from a file with one typed ``. FILE`` line."""
        return Sourced(self)

    def _ended_result(self, kind: str, output: bytes, started: float) -> RunResult:
        if kind == "timeout":
            self._kill()
            status = None
        else:
            code = self.proc.wait()
            status = 128 - code if code < 0 else code
        text = render(output.decode(errors="replace"))
        return RunResult(status, text, time.monotonic() - started, shell_ended=True)

    def _kill(self) -> None:
        """HUP every process of the session (a closed terminal), then KILL what is left."""
        sid = self.proc.pid
        for sig in (signal.SIGHUP, signal.SIGKILL):
            for pid in _session_pids(sid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(_KILL_GRACE)
            deadline = time.monotonic() + _KILL_GRACE  # the others are not our children
            while _session_pids(sid) and time.monotonic() < deadline:
                time.sleep(0.02)
            if not _session_pids(sid):
                break
        self._ended = True

    def snapshot(self, timeout: float = 10.0) -> tuple[dict[str, str], Path] | None:
        """The shell's exported environment and working directory (for Python blocks)."""
        return read_snapshot(self, timeout)

    def close(self) -> None:
        """Close the terminal: ``exit``, then end everything its session left running."""
        if self.alive:
            with contextlib.suppress(OSError):
                self._write("exit\n")
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5)
        self._kill()
        with contextlib.suppress(OSError):
            os.close(self._master)
        shutil.rmtree(self.workdir, ignore_errors=True)


class Sourced:
    """A ``TerminalShell`` whose ``run`` sources the code from a file (for hidden blocks)."""

    def __init__(self, terminal: TerminalShell) -> None:
        self.terminal = terminal

    @property
    def alive(self) -> bool:
        return self.terminal.alive

    def new_file(self, suffix: str, content: str = "") -> Path:
        return self.terminal.new_file(suffix, content)

    def run(self, code: str, timeout: float, *, fatal: bool = True) -> RunResult:
        script = self.terminal.new_file(".sh", code if code.endswith("\n") else code + "\n")
        return self.terminal.run(f". '{script}'", timeout, fatal=fatal)

    def snapshot(self, timeout: float = 10.0) -> tuple[dict[str, str], Path] | None:
        return self.terminal.snapshot(timeout)

    def close(self) -> None:
        self.terminal.close()
