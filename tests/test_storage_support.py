"""Helpers shared by the storage-side tests (no tests here).

``run_cli`` runs ``runbook`` in-process with a given environment and checks, on every call, the
two promises every command makes: no traceback, and no secret in anything printed.
"""

from __future__ import annotations

import gzip
import io
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

from runbook_helpers.cli import main
from runbook_helpers.cli.output import Output
from runbook_helpers.sandbox.ports import free_port

__all__ = ["CliResult", "free_port", "gz_bytes", "run_cli", "write_profile"]


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
