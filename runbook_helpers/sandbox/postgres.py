"""A throw-away PostgreSQL server: local binaries, the ``pgserver`` wheel, Docker, or external.

``postgres_server(kind)`` yields a :class:`PostgresServer` and stops/removes everything it
started on exit, also when the body or the start-up fails (one ExitStack, one cleanup path).

``local`` and ``pgserver`` run ``initdb`` + ``pg_ctl start`` from a bin directory into a fresh
temp dir (``--auth=trust``, superuser ``postgres``, ``fsync=off``), listening on 127.0.0.1 at a
free port with its unix socket inside the temp dir. PostgreSQL refuses to run as root, so when
we are root the server programs run as the unprivileged ``postgres`` user (``runuser -u``) and
the temp dir is chowned to it.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg import sql

from runbook_helpers.pgtools import candidate_bin_dirs, tool_version
from runbook_helpers.sandbox import SandboxError

log = logging.getLogger(__name__)

KINDS = ("auto", "local", "pgserver", "docker", "external")
SERVER_PROGRAMS = ("initdb", "pg_ctl", "postgres")
CLIENT_PROGRAMS = ("psql", "pg_dump", "pg_restore")
# Unprivileged accounts tried, in order, for running the server when we are root.
SERVER_USERS = ("postgres", "nobody")
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
_MAX_SOCKET_PATH = 100  # sockaddr_un.sun_path is 108 bytes, minus ".s.PGSQL.NNNNN"


@dataclass(frozen=True)
class PostgresServer:
    """How to reach a running server; ``bin_dir`` holds client tools of its major version."""

    kind: str  # "local" | "pgserver" | "docker" | "external"
    host: str
    port: int
    user: str
    password: str | None = field(repr=False)
    bin_dir: Path | None
    major: int

    def url(self, dbname: str = "postgres") -> str:
        """``postgresql://user[:password]@host:port/dbname`` (a socket-dir host goes in ?host=)."""
        auth = quote(self.user, safe="")
        if self.password:
            auth += ":" + quote(self.password, safe="")
        if self.host.startswith("/"):
            socket_dir = quote(self.host, safe="")
            return f"postgresql://{auth}@:{self.port}/{quote(dbname, safe='')}?host={socket_dir}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"postgresql://{auth}@{host}:{self.port}/{quote(dbname, safe='')}"

    def env(self) -> dict[str, str]:
        """``PGHOST``, ``PGPORT``, ``PGUSER`` and, when the server has one, ``PGPASSWORD``."""
        env = {"PGHOST": self.host, "PGPORT": str(self.port), "PGUSER": self.user}
        if self.password:
            env["PGPASSWORD"] = self.password
        return env

    def connect(self, dbname: str = "postgres") -> psycopg.Connection[Any]:
        """An autocommit connection (the caller closes it; use it in a ``with``)."""
        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password or None,
            dbname=dbname,
            autocommit=True,
            connect_timeout=10,
        )

    def server_version_num(self) -> int:
        with self.connect() as conn:
            row = conn.execute("show server_version_num").fetchone()
        assert row is not None
        return int(row[0])

    def create_database(self, name: str) -> str:
        """Create an empty database ``name`` and return its URL."""
        with self.connect() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop ``name`` if it exists, disconnecting its sessions (``WITH (FORCE)``, PG13+)."""
        with self.connect() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def list_databases(self) -> list[str]:
        """Names of the non-template databases, sorted."""
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT datname FROM pg_database WHERE NOT datistemplate ORDER BY 1"
            ).fetchall()
        return [str(r[0]) for r in rows]


# --------------------------------------------------------------------------- entry point


@contextmanager
def postgres_server(
    kind: str = "auto", *, workdir: Path | None = None, major: int | None = None
) -> Iterator[PostgresServer]:
    """Start (or describe) a PostgreSQL server of ``kind``; stop and remove it on exit.

    ``auto`` tries docker (only when an engine answers), then local, then pgserver.
    ``major`` asks for a server major version; a backend that cannot give it raises
    :class:`SandboxError` (``auto`` then tries the next one).
    """
    if kind not in KINDS:
        raise SandboxError(
            f"unknown PostgreSQL sandbox kind {kind!r}",
            hint=f"use one of: {', '.join(KINDS)} (RUNBOOK_PG)",
        )
    if kind != "auto":
        with _BACKENDS[kind](workdir, major) as server:
            yield server
        return
    ok, reason = docker_available()
    order = ["docker", "local", "pgserver"] if ok else ["local", "pgserver"]
    failures = [] if ok else [f"docker: skipped, no Docker engine answers ({reason})"]
    with ExitStack() as stack:
        for name in order:
            try:
                server = stack.enter_context(_BACKENDS[name](workdir, major))
                break
            except SandboxError as exc:
                log.info("sandbox backend %s unavailable: %s", name, exc)
                failures.append(f"{name}: {exc}")
        else:
            raise SandboxError(
                "no PostgreSQL sandbox backend could be started:\n  " + "\n  ".join(failures),
                hint="install PostgreSQL server binaries (Debian/Ubuntu: apt-get install "
                "postgresql-NN), or pip install pgserver, or start Docker, or point "
                "RUNBOOK_PG=external with PGHOST/PGPORT/PGUSER/PGPASSWORD at a server",
            )
        yield server


def docker_available() -> tuple[bool, str]:
    """``(True, "")`` when a Docker engine answers a ping, else ``(False, why not)``."""
    try:
        docker: Any = importlib.import_module("docker")
    except ImportError as exc:
        return False, f"the docker Python package is not installed ({exc})"
    try:
        client = docker.from_env(timeout=5)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:  # any failure means "no engine": report it, never raise
        text = " ".join(str(exc).split())
        return False, f"{type(exc).__name__}: {text[:300]}"
    return True, ""


# --------------------------------------------------------------------------- bin dirs


def _has_programs(bin_dir: Path, names: tuple[str, ...]) -> bool:
    return all(os.access(bin_dir / n, os.X_OK) for n in names)


def local_bin_dir(major: int | None = None) -> tuple[Path, list[str]]:
    """The newest (or the ``major``) machine install with the server programs, + what was tried."""
    candidates: list[Path] = list(candidate_bin_dirs())
    for prog in ("pg_ctl", "postgres", "initdb"):
        found = shutil.which(prog)
        if found:
            candidates.append(Path(found).resolve().parent)
    tried: list[str] = []
    seen: set[Path] = set()
    for bin_dir in candidates:
        if bin_dir in seen:
            continue
        seen.add(bin_dir)
        if not _has_programs(bin_dir, SERVER_PROGRAMS):
            tried.append(f"{bin_dir} (no {'/'.join(SERVER_PROGRAMS)})")
            continue
        found_major, _ = tool_version(bin_dir / "postgres")
        if major is not None and found_major != major:
            tried.append(f"{bin_dir} (PostgreSQL {found_major}, not {major})")
            continue
        return bin_dir, tried
    if not tried:
        tried.append("/usr/lib/postgresql/*/bin, /usr/pgsql-*/bin, Homebrew postgresql@*, PATH")
    want = f"PostgreSQL {major} " if major else "PostgreSQL "
    raise SandboxError(
        f"no {want}server binaries found (tried: {'; '.join(tried)})",
        hint=f"install them (Debian/Ubuntu: apt-get install postgresql-{major or 'NN'}; "
        f"RHEL: postgresql{major or 'NN'}-server; macOS: brew install postgresql@{major or 'NN'}) "
        "or use RUNBOOK_PG=pgserver (pip install pgserver) / docker / external",
    )


def pgserver_bin_dir() -> Path:
    """``<site-packages>/pgserver/pginstall/bin`` of the pgserver wheel (not imported)."""
    try:
        spec = importlib.util.find_spec("pgserver")
    except (ImportError, ValueError) as exc:
        spec = None
        why = str(exc)
    else:
        why = "module not found"
    if spec is None or not spec.submodule_search_locations:
        raise SandboxError(
            f"the pgserver wheel is not installed ({why})",
            hint="pip install 'pgserver>=0.1.4' (ships PostgreSQL 16 binaries)",
        )
    tried = []
    for location in spec.submodule_search_locations:
        bin_dir = Path(location) / "pginstall" / "bin"
        if _has_programs(bin_dir, SERVER_PROGRAMS):
            return bin_dir
        tried.append(str(bin_dir))
    raise SandboxError(
        f"the pgserver wheel has no usable server binaries (tried: {', '.join(tried)})",
        hint="reinstall it: pip install --force-reinstall 'pgserver>=0.1.4'",
    )


def client_bin_dir(major: int) -> Path | None:
    """A bin dir with psql/pg_dump/pg_restore of exactly ``major`` (machine or pgserver)."""
    dirs = list(candidate_bin_dirs())
    with suppress(SandboxError):
        dirs.append(pgserver_bin_dir())
    for bin_dir in dirs:
        if _has_programs(bin_dir, CLIENT_PROGRAMS) and tool_version(bin_dir / "psql")[0] == major:
            return bin_dir
    return None


# --------------------------------------------------------------------------- running as a user


@dataclass(frozen=True)
class _RunAs:
    """Runs server programs, as an unprivileged user when we are root."""

    prefix: tuple[str, ...] = ()
    uid: int | None = None
    gid: int | None = None
    name: str = ""

    @classmethod
    def detect(cls) -> _RunAs:
        if os.geteuid() != 0:
            return cls()
        runuser = shutil.which("runuser")
        if runuser is None:
            raise SandboxError(
                "running as root and runuser(1) is missing: PostgreSQL refuses to run as root",
                hint="run the tests as an ordinary user, or install util-linux (runuser)",
            )
        for name in SERVER_USERS:
            try:
                entry = pwd.getpwnam(name)
            except KeyError:
                continue
            return cls((runuser, "-u", name, "--"), entry.pw_uid, entry.pw_gid, name)
        raise SandboxError(
            f"running as root and none of the users {', '.join(SERVER_USERS)} exists: "
            "PostgreSQL refuses to run as root",
            hint="create one (useradd --system postgres) or run as an ordinary user",
        )

    def chown(self, path: Path) -> None:
        if self.uid is not None and self.gid is not None:
            os.chown(path, self.uid, self.gid)

    def run(
        self, args: list[str], *, cwd: Path, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        return subprocess.run(
            [*self.prefix, *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def can_use(self, path: Path, test: str) -> bool:
        """Whether the server user passes ``test -<test> path`` (``x`` for dirs, ``w`` ...)."""
        if not self.prefix:
            return True
        return self.run(["test", f"-{test}", str(path)], cwd=Path("/")).returncode == 0


def _usable_bin_dir(run_as: _RunAs, bin_dir: Path, scratch: Path) -> Path:
    """``bin_dir``, or a readable copy of its install tree when the server user can't run it.

    pgserver's binaries find ``../lib`` and ``../share`` relative to themselves and their
    bundled libpq through ``RPATH $ORIGIN/../../../pgserver.libs`` (auditwheel), so the copy
    keeps that layout: ``scratch/pgserver/pginstall`` + ``scratch/pgserver.libs``.
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


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _scratch_dir(run_as: _RunAs, workdir: Path | None) -> Path:
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


def _stop_cluster(run_as: _RunAs, bin_dir: Path, data: Path) -> None:
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


@contextmanager
def _cluster(kind: str, bin_dir: Path, workdir: Path | None) -> Iterator[PostgresServer]:
    """initdb + start from ``bin_dir`` in a temp dir; stop and remove it on exit."""
    run_as = _RunAs.detect()
    with ExitStack() as stack:
        scratch = _scratch_dir(run_as, workdir)
        stack.callback(shutil.rmtree, scratch, ignore_errors=True)
        bin_dir = _usable_bin_dir(run_as, bin_dir, scratch)
        major, _ = tool_version(bin_dir / "postgres")
        data, sock, logfile = scratch / "data", scratch / "sock", scratch / "postgres.log"
        sock.mkdir()
        run_as.chown(sock)
        initdb = run_as.run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
            cwd=scratch,
        )
        if initdb.returncode != 0:
            raise SandboxError(
                f"initdb ({bin_dir}) failed as {run_as.name or 'current user'}: "
                f"{(initdb.stderr or initdb.stdout).strip()[-800:]}",
                hint="check that the server user can read the binaries and write the temp dir",
            )
        settings = dict(FAST_SETTINGS)
        settings["unix_socket_directories"] = (
            f"'{sock}'" if len(str(sock)) < _MAX_SOCKET_PATH else "''"
        )
        with (data / "postgresql.conf").open("a") as conf:
            conf.write("\n# runbook sandbox\n")
            conf.writelines(f"{k} = {v}\n" for k, v in settings.items())
        pg_ctl = str(bin_dir / "pg_ctl")
        for attempt in range(3):
            port = _free_port()
            start = run_as.run(
                [
                    pg_ctl,
                    "-D",
                    str(data),
                    "-l",
                    str(logfile),
                    "-o",
                    f"-p {port}",
                    "-w",
                    "-t",
                    "60",
                    "start",
                ],
                cwd=scratch,
            )
            if start.returncode == 0:
                break
            log_text = _tail(logfile)
            _stop_cluster(run_as, bin_dir, data)
            if "already in use" not in log_text or attempt == 2:
                raise SandboxError(
                    f"PostgreSQL {major} ({bin_dir}) did not start: "
                    f"{start.stderr.strip()}\n{log_text}",
                    hint=f"see {logfile} (kept until exit)",
                )
        stack.callback(_stop_cluster, run_as, bin_dir, data)
        server = PostgresServer(kind, "127.0.0.1", port, "postgres", None, bin_dir, major)
        log.info("started %s PostgreSQL %s on port %s in %s", kind, major, port, scratch)
        yield server


# --------------------------------------------------------------------------- backends


@contextmanager
def _local(workdir: Path | None, major: int | None) -> Iterator[PostgresServer]:
    bin_dir, _ = local_bin_dir(major)
    with _cluster("local", bin_dir, workdir) as server:
        yield server


@contextmanager
def _pgserver(workdir: Path | None, major: int | None) -> Iterator[PostgresServer]:
    bin_dir = pgserver_bin_dir()
    found, _ = tool_version(bin_dir / "postgres")
    if major is not None and found != major:
        raise SandboxError(
            f"the pgserver wheel ships PostgreSQL {found}, not {major}",
            hint="use RUNBOOK_PG=local or docker for other versions",
        )
    with _cluster("pgserver", bin_dir, workdir) as server:
        yield server


@contextmanager
def _docker(workdir: Path | None, major: int | None) -> Iterator[PostgresServer]:
    ok, reason = docker_available()
    if not ok:
        raise SandboxError(
            f"no Docker engine answers: {reason}",
            hint="start Docker (or set DOCKER_HOST), or use RUNBOOK_PG=local / pgserver",
        )
    from testcontainers.community.postgres import PostgresContainer

    version = major or 16
    password = secrets.token_urlsafe(18)
    container = PostgresContainer(
        f"postgres:{version}",
        username="postgres",
        password=password,
        dbname="postgres",
        driver=None,
    )
    with container:
        host = container.get_container_host_ip()
        port = int(container.get_exposed_port(5432))
        yield PostgresServer(
            "docker", host, port, "postgres", password, client_bin_dir(version), version
        )


@contextmanager
def _external(workdir: Path | None, major: int | None) -> Iterator[PostgresServer]:
    host = os.environ.get("PGHOST", "")
    if not host:
        raise SandboxError(
            "RUNBOOK_PG=external needs PGHOST (and PGPORT, PGUSER, PGPASSWORD) "
            "to describe the server",
            hint="export PGHOST=... PGPORT=5432 PGUSER=postgres PGPASSWORD=...",
        )
    server = PostgresServer(
        "external",
        host,
        int(os.environ.get("PGPORT") or 5432),
        os.environ.get("PGUSER") or "postgres",
        os.environ.get("PGPASSWORD") or None,
        None,
        0,
    )
    try:
        server = replace(server, major=server.server_version_num() // 10000)
    except psycopg.Error as exc:
        raise SandboxError(
            f"cannot connect to the external server {host}:{server.port} as {server.user}: "
            f"{' '.join(str(exc).split())}",
            hint="check PGHOST/PGPORT/PGUSER/PGPASSWORD; the user needs CREATEDB",
        ) from exc
    if major is not None and server.major != major:
        raise SandboxError(
            f"the external server is PostgreSQL {server.major}, not {major}",
            hint="point PG* at a server of that version",
        )
    yield server


_BACKENDS = {"local": _local, "pgserver": _pgserver, "docker": _docker, "external": _external}
