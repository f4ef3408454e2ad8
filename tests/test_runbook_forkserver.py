"""A run forked from the pre-imported server (``tests/support/runbook_forkserver.py``) is what a
fresh ``python -m`` interpreter would have been: the same probe, run both ways, must see the
same start and end the same way."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runbook_helpers.errors import ExitStatus
from tests.support import runbook_forkserver
from tests.support.cli_runs import run_runbook

PROBE = "tests.support.interpreter_probe"
ROOT = Path(__file__).resolve().parents[1]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A small environment unlike the worker's (so replacing it shows), start-up vars kept."""
    keep = {k: v for k, v in os.environ.items() if runbook_forkserver._STARTUP_ENV.fullmatch(k)}
    tmp = tmp_path / "tmp"
    tmp.mkdir(exist_ok=True)
    return {
        **keep,
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(ROOT),
        "TMPDIR": str(tmp),
        "PROBE_ONLY_IN_ENV": "yes",
        **extra,
    }


def forked(
    argv: list[str], env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    proc = runbook_forkserver.run(argv, env, timeout, module=PROBE)
    assert proc is not None, "the forkserver did not start (see the log)"
    return proc


def fresh(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", PROBE, *argv]
    return subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A server started with the probe's start-up vars (PYTHONPATH, so that a fresh interpreter
    imports the probe too), stopped afterwards: the worker's next run starts one of its own."""
    preload = runbook_forkserver._preload
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", str(ROOT))
        # the probe preloaded too: its import reads $TMPDIR, which must not stick to the children
        patch.setenv("TMPDIR", str(tmp_path_factory.mktemp("server-tmp")))
        patch.setattr(runbook_forkserver, "_preload", lambda: [*preload(), PROBE])
        runbook_forkserver._stop()
        yield
        runbook_forkserver._stop()


@pytest.fixture
def env(server: None, tmp_path: Path) -> dict[str, str]:
    return _env(tmp_path)


def test_a_forked_run_starts_as_a_fresh_interpreter(env: dict[str, str], tmp_path: Path) -> None:
    a, b = forked(["report"], env), fresh(["report"], env)
    assert (a.returncode, a.stderr, b.returncode, b.stderr) == (0, "", 0, "")
    seen, expected = json.loads(a.stdout), json.loads(b.stdout)
    assert seen["environ"] == env  # exactly env, nothing of the worker's
    assert seen["tempdir"] == str(tmp_path / "tmp")  # $TMPDIR read anew
    assert seen["imported_with_tmpdir"] == str(tmp_path / "tmp")
    assert seen["stdin"] == [True, True]  # /dev/null
    assert seen["main"] == "__main__"
    # sys.argv[0] is the probe's path either way; Python's own (fresh) run may differ only there
    assert seen == expected


def test_tmpdir_is_read_anew_on_every_run(env: dict[str, str], tmp_path: Path) -> None:
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        seen = json.loads(forked(["report"], dict(env, TMPDIR=str(tmp_path / name))).stdout)
        assert seen["tempdir"] == str(tmp_path / name)


@pytest.mark.parametrize("code", [0, 1, 3, 70, 255])
def test_exit_codes_and_output_pass_through(env: dict[str, str], code: int) -> None:
    a, b = forked(["exit", str(code)], env), fresh(["exit", str(code)], env)
    assert (a.returncode, a.stdout, a.stderr) == (code, "out before exit\n", "err before exit\n")
    assert (a.returncode, a.stdout, a.stderr) == (b.returncode, b.stdout, b.stderr)


def test_a_text_exit_is_printed_and_exits_1(env: dict[str, str]) -> None:
    a, b = forked(["exit-text", "gone"], env), fresh(["exit-text", "gone"], env)
    assert (a.returncode, a.stderr) == (1, "gone\n") == (b.returncode, b.stderr)


def test_an_uncaught_exception_prints_its_traceback_and_exits_1(env: dict[str, str]) -> None:
    a, b = forked(["raise"], env), fresh(["raise"], env)
    for proc in (a, b):
        assert proc.returncode == 1
        assert proc.stderr.startswith("Traceback (most recent call last):\n"), proc.stderr
        assert proc.stderr.endswith("RuntimeError: probe failure\n"), proc.stderr


def test_an_uncaught_keyboard_interrupt_ends_by_sigint(env: dict[str, str]) -> None:
    a, b = forked(["interrupt"], env), fresh(["interrupt"], env)
    assert a.returncode == b.returncode == -2
    assert "KeyboardInterrupt" in a.stderr


def test_a_grandchild_s_output_is_captured_to_the_end(env: dict[str, str]) -> None:
    a, b = forked(["grandchild"], env), fresh(["grandchild"], env)
    assert (a.returncode, a.stdout, a.stderr) == (
        0,
        "child out\ngrandchild out\n",
        "grandchild err\n",
    )
    assert (a.stdout, a.stderr) == (b.stdout, b.stderr)


def test_a_timeout_kills_the_child_and_raises(env: dict[str, str]) -> None:
    started = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired) as caught:
        forked(["sleep"], env, timeout=1.5)
    assert time.monotonic() - started < 10
    pid = int(caught.value.output)
    for _ in range(100):  # killed and reaped by the server
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"probe {pid} still alive after the timeout")
    assert caught.value.timeout == 1.5
    assert caught.value.cmd[1:3] == ["-m", PROBE]


def test_a_different_start_up_environment_gets_a_fresh_interpreter(env: dict[str, str]) -> None:
    assert (
        runbook_forkserver.run(["report"], dict(env, PYTHONHASHSEED="7"), 60, module=PROBE) is None
    )
    assert runbook_forkserver.run(["report"], dict(env, LC_ALL="C"), 60, module=PROBE) is None


def test_run_runbook_forks_the_real_cli(tmp_path: Path) -> None:
    env = dict(os.environ, TMPDIR=str(tmp_path))
    proc = runbook_forkserver.run(["--version"], env, 60)
    assert proc is not None and proc.returncode == 0 and proc.stdout.startswith("runbook ")
    assert run_runbook(["--version"], env).stdout == proc.stdout
    usage = run_runbook(["restore"], env)
    assert usage.status == ExitStatus.USAGE, usage
    assert "usage: runbook restore" in usage.stderr


def test_an_ignored_sigint_stays_ignored_as_across_exec(env: dict[str, str]) -> None:
    """A CI runner may start the suite with SIGINT ignored: a fresh interpreter inherits that."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        seen = json.loads(forked(["report"], env).stdout)["signals"]
        expected = json.loads(fresh(["report"], env).stdout)["signals"]
    finally:
        signal.signal(signal.SIGINT, previous)
    assert seen["SIGINT"] == str(signal.SIG_IGN)
    assert seen == expected


def test_no_server_falls_back_to_a_fresh_interpreter(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def cannot_start() -> None:
        raise OSError("no fork here")

    runbook_forkserver._stop()
    monkeypatch.setattr(runbook_forkserver, "_start", cannot_start)
    monkeypatch.setattr(runbook_forkserver, "_unavailable", None)
    env = dict(os.environ, TMPDIR=str(tmp_path))
    assert runbook_forkserver.run(["--version"], env, 60) is None
    assert "no fork here" in caplog.text
    assert run_runbook(["--version"], env).stdout.startswith("runbook ")
