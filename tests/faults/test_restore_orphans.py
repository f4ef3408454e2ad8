"""``kill -9`` of ``runbook restore`` (the OOM killer, a closed container) takes its pg_restore
along: nothing restores on, for minutes, into a side database nobody will use."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.support import faults
from tests.support.cli_runs import spawn_runbook

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG and /proc are Linux's"
)


def _stat(pid: int) -> tuple[str, str, int] | None:
    """(command name, state, parent pid) from /proc/PID/stat; None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    name, rest = text[text.index("(") + 1 : text.rindex(")")], text[text.rindex(")") + 2 :].split()
    return name, rest[0], int(rest[1])


def _argv(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    except (FileNotFoundError, ProcessLookupError):
        return []


def _stop_a_restoring_child(parent: int, timeout: float = 60) -> int:
    """SIGSTOP the first ``pg_restore --section=...`` child of ``parent`` (polled: each one
    lives briefly; ``pg_restore --version`` is not one)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert _stat(parent) is not None, f"{parent} ended before a pg_restore child was seen"
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                pid = int(entry.name)
                stat = _stat(pid)
                if stat and stat[0] == "pg_restore" and stat[2] == parent:
                    try:
                        os.kill(pid, signal.SIGSTOP)
                        if any(arg.startswith("--section") for arg in _argv(pid)):
                            return pid
                        os.kill(pid, signal.SIGCONT)
                    except ProcessLookupError:  # a short-lived one (--version) ended meanwhile
                        continue
    raise AssertionError(f"no pg_restore child of {parent} within {timeout} s")


def _terminated(pid: int) -> bool:
    """Gone, a zombie, or SIGTERM waiting for it (it is stopped: the signal stays pending)."""
    stat = _stat(pid)
    if stat is None or stat[1] in ("Z", "X"):
        return True
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    pending = 0
    for line in status:
        if line.startswith(("SigPnd:", "ShdPnd:")):
            pending |= int(line.split()[1], 16)
    return bool(pending & (1 << (signal.SIGTERM - 1)))


@pytest.mark.slow(seconds=8)
def test_sigkill_takes_its_pg_restore_along(
    seeded_tar_gz: Path, pg_url: str, sandbox_env: dict[str, str]
) -> None:
    proc = spawn_runbook(
        ["restore", str(seeded_tar_gz), "--target", pg_url, "-j", "2"], sandbox_env
    )
    child = None
    try:
        try:
            child = _stop_a_restoring_child(proc.pid)
        except AssertionError:
            if proc.wait(timeout=60) == 0:
                pytest.skip("every pg_restore ended before it could be stopped (machine too fast)")
            raise
        proc.kill()
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while not _terminated(child):
            assert time.monotonic() < deadline, "pg_restore outlived runbook's SIGKILL"
            time.sleep(0.05)
    finally:
        proc.kill()
        proc.communicate(timeout=10)
        if child is not None and _stat(child) is not None:
            os.kill(child, signal.SIGKILL)
            os.kill(child, signal.SIGCONT)
        admin = psycopg.conninfo.make_conninfo(pg_url, dbname="postgres")
        with psycopg.connect(admin, autocommit=True) as conn:
            for side in faults.side_databases(pg_url):
                conn.execute(
                    sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(side))
                )
