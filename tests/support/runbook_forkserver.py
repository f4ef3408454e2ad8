"""``python -m runbook_helpers ARGV`` without paying its imports on every run.

A fresh interpreter spends ~0.3 s CPU importing boto3, psycopg and faker before a command
starts. Here each run is a child forked from a per-pytest-worker server that imported
``runbook_helpers.cli`` and every command module once: the standard library's forkserver
(:mod:`multiprocessing`), started lazily on the first run and stopped at exit.

The child is made to look like a fresh interpreter (:func:`_child`): exactly ``env`` as its
environment (``os.environ`` cleared, so C ``getenv`` and subprocesses see it too),
``tempfile.tempdir`` reset (``$TMPDIR`` read anew), ``time.tzset()``, the caller's cwd, the
``sys.path`` of a fresh ``python -m``, stdin ``/dev/null``, fds 1 and 2 on FIFOs read by the
caller until every writer (grandchildren like pg_restore too) closed them, the signal
dispositions and mask a fresh interpreter would inherit, and Python's own ending: the
``SystemExit`` code, a traceback and status 1 for an uncaught exception, death by SIGINT
for an uncaught ``KeyboardInterrupt``, non-daemon threads joined, ``atexit`` run, 120 when
the final flush fails.

What a fork cannot redo is what the interpreter reads while it starts: ``PYTHON*``,
``LC_*``, ``LANG`` (and ``PSYCOPG_IMPL``, read by psycopg at import). A run whose ``env``
differs from the server's in one of those returns ``None`` (:func:`run`): the caller then
uses a fresh interpreter. Audit of ``runbook_helpers`` (every module-level statement): no
environment, cwd or home read at import, no logging configured at import, no botocore
session or client made at import; the two ``functools.cache`` sit on functions the server
never calls, so every child starts them empty. Shared with the server, unlike a fresh
interpreter: the hash seed and faker's module ``random.Random`` (runbook only uses
``seed_instance``); ``random``'s global generator and tempfile's names are reseeded at fork.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import locale
import logging
import multiprocessing
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from multiprocessing.context import ForkServerContext
from typing import NoReturn

_log = logging.getLogger(__name__)

# Environment the interpreter (or an import) reads once, at start-up: a fork cannot redo it.
_STARTUP_ENV = re.compile(r"PYTHON.*|LC_.*|LANG|LANGUAGE|PSYCOPG_IMPL")


@dataclass(frozen=True)
class _Server:
    """The started forkserver and what its children need to pass for a fresh interpreter."""

    context: ForkServerContext
    pid: int  # the pytest worker that started it (a fork of the worker must not reuse it)
    startup_env: dict[str, str]
    fresh_path: list[str]  # a fresh interpreter's sys.path[1:]
    fifo_dir: str


_server: _Server | None = None
_unavailable: str | None = None
_lock = threading.Lock()


def _startup_env(env: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if _STARTUP_ENV.fullmatch(k)}


def _preload() -> list[str]:
    from runbook_helpers.cli import COMMAND_MODULES

    commands = [f"runbook_helpers.cli.{name}" for name in COMMAND_MODULES]
    return [__name__, "runbook_helpers.cli", *commands]


_NAME = "runbook-forkserver-run"


def _without_main() -> None:
    """Children named :data:`_NAME` do not re-import the caller's ``__main__`` (multiprocessing
    would run pytest's script in every child): ``runbook`` never needs it."""
    from multiprocessing import spawn

    original = spawn.get_preparation_data
    if getattr(original, "runbook_forkserver", False):
        return

    def preparation_data(name: str) -> dict[str, object]:
        data: dict[str, object] = original(name)
        if name == _NAME:
            data.pop("init_main_from_path", None)
            data.pop("init_main_from_name", None)
        return data

    preparation_data.runbook_forkserver = True  # type: ignore[attr-defined]
    spawn.get_preparation_data = preparation_data


def _start() -> _Server:
    probe = subprocess.run(
        [sys.executable, "-c", "import json, sys; print(json.dumps(sys.path[1:]))"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    context = multiprocessing.get_context("forkserver")
    _without_main()
    context.set_forkserver_preload(_preload())
    from multiprocessing import forkserver

    forkserver.ensure_running()
    atexit.register(_stop)
    return _Server(
        context,
        os.getpid(),
        _startup_env(os.environ),
        json.loads(probe.stdout),
        tempfile.mkdtemp(prefix="runbook-forkserver-"),
    )


def _stop() -> None:
    """Stop the server (at exit) and remove the FIFOs' directory."""
    global _server
    server, _server = _server, None
    if server is None or server.pid != os.getpid():
        return
    from multiprocessing import forkserver, resource_tracker

    with contextlib.suppress(Exception):  # waited for: their CPU counts in the worker's
        forkserver._forkserver._stop()  # type: ignore[attr-defined]
        resource_tracker._resource_tracker._stop()  # type: ignore[attr-defined]
    shutil.rmtree(server.fifo_dir, ignore_errors=True)


def _ready() -> _Server | None:
    """The server, started on first use; ``None`` (reason logged once) if it cannot start."""
    global _server, _unavailable
    with _lock:
        if _server is not None and _server.pid == os.getpid():
            return _server
        if _unavailable is not None:
            return None
        try:
            _server = _start()
            check = _fork(_server, "runbook_helpers", ["--version"], os.environ, 60)
            if check.returncode != 0 or not check.stdout.startswith("runbook "):
                raise RuntimeError(f"runbook --version exited {check.returncode}: {check.stderr}")
        except Exception as exc:  # no fork, no AF_UNIX, a child that cannot unpickle its job...
            _stop()
            _unavailable = f"{type(exc).__name__}: {exc}"
            _log.warning("runbook forkserver unavailable, fresh interpreters: %s", _unavailable)
            return None
        return _server


def _signals() -> tuple[list[int], list[int]]:
    """What a fresh interpreter started now would inherit: the ignored signals (exec keeps
    SIG_IGN, resets handlers) and this thread's signal mask."""
    ignored = []
    for sig in signal.valid_signals():
        if sig in (signal.SIGKILL, signal.SIGSTOP):
            continue
        with contextlib.suppress(ValueError, OSError):
            if signal.getsignal(sig) == signal.SIG_IGN:
                ignored.append(int(sig))
    mask = [int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, [])]
    return ignored, mask


def run(
    argv: list[str], env: Mapping[str, str], timeout: float, *, module: str = "runbook_helpers"
) -> subprocess.CompletedProcess[str] | None:
    """``python -m MODULE ARGV`` with exactly ``env``, forked from the pre-imported server;
    ``None`` when it has to be a fresh interpreter (no server, start-up env differs).
    Raises :class:`subprocess.TimeoutExpired` (the child killed) after ``timeout`` seconds."""
    server = _ready()
    if server is None or _startup_env(env) != server.startup_env:
        return None
    return _fork(server, module, argv, env, timeout)


def _fork(
    server: _Server, module: str, argv: list[str], env: Mapping[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", module, *argv]
    fifos = tempfile.mkdtemp(dir=server.fifo_dir)
    paths = (os.path.join(fifos, "stdout"), os.path.join(fifos, "stderr"))
    readers: list[int] = []
    writers: list[int] = []
    try:
        for path in paths:
            os.mkfifo(path, 0o600)
            readers.append(os.open(path, os.O_RDONLY | os.O_NONBLOCK))
            writers.append(os.open(path, os.O_WRONLY))  # EOF only once the child closed too
        ignored, mask = _signals()
        request = _Request(
            module,
            argv,
            dict(env),
            os.getcwd(),
            server.fresh_path,
            paths,
            ignored,
            mask,
        )
        proc = server.context.Process(target=_child, args=(request,), name=_NAME)
        proc.start()
        out, err, finished = _collect(proc, readers, writers, time.monotonic() + timeout)
        if not finished:  # as subprocess.run: kill the child, raise with what it printed
            proc.kill()
            proc.join()
            raise subprocess.TimeoutExpired(cmd, timeout, output=out, stderr=err)
        proc.join()
        assert proc.exitcode is not None
        return subprocess.CompletedProcess(cmd, proc.exitcode, _text(out), _text(err))
    finally:
        for fd in readers + writers:
            with contextlib.suppress(OSError):
                os.close(fd)
        shutil.rmtree(fifos, ignore_errors=True)


def _text(data: bytes) -> str:
    """Decoded as ``subprocess.run(text=True)`` decodes (locale encoding, universal newlines)."""
    encoding = "utf-8" if sys.flags.utf8_mode else locale.getencoding()
    return data.decode(encoding).replace("\r\n", "\n").replace("\r", "\n")


def _collect(
    proc: multiprocessing.process.BaseProcess,
    readers: list[int],
    writers: list[int],
    deadline: float,
) -> tuple[bytes, bytes, bool]:
    """Everything written to the FIFOs until the child exited and every writer closed them,
    and whether that happened before the deadline."""
    chunks: dict[int, list[bytes]] = {fd: [] for fd in readers}
    with selectors.DefaultSelector() as selector:
        for fd in readers:
            selector.register(fd, selectors.EVENT_READ)
        selector.register(proc.sentinel, selectors.EVENT_READ)
        open_readers = set(readers)
        while open_readers:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            for key, _ in selector.select(remaining):
                fd = key.fd
                if fd == proc.sentinel:  # the child ended: only grandchildren may still write
                    selector.unregister(fd)
                    while writers:
                        os.close(writers.pop())
                    continue
                try:
                    data = os.read(fd, 65536)
                except BlockingIOError:
                    continue
                if data:
                    chunks[fd].append(data)
                else:
                    selector.unregister(fd)
                    open_readers.discard(fd)
    out, err = (b"".join(chunks[fd]) for fd in readers)
    return out, err, not open_readers


@dataclass(frozen=True)
class _Request:
    """One run, sent to the forked child (pickled)."""

    module: str
    argv: list[str]
    env: dict[str, str]
    cwd: str
    fresh_path: list[str]
    fifos: tuple[str, str]
    ignored_signals: list[int]
    mask: list[int]


def _child(request: _Request) -> NoReturn:
    """In the forked child: become a fresh ``python -m MODULE ARGV``, run, exit."""
    _become_fresh(request)
    code, interrupted = _run_main(request.module, request.argv)
    try:  # what Py_FinalizeEx does before the process ends
        threading._shutdown()  # type: ignore[attr-defined]
        atexit._run_exitfuncs()
    except BaseException:
        sys.excepthook(*sys.exc_info())
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            code = 120
    if interrupted:  # as CPython ends on an uncaught KeyboardInterrupt
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    os._exit(code)


def _become_fresh(request: _Request) -> None:
    os.environ.clear()
    os.environ.update(request.env)
    tempfile.tempdir = None
    time.tzset()
    os.chdir(request.cwd)
    sys.path[:] = [request.cwd, *request.fresh_path]
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    for target, path in zip((1, 2), request.fifos, strict=True):
        fd = os.open(path, os.O_WRONLY)
        os.dup2(fd, target)
        os.close(fd)
    # Standard streams as the interpreter makes them for files: stdout block-buffered,
    # stderr line-buffered; the server computed their encoding from the same start-up env.
    assert sys.__stdout__ is not None and sys.__stderr__ is not None
    encoding, errors = sys.__stdout__.encoding, sys.__stdout__.errors
    unbuffered = sys.__stdout__.write_through  # -u or $PYTHONUNBUFFERED
    stdin = open(0, encoding=encoding, closefd=False)  # noqa: SIM115
    stdout = open(1, "w", encoding=encoding, errors=errors, closefd=False)  # noqa: SIM115
    stderr = open(2, "w", encoding=encoding, errors="backslashreplace", closefd=False)  # noqa: SIM115
    for stream in (stdout, stderr):  # unbuffered: write_through; else stderr line-buffered
        stream.reconfigure(
            write_through=unbuffered, line_buffering=stream is stderr and not unbuffered
        )
    for name, stream in (("stdin", stdin), ("stdout", stdout), ("stderr", stderr)):
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)
    for sig in signal.valid_signals():
        if sig in (signal.SIGKILL, signal.SIGSTOP):
            continue
        with contextlib.suppress(ValueError, OSError):
            signal.signal(sig, signal.SIG_IGN if sig in request.ignored_signals else signal.SIG_DFL)
    for sig in (signal.SIGPIPE, signal.SIGXFSZ):  # what CPython ignores at start-up
        signal.signal(sig, signal.SIG_IGN)
    if signal.SIGINT not in request.ignored_signals:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.pthread_sigmask(signal.SIG_SETMASK, request.mask)


def _run_main(module: str, argv: list[str]) -> tuple[int, bool]:
    """Run ``MODULE`` as ``-m`` does: the exit status, and whether an uncaught
    KeyboardInterrupt ended it."""
    import runpy

    sys.argv = ["-m", *argv]  # run_module(alter_sys=True) puts the __main__.py path first
    for name in (module, f"{module}.__main__"):  # what runs as __main__ is not imported yet
        if not hasattr(sys.modules.get(name), "__path__"):
            sys.modules.pop(name, None)
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        return _exit_status(exc), False
    except BaseException as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)
        return 1, isinstance(exc, KeyboardInterrupt)
    return 0, False


def _exit_status(exc: SystemExit) -> int:
    """The status CPython exits with for an uncaught ``SystemExit``."""
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code & 0xFF
    with contextlib.suppress(Exception):
        print(exc.code, file=sys.stderr)
    return 1
