"""Start moto's server as a child process on a free port: the one moto start-up.

``start_moto(stack, logfile)`` runs :mod:`runbook_helpers.sandbox.moto_app` (moto's WSGI app
behind the presigned-URL check) on 127.0.0.1, waits until it answers, and registers its stop on
``stack``. A child process keeps moto's state (and its global auth switch) away from any
``mock_aws`` in this process and is killed cleanly.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import ExitStack
from pathlib import Path

from runbook_helpers.sandbox import SandboxError
from runbook_helpers.sandbox.ports import free_port

START_TIMEOUT = 30.0


def _wait_ready(endpoint: str, proc: subprocess.Popen[bytes], logfile: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SandboxError(
                f"the moto server exited with status {proc.returncode}: "
                f"{logfile.read_text(errors='replace')[-800:]}",
                hint="pip install 'moto[server]>=5'",
            )
        try:
            with urllib.request.urlopen(endpoint + "/moto-api/", timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.05)
    raise SandboxError(
        f"the moto server at {endpoint} did not answer within {START_TIMEOUT:.0f} s",
        hint=f"see {logfile}",
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def start_moto(stack: ExitStack, logfile: Path) -> str:
    """Start moto on a free port (retried if another process takes it); its ``http://`` URL."""
    for attempt in range(3):
        port = free_port()
        endpoint = f"http://127.0.0.1:{port}"
        with logfile.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "runbook_helpers.sandbox.moto_app", str(port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
            )
        try:
            _wait_ready(endpoint, proc, logfile)
        except SandboxError:
            _stop(proc)
            if attempt == 2 or "in use" not in logfile.read_text(errors="replace"):
                raise
            continue
        stack.callback(_stop, proc)
        return endpoint
    raise AssertionError("unreachable")


def enable_auth(endpoint: str) -> None:
    """From now on moto checks every request's key, signature and IAM policy."""
    request = urllib.request.Request(
        endpoint + "/moto-api/reset-auth",
        data=b"0",
        method="POST",
        headers={"Content-Type": "text/plain"},
    )
    with urllib.request.urlopen(request, timeout=10):
        pass
