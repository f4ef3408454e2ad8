"""A corpus of backups that failed the way real nightly backups fail (no tests here).

Every case runs the backup template's own pipeline, through ``sh`` and without ``pipefail``:

    pg_dump --dbname=URL --format=tar | gzip > FILE

against a PostgreSQL 16 server (Railway's major), and breaks it the way production breaks it:
the dump's connection terminated, the server crash-restarted, pg_dump's tar spool directory
(``tmpfile()``, always ``/tmp``) on a tiny filesystem, pg_dump killed while it writes, database
timeouts, a lock, an upload cut short, an empty object. Nothing sleeps on a guess: each fault
is fired when ``pg_stat_activity`` shows the state it needs (the ``COPY`` of a named table,
its backend blocked on ``ClientWrite`` because pg_dump is stopped, a ``Lock`` wait).

:func:`build_corpus` records what the template leaves for each case (pipeline exit status,
object size, ``gzip -t``, GNU ``tar -tf``, ``bsdtar -tf``) in a :class:`Case`.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from runbook_helpers.sandbox.server import PostgresServer

SOURCE_DB = "fault_corpus_src"
#: name order is pg_dump's data order: a_first, then the largest table, then z_last
TABLES = {"a_first": 2_000, "m_big": 200_000, "z_last": 120_000}
SCHEMA = """
create table a_first (id int primary key, note text not null);
create table m_big (id int primary key, body text not null, n int not null);
create table z_last (id int primary key, body text not null);
insert into a_first select g, 'first ' || g from generate_series(1, {a_first}) g;
insert into m_big select g, 'message body number ' || g || ' ' || repeat('x', 60), g % 97
    from generate_series(1, {m_big}) g;
insert into z_last select g, 'tail row ' || g || ' ' || repeat('y', 60)
    from generate_series(1, {z_last}) g;
create index m_big_n on m_big (n);
""".format(**TABLES)
WAIT = 60.0  # seconds any awaited state may take before the corpus build fails


@dataclass(frozen=True)
class Case:
    """One backup as the template left it, and what the usual checks say about it."""

    name: str
    what: str  # how production gets here
    path: Path
    pipeline_status: int  # sh's exit status: gzip's, since there is no pipefail
    dump_stderr: str  # what pg_dump printed (the backup service's log)
    size: int
    gzip_t: int
    gnu_tar: int
    bsdtar: int
    restorable: bool  # the whole database is in it
    members: tuple[str, ...] = field(default=())  # what GNU tar lists

    @property
    def data(self) -> bytes:
        return self.path.read_bytes()


@dataclass
class Corpus:
    cases: dict[str, Case]
    seconds: float
    source_url: str
    row_counts: dict[str, int]

    def broken(self) -> list[Case]:
        return [c for c in self.cases.values() if not c.restorable]


# --- processes ------------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return [int(p) for p in path.read_text().split()]
    except (FileNotFoundError, ValueError):
        return []


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except FileNotFoundError:
        return ""


def _find_child(root: int, name: str) -> int:
    """The pid of the descendant of ``root`` called ``name`` (waits for it to exist)."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        todo = [root]
        while todo:
            pid = todo.pop()
            if _comm(pid) == name:
                return pid
            todo.extend(_children(pid))
        time.sleep(0.005)
    raise RuntimeError(f"no {name} process under pid {root}")


def _until(what: str, check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"fault corpus: gave up waiting for {what}")
        time.sleep(0.005)


# --- the template's pipeline ----------------------------------------------------------------


def template_pipeline(url: str, out: Path, env: dict[str, str], *, prefix: str = "") -> list[str]:
    """The template's command through ``sh`` (``prefix`` runs first in the same shell, after
    the output file is opened on fd 3: a prefix may mount over the directory it is in)."""
    script = f'exec 3> "$DUMP_OUT"; {prefix}pg_dump --dbname="$DUMP_URL" --format=tar | gzip >&3'
    env.update(DUMP_URL=url, DUMP_OUT=str(out))
    return ["sh", "-c", script]


def small_tmp_prefix(env: dict[str, str], work: Path) -> str:
    """Shell words that put a 4 MB tmpfs over ``/tmp`` (pg_dump spools there whatever
    ``$TMPDIR`` says) inside the pipeline's own mount namespace, with the entries of the old
    ``/tmp`` the pipeline needs bound back in place: a checkout, a venv or a pg_dump under
    ``/tmp`` (a CI clone there) must stay reachable, or pg_dump is not the one on ``PATH``."""
    needed = {Path.cwd(), work}
    for entry in env.get("PATH", "").split(os.pathsep):
        if entry:
            needed.add(Path(entry))
    tops = sorted({p.parts[2] for p in needed if len(p.parts) > 2 and p.parts[1] == "tmp"})
    # one fixed, empty directory outside /tmp: each namespace's bind mount on it is its own
    words = ["keep=/run/runbook-corpus-tmp", 'mkdir -p "$keep"', 'mount --bind /tmp "$keep"']
    words.append("mount -t tmpfs -o size=4m tmpfs /tmp")
    for top in tops:
        words.append(f'mkdir "/tmp/{top}" && mount --bind "$keep/{top}" "/tmp/{top}"')
    words.append(f'cd "{Path.cwd()}"')
    return " && ".join(words) + " && "


@contextmanager
def _pipeline(
    url: str, out: Path, env: dict[str, str], *, prefix: str = "", wrap: list[str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    env = dict(env)
    argv = template_pipeline(url, out, env, prefix=prefix)
    proc = subprocess.Popen(
        [*(wrap or []), *argv],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        yield proc
    except BaseException:
        with suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)  # our own pipeline's group: sh, pg_dump, gzip
            os.killpg(proc.pid, signal.SIGCONT)
        proc.wait(timeout=WAIT)
        raise


def _dump_backend(admin: psycopg.Connection[Any]) -> tuple[int, str, str | None, str | None]:
    row = admin.execute(
        "select pid, coalesce(query, ''), wait_event_type, wait_event from pg_stat_activity "
        "where application_name = 'pg_dump' and datname = %s",
        (SOURCE_DB,),
    ).fetchone()
    return (0, "", None, None) if row is None else (row[0], row[1], row[2], row[3])


def _copy_of(table: str) -> Callable[[psycopg.Connection[Any]], bool]:
    """Is pg_dump's backend running ``COPY table`` now (``query`` keeps the last one when
    idle, so the state is checked too)?"""

    def running(admin: psycopg.Connection[Any]) -> bool:
        pid, query, _, _ = _dump_backend(admin)
        if not pid or f"COPY public.{table} " not in query:
            return False
        row = admin.execute("select state from pg_stat_activity where pid = %s", (pid,))
        state = row.fetchone()
        return state is not None and state[0] == "active"

    return running


# --- the cases ------------------------------------------------------------------------------


class CorpusBuilder:
    def __init__(self, server: PostgresServer, work: Path, env: dict[str, str]) -> None:
        self.server = server
        self.work = work
        self.env = env
        self.url = server.url(SOURCE_DB)
        self.admin = psycopg.connect(server.url("postgres"), autocommit=True)

    def close(self) -> None:
        self.admin.close()

    def _reconnect_admin(self) -> None:
        with suppress(psycopg.Error):
            self.admin.close()
        deadline = time.monotonic() + WAIT
        while True:
            try:
                self.admin = psycopg.connect(self.server.url("postgres"), autocommit=True)
                self.admin.execute("select 1")
                return
            except psycopg.Error:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def seed(self) -> dict[str, int]:
        with suppress(psycopg.Error):
            self.admin.execute(f"drop database if exists {SOURCE_DB} with (force)")
        self.admin.execute(f"create database {SOURCE_DB}")
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(SCHEMA)
            conn.execute("vacuum analyze")
        return dict(TABLES)

    def run(
        self, name: str, fault: Callable[[subprocess.Popen[bytes]], None] | None = None, **kw: Any
    ) -> tuple[Path, int, str]:
        out = self.work / f"{name}.tar.gz"
        with _pipeline(self.url, out, self.env, **kw) as proc:
            if fault is not None:
                fault(proc)
            _, err = proc.communicate(timeout=WAIT)
        return out, proc.returncode, err.decode(errors="replace")

    # faults fired from inside a running pipeline

    def stop_dump_in_copy(self, proc: subprocess.Popen[bytes], table: str) -> int:
        """SIGSTOP pg_dump mid-``COPY table``; return once its backend blocks on ClientWrite
        (so the COPY cannot have finished). Returns pg_dump's pid (still stopped)."""
        dump = _find_child(proc.pid, "pg_dump")
        _until(f"COPY {table}", lambda: _copy_of(table)(self.admin))
        os.kill(dump, signal.SIGSTOP)
        _until(
            f"COPY {table} blocked on the stopped client",
            lambda: _dump_backend(self.admin)[3] == "ClientWrite",
        )
        return dump

    def terminate_in_copy(self, table: str) -> Callable[[subprocess.Popen[bytes]], None]:
        def fault(proc: subprocess.Popen[bytes]) -> None:
            dump = self.stop_dump_in_copy(proc, table)
            pid = _dump_backend(self.admin)[0]
            self.admin.execute("select pg_terminate_backend(%s, 10000)", (pid,))
            os.kill(dump, signal.SIGCONT)

        return fault

    def crash_restart_in_copy(self, proc: subprocess.Popen[bytes]) -> None:
        """A backend killed by the kernel (an OOM kill): the postmaster ends every session and
        restarts (crash recovery), as a managed database does on a restart."""
        dump = self.stop_dump_in_copy(proc, "m_big")
        victim = psycopg.connect(self.server.url("postgres"), autocommit=True)
        row = victim.execute("select pg_backend_pid()").fetchone()
        assert row is not None
        os.kill(int(row[0]), signal.SIGKILL)
        with suppress(psycopg.Error):
            victim.close()
        os.kill(dump, signal.SIGCONT)
        proc.wait(timeout=WAIT)
        self._reconnect_admin()

    def kill_while_writing(self, proc: subprocess.Popen[bytes]) -> None:
        """pg_dump SIGKILLed (the OOM killer, a stopped container) while it appends the
        largest table's member: gzip, stopped meanwhile, then ends its stream cleanly."""
        dump = _find_child(proc.pid, "pg_dump")
        gz = _find_child(proc.pid, "gzip")
        _until("COPY m_big", lambda: _copy_of("m_big")(self.admin))
        os.kill(gz, signal.SIGSTOP)
        # the COPY ends (it goes to the spool file), then pg_dump copies the spool to stdout
        # and blocks on the full pipe to the stopped gzip
        _until("m_big's COPY to end", lambda: not _copy_of("m_big")(self.admin))
        _until("pg_dump blocked on the pipe", lambda: _blocked_writing(dump))
        os.kill(dump, signal.SIGKILL)
        os.kill(gz, signal.SIGCONT)

    @contextmanager
    def lock_held(self, table: str) -> Iterator[None]:
        """Another session (a migration) holds ACCESS EXCLUSIVE on ``table``."""
        with psycopg.connect(self.url) as locker:
            locker.execute(f"lock table {table} in access exclusive mode")
            try:
                yield
            finally:
                locker.rollback()

    def terminate_waiting(self, proc: subprocess.Popen[bytes]) -> None:
        _until("pg_dump waiting on the lock", lambda: _dump_backend(self.admin)[2] == "Lock")
        pid = _dump_backend(self.admin)[0]
        self.admin.execute("select pg_terminate_backend(%s, 10000)", (pid,))

    def job_timeout_while_waiting(self, proc: subprocess.Popen[bytes]) -> None:
        """The database's lock_timeout does not stop pg_dump (it sets its own to 0): it waits
        until the job's own timeout sends SIGTERM to pg_dump."""
        _until("pg_dump waiting on the lock", lambda: _dump_backend(self.admin)[2] == "Lock")
        os.kill(_find_child(proc.pid, "pg_dump"), signal.SIGTERM)


def _blocked_writing(pid: int) -> bool:
    """Is ``pid`` asleep in ``write(1, ...)`` (x86-64 and arm64 syscall numbers)?"""
    try:
        fields = Path(f"/proc/{pid}/syscall").read_text().split()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    write = "64" if os.uname().machine == "aarch64" else "1"
    return state == "S" and fields[:2] == [write, "0x1"]


# --- what the usual checks say --------------------------------------------------------------


def _status(argv: list[str]) -> tuple[int, str]:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    return proc.returncode, proc.stdout + proc.stderr


def checks_of(path: Path) -> tuple[int, int, int, tuple[str, ...]]:
    """(``gzip -t``, GNU ``tar -tzf``, ``bsdtar -tzf``) exit statuses, and GNU tar's listing."""
    gz, _ = _status(["gzip", "-t", str(path)])
    gnu, listing = _status(["tar", "-tzf", str(path)])
    bsd = _status(["bsdtar", "-tzf", str(path)])[0] if shutil.which("bsdtar") else -1
    names = tuple(n for n in listing.splitlines() if n and not n.startswith("tar:"))
    return gz, gnu, bsd, names


def _case(name: str, what: str, path: Path, status: int, err: str, restorable: bool) -> Case:
    gz, gnu, bsd, names = checks_of(path)
    return Case(name, what, path, status, err, path.stat().st_size, gz, gnu, bsd, restorable, names)


def build_corpus(server: PostgresServer, work: Path, env: dict[str, str]) -> Corpus:
    """Every case of the module docstring, made once (about 10 s)."""
    started = time.monotonic()
    work.mkdir(parents=True, exist_ok=True)
    b = CorpusBuilder(server, work, env)
    cases: dict[str, Case] = {}

    def add(name: str, what: str, restorable: bool, run: tuple[Path, int, str]) -> None:
        cases[name] = _case(name, what, *run, restorable)

    try:
        counts = b.seed()
        add("complete", "a night without faults", True, b.run("complete"))
        with b.lock_held("m_big"):
            add(
                "terminated_before_data",
                "the dump's connection terminated while it waited for a lock, before any data",
                False,
                b.run("terminated_before_data", b.terminate_waiting),
            )
        add(
            "terminated_during_largest",
            "the dump's connection terminated mid-COPY of the largest table",
            False,
            b.run("terminated_during_largest", b.terminate_in_copy("m_big")),
        )
        add(
            "terminated_after_largest",
            "the dump's connection terminated after the largest table, mid-COPY of the next",
            False,
            b.run("terminated_after_largest", b.terminate_in_copy("z_last")),
        )
        add(
            "server_restart",
            "the server crash-restarted mid-COPY of the largest table",
            False,
            b.run("server_restart", b.crash_restart_in_copy),
        )
        add(
            "killed_while_writing",
            "pg_dump SIGKILLed while appending the largest table's member to the tar",
            False,
            b.run("killed_while_writing", b.kill_while_writing),
        )
        add(
            "spool_disk_full",
            "pg_dump's tar spool directory (/tmp) on a 4 MB filesystem",
            False,
            b.run(
                "spool_disk_full",
                wrap=["unshare", "--mount", "--propagation", "private"],
                prefix=small_tmp_prefix(b.env, b.work),
            ),
        )
        b.admin.execute(f"alter database {SOURCE_DB} set statement_timeout = '20ms'")
        b.admin.execute(
            f"alter database {SOURCE_DB} set idle_in_transaction_session_timeout = '20ms'"
        )
        add(
            "database_timeouts",
            "statement_timeout and idle_in_transaction_session_timeout of 20 ms on the database",
            True,
            b.run("database_timeouts"),
        )
        b.admin.execute(f"alter database {SOURCE_DB} reset statement_timeout")
        b.admin.execute(f"alter database {SOURCE_DB} reset idle_in_transaction_session_timeout")
        b.admin.execute(f"alter database {SOURCE_DB} set lock_timeout = '100ms'")
        with b.lock_held("m_big"):
            add(
                "lock_wait_job_timeout",
                "a migration's lock (lock_timeout 100 ms on the database) made pg_dump wait "
                "until the job's timeout killed it",
                False,
                b.run("lock_wait_job_timeout", b.job_timeout_while_waiting),
            )
        b.admin.execute(f"alter database {SOURCE_DB} reset lock_timeout")
        full = cases["complete"].data
        cut = work / "upload_cut.tar.gz"
        cut.write_bytes(full[: len(full) * 6 // 10])
        cases["upload_cut"] = _case(
            "upload_cut", "an upload cut short at 60% of the object", cut, 0, "", False
        )
        empty = work / "zero_byte.tar.gz"
        empty.write_bytes(b"")
        cases["zero_byte"] = _case("zero_byte", "a zero-byte object", empty, 0, "", False)
    finally:
        b.close()
    return Corpus(cases, time.monotonic() - started, b.url, counts)


def corpus_report(corpus: Corpus) -> dict[str, Any]:
    """What the template left for each case, as recorded in ``build/fault-corpus.json``."""
    return {
        "build_seconds": round(corpus.seconds, 2),
        "rows": corpus.row_counts,
        "cases": {
            c.name: {
                "what": c.what,
                "pipeline_status": c.pipeline_status,
                "size": c.size,
                "gzip -t": c.gzip_t,
                "GNU tar -tf": c.gnu_tar,
                "bsdtar -tf": c.bsdtar,
                "members": list(c.members),
                "restorable": c.restorable,
                "pg_dump said": c.dump_stderr.strip().splitlines()[-3:],
            }
            for c in corpus.cases.values()
        },
    }


def upload_history(client: Any, bucket: str, case: Case, good: Case, nights: int = 4) -> str:
    """``nights`` good nightly backups, then ``case`` as last night's; returns its s3:// URI."""
    from datetime import UTC, datetime, timedelta

    from runbook_helpers.r2.naming import backup_key

    last = datetime.now(UTC).replace(hour=3, minute=0, second=0, microsecond=123000)
    if last > datetime.now(UTC):
        last -= timedelta(days=1)
    for n in range(nights, 0, -1):
        key = backup_key(last - timedelta(days=n))
        client.put_object(Bucket=bucket, Key=key, Body=good.data)
    key = backup_key(last)
    client.put_object(Bucket=bucket, Key=key, Body=case.data)
    return f"s3://{bucket}/{key}"


#: cases whose dump was stopped mid-way with a toc.dat written (the tar lacks data members)
KILLED = (
    "terminated_during_largest",
    "terminated_after_largest",
    "server_restart",
    "killed_while_writing",
    "spool_disk_full",
)
#: every case that cannot restore the whole database
BROKEN = (
    "terminated_before_data",
    *KILLED,
    "lock_wait_job_timeout",
    "upload_cut",
    "zero_byte",
)
RESTORABLE = ("complete", "database_timeouts")
