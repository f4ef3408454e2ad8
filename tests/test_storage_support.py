"""Helpers shared by the storage-side tests (no tests here).

``run_cli`` runs ``runbook`` in-process with a given environment and checks, on every call, the
two promises every command makes: no traceback, and no secret in anything printed.
"""

from __future__ import annotations

import gzip
import io
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

from runbook_helpers.cli import main
from runbook_helpers.cli.output import Output


@dataclass(frozen=True)
class CliResult:
    status: int
    stdout: str
    stderr: str

    @property
    def error_line(self) -> str:
        """The ``runbook: error: ...`` line (exactly one is printed for an expected failure)."""
        lines = [ln for ln in self.stderr.splitlines() if ln.startswith("runbook: error: ")]
        assert len(lines) == 1, self.stderr
        return lines[0]


def run_cli(argv: list[str], env: Mapping[str, str], *, secrets: Iterable[str] = ()) -> CliResult:
    stdout, stderr = io.StringIO(), io.StringIO()
    with mock.patch.dict(os.environ, dict(env), clear=True):
        status = main(argv, Output(stdout, stderr, is_tty=False))
    result = CliResult(status, stdout.getvalue(), stderr.getvalue())
    printed = result.stdout + result.stderr
    assert "Traceback" not in printed, printed
    for secret in secrets:
        if secret:
            assert secret not in printed, f"secret leaked in output:\n{printed}"
    return result


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def gz_bytes(size: int, seed: int = 1) -> bytes:
    """A gzip stream of ``size`` pseudo-random-ish (poorly compressible) bytes."""
    import random

    rnd = random.Random(seed)
    return gzip.compress(rnd.randbytes(size), compresslevel=1)


def write_profile(
    directory: Path, name: str, endpoint: str, key: str, secret: str
) -> dict[str, str]:
    """An AWS config/credentials pair for ``name``; returns the env pointing at it."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config").write_text(
        f"[profile {name}]\nregion = auto\nendpoint_url = {endpoint}\n"
    )
    (directory / "credentials").write_text(
        f"[{name}]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\n"
    )
    return {
        "AWS_CONFIG_FILE": str(directory / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(directory / "credentials"),
    }


@contextmanager
def auth_checking_moto(workdir: Path) -> Iterator[str]:
    """A moto server that checks credentials (unknown keys get InvalidAccessKeyId)."""
    port = free_port()
    env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="0")
    moto_server = Path(sys.executable).with_name("moto_server")
    log = (workdir / "moto-auth.log").open("wb")
    proc = subprocess.Popen(
        [str(moto_server), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log, env=env
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto_server did not start: {workdir}") from None
                time.sleep(0.1)
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()
