"""Each fault-corpus run done once per session and recorded, for every test that asserts on it.

The corpus tests (tests/faults/test_corpus_*.py) ask several times for the same command on the
same case from the same starting state: ``inspect FILE``, ``fetch URI``, the restores (from a
file or streamed from R2, ``--jobs 1`` or ``2``, each into a new database with ``--create``),
``verify --archive``, and the pages' manual check and manual restore. :class:`CorpusRuns` runs
each the first time it is asked for (the real command, with its timeout) and keeps what any test
asserts on: the argv, exit status, stdout and stderr, the target's state right after a restore
(:func:`tests.support.faults.target_state`), the files a fetch left, each step of a page block.

A run is keyed by exactly what determines it: the command, the case, the source (a file, or
R2 with the same history uploaded: four complete nights, then the case), ``--jobs``, the
starting state (always a database that does not exist yet, an empty directory holding only the
case's bytes under the name the block uses). What differs between two asks is in the key, so
two asks share a run only when they would have run the same thing. A run that raises (a
timeout, a traceback ``run_cli`` refuses) is not recorded: the next ask runs it again.

A restore that fails leaves its database as it was (missing or marked FAILED): its state is
recorded and the database dropped at once. A restore that succeeds keeps its database until
:meth:`CorpusRuns.close` (session end), for the ``verify`` a test runs against what it left.
"""

from __future__ import annotations

import hashlib
import shutil
import uuid
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

from runbook_helpers.sandbox.r2 import R2Mock
from runbook_helpers.sandbox.server import PostgresServer
from tests.support.cli_runs import CliResult, run_cli, run_runbook
from tests.support.fault_corpus import Case, Corpus, upload_history
from tests.support.faults import target_state
from tests.support.page_recipes import StepRun, console_commands, run_steps

CHECK = console_commands("backups.md", "NR == FNR")  # "Check a backup by hand"
RESTORE = console_commands("troubleshooting.md", "createdb vlvt_manual")
ROWS = console_commands("troubleshooting.md", "rows.txt")
MANUAL_DB = "vlvt_manual"  # the recipe's own database name
#: backups.md's check with each ``tar`` a reader may have: GNU tar, or bsdtar (macOS's)
Flavor = Literal["GNU tar", "bsdtar"]
Source = Literal["file", "r2"]
Runner = Literal["in-process", "interpreter"]
T = TypeVar("T")


@dataclass(frozen=True)
class Run:
    """One recorded ``runbook`` command: what ran, what it printed, what it left."""

    argv: tuple[str, ...]
    result: CliResult
    target: str | None = None  # a restore's target URL
    state: str | None = None  # target_state(target) right after the restore
    left: tuple[str, ...] = ()  # a fetch: the names in its --to directory afterwards

    @property
    def args(self) -> list[str]:
        """``argv`` as a list, for the failure checks (``failed_cleanly``)."""
        return list(self.argv)


@dataclass(frozen=True)
class ManualRestore:
    """troubleshooting.md's restore without the helper and its row check, on one case."""

    backup_sha256: str  # of the backup.tar.gz the blocks read
    restore: list[StepRun]  # the RESTORE block's steps (timeout 20 s)
    rows: list[StepRun]  # the ROWS block's steps (timeout 60 s)


class CorpusRuns:
    """The memo: each run made on first ask, then read back (one per worker session)."""

    def __init__(
        self,
        corpus: Corpus,
        server: PostgresServer,
        r2: R2Mock,
        env: dict[str, str],
        work: Path,
    ) -> None:
        self.corpus = corpus
        self.server = server
        self.r2 = r2
        self.env = env  # the sandbox environment with PostgreSQL 16's tools first
        self.work = work
        self._runs: dict[Hashable, object] = {}
        self._kept: list[str] = []  # databases of successful restores, dropped at close()
        self.made = 0  # runs made, not read back (test_corpus_paths.py tests the memo with it)

    def _memo(self, key: Hashable, make: Callable[[], T]) -> T:
        if key not in self._runs:
            self._runs[key] = make()
            self.made += 1
        return self._runs[key]  # type: ignore[return-value]  # each key makes one type

    def _dir(self, *parts: str) -> Path:
        path = self.work.joinpath(*parts)
        path.mkdir(parents=True)
        return path

    def case(self, name: str) -> Case:
        return self.corpus.cases[name]

    def upload(self, name: str) -> str:
        """The bucket emptied, then four complete nights and ``name`` as last night's."""
        self.r2.reset_bucket()
        cases = self.corpus.cases
        return upload_history(self.r2.client(), self.r2.bucket, cases[name], cases["complete"])

    def inspect(self, name: str) -> Run:
        """``runbook inspect FILE`` (in-process)."""
        argv = ("inspect", str(self.case(name).path))
        return self._memo(("inspect", name), lambda: Run(argv, run_cli(list(argv), self.env)))

    def fetch(self, name: str) -> Run:
        """``runbook fetch URI --to DIR`` (in-process) of ``name`` uploaded as last night's,
        into an empty directory."""

        def make() -> Run:
            uri = self.upload(name)
            to = self._dir("fetch", name)
            argv = ("fetch", uri, "--to", str(to))
            result = run_cli(list(argv), self.env)
            return Run(argv, result, left=tuple(sorted(p.name for p in to.iterdir())))

        return self._memo(("fetch", name), make)

    def restore(self, name: str, source: Source, jobs: str) -> Run:
        """``runbook restore SOURCE --target NEW --create --jobs N`` in its own interpreter
        (``run_runbook``'s timeout): SOURCE is the case's file, or its URI with the history
        uploaded; NEW a database that does not exist yet."""

        def make() -> Run:
            uri = self.upload(name) if source == "r2" else str(self.case(name).path)
            db = f"fc_{uuid.uuid4().hex[:10]}"
            target = self.server.url(db)
            argv = ("restore", uri, "--target", target, "--create", "--jobs", jobs)
            try:
                result = run_runbook(list(argv), self.env)
                state = target_state(target)
            except BaseException:
                self.server.drop_database(db)
                raise
            if result.status == 0:
                self._kept.append(db)  # for a verify of what it restored
            else:
                self.server.drop_database(db)
            return Run(argv, result, target=target, state=state)

        return self._memo(("restore", name, source, jobs), make)

    def verify(self, name: str, target: str, runner: Runner) -> Run:
        """``runbook verify --target URL --archive FILE`` (read-only), in-process or in its own
        interpreter (with ``run_runbook``'s timeout: it may start a pg_restore)."""
        argv = ("verify", "--target", target, "--archive", str(self.case(name).path))

        def make() -> Run:
            run = run_cli if runner == "in-process" else run_runbook
            return Run(argv, run(list(argv), self.env))

        return self._memo(("verify", name, target, runner), make)

    def check_by_hand(self, name: str, flavor: Flavor) -> list[StepRun]:
        """backups.md's check by hand, as written, in a directory holding only the case's
        bytes as ``killed.tar.gz`` (the name it uses), with GNU tar or bsdtar as ``tar``."""

        def make() -> list[StepRun]:
            where = self._dir("check", flavor.replace(" ", "-"), name)
            shutil.copy(self.case(name).path, where / "killed.tar.gz")
            return run_steps(CHECK, where, self._flavor_env(flavor))

        return self._memo(("check by hand", name, flavor), make)

    def _flavor_env(self, flavor: Flavor) -> dict[str, str]:
        if flavor == "GNU tar":
            return self.env
        bsd_bin = self.work / "bsdtar-bin"
        if not bsd_bin.exists():
            bsdtar = shutil.which("bsdtar")
            assert bsdtar, "no bsdtar (macOS's tar): apt-get install libarchive-tools"
            bsd_bin.mkdir()
            (bsd_bin / "tar").symlink_to(bsdtar)
        return dict(self.env, PATH=f"{bsd_bin}:{self.env['PATH']}")

    def manual_restore(self, name: str) -> ManualRestore:
        """troubleshooting.md's restore (timeout 20 s) and row check (60 s), as written, in a
        directory holding only the case's bytes as ``backup.tar.gz``; ``vlvt_manual`` dropped
        before and after. The reader's environment has ``AWS_PROFILE`` exported (the start
        page); no command of these two blocks reads it."""

        def make() -> ManualRestore:
            where = self._dir("manual-restore", name)
            backup = where / "backup.tar.gz"
            shutil.copy(self.case(name).path, backup)
            env = dict(self.env, AWS_PROFILE=self.r2.profile)
            self.server.drop_database(MANUAL_DB)
            try:
                restore = run_steps(RESTORE, where, env)
                rows = run_steps(ROWS, where, env, timeout=60)
            finally:
                self.server.drop_database(MANUAL_DB)
            return ManualRestore(sha256(backup), restore, rows)

        return self._memo(("manual restore", name), make)

    def close(self) -> None:
        """Drop the databases successful restores left."""
        while self._kept:
            self.server.drop_database(self._kept.pop())


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
