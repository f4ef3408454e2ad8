"""troubleshooting.md's "Error messages and what to do" table against the fault corpus: every
error line that a path reading a backup prints, on every case, matches a row of the table, so
the table and the failures real backups produce cannot drift apart.

The paths: ``runbook inspect``, ``fetch``, ``restore`` (a file with ``--jobs 1`` and ``--jobs 2``,
streamed from R2) and ``verify --archive`` (their ``runbook: error:`` lines), backups.md's check
by hand with GNU tar and with bsdtar as ``tar`` (macOS's), and troubleshooting.md's restore
without the helper plus its row check (every line they print but the final ``rows OK``: all
they print is diagnostics). pg_restore can hang on a tar cut inside a member: every command
that may start one runs with a timeout.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from runbook_helpers.sandbox.r2 import R2Mock
from runbook_helpers.sandbox.server import PostgresServer
from tests.support.cli_runs import run_cli, run_runbook
from tests.support.fault_corpus import BROKEN, RESTORABLE, Case, Corpus, upload_history
from tests.support.page_recipes import console_commands, pattern_of, run_steps, table_messages

CHECK = console_commands("backups.md", "NR == FNR")  # "Check a backup by hand"
RESTORE = console_commands("troubleshooting.md", "createdb vlvt_manual")
ROWS = console_commands("troubleshooting.md", "rows.txt")
MANUAL_DB = "vlvt_manual"  # the recipe's own database name
CONTINUATION = re.compile(r"\s|LINE \d+:|(CONTEXT|DETAIL|HINT|QUERY):|Command was:")


def runbook_errors(
    case: Case, uri: str, env: dict[str, str], pg: PostgresServer, target: str, work: Path
) -> list[str]:
    """``path: line`` for each ``runbook: error:`` line of the runbook paths on ``case`` (also
    uploaded as the newest backup, ``uri``); ``verify --archive`` runs against what
    ``restore --jobs 1`` left: the restored copy, or none."""
    file, name = str(case.path), target.rsplit("/", 1)[1]
    runs = {"inspect": run_cli(["inspect", file], env)}
    runs["fetch"] = run_cli(["fetch", uri, "--to", str(work)], env)
    for jobs, source in (("2", uri), ("2", file), ("1", file)):
        pg.drop_database(name)
        argv = ["restore", source, "--target", target, "--create", "--jobs", jobs]
        runs[f"restore {'from R2' if source == uri else 'a file'} --jobs {jobs}"] = run_runbook(
            argv, env
        )
    verified = target if runs["restore a file --jobs 1"].status == 0 else pg.url("postgres")
    runs["verify --archive"] = run_runbook(["verify", "--target", verified, "--archive", file], env)
    return [
        f"{path}: {line}"
        for path, result in runs.items()
        for line in result.stderr.splitlines()
        if line.startswith("runbook: error: ")
    ]


def manual_lines(case: Case, env: dict[str, str], pg: PostgresServer, work: Path) -> list[str]:
    """``path: line`` for each line the pages' manual checks print on ``case``."""
    lines: list[str] = []
    bsd_bin = work / "bsdtar-bin"
    bsd_bin.mkdir()
    bsdtar = shutil.which("bsdtar")
    assert bsdtar, "no bsdtar (macOS's tar): apt-get install libarchive-tools"
    (bsd_bin / "tar").symlink_to(bsdtar)
    flavors = {"GNU tar": env, "bsdtar": dict(env, PATH=f"{bsd_bin}:{env['PATH']}")}
    for flavor, flavor_env in flavors.items():
        where = work / flavor.replace(" ", "-")
        where.mkdir()
        shutil.copy(case.path, where / "killed.tar.gz")  # the name the check uses
        for step in run_steps(CHECK, where, flavor_env):
            lines += [f"check by hand ({flavor}): {ln}" for ln in messages(step.output)]
    shutil.copy(case.path, work / "backup.tar.gz")
    pg.drop_database(MANUAL_DB)
    try:
        runs = run_steps(RESTORE, work, env) + run_steps(ROWS, work, env, timeout=60)
    finally:
        pg.drop_database(MANUAL_DB)
    for step in runs:
        shown = [ln for ln in messages(step.output) if ln != "rows OK"]
        lines += [f"restore without the helper: {ln}" for ln in shown]
    return lines


def messages(output: str) -> list[str]:
    """The message lines of ``output``: not blank, and not the lines PostgreSQL and psql add
    under a message (``LINE 1:``, the caret, ``CONTEXT:``, ``DETAIL:``, ``HINT:``)."""
    return [ln for ln in output.splitlines() if ln.strip() and not CONTINUATION.match(ln)]


@pytest.mark.parametrize("name", [*BROKEN, *RESTORABLE])
def test_every_error_line_of_every_path_is_in_the_troubleshooting_table(
    name: str,
    fault_corpus: Corpus,
    corpus_env: dict[str, str],
    pg16_server: PostgresServer,
    new_target: str,
    r2_clean: R2Mock,
    tmp_path: Path,
) -> None:
    cases = fault_corpus.cases
    case = cases[name]
    uri = upload_history(r2_clean.client(), r2_clean.bucket, case, cases["complete"])
    fetched = tmp_path / "fetched"
    fetched.mkdir()
    printed = runbook_errors(case, uri, corpus_env, pg16_server, new_target, fetched)
    printed += manual_lines(case, corpus_env, pg16_server, tmp_path)
    if name in BROKEN:
        assert printed, f"{name}: no path printed an error"
    rows = table_messages()
    missing = [p for p in printed if not any(rx.search(p.split(": ", 1)[1]) for rx in rows)]
    assert not missing, f"{name} ({case.what}): not in troubleshooting.md's table:\n" + "\n".join(
        missing
    )


def test_table_cells_read_as_patterns_with_their_placeholders() -> None:
    """What the corpus test relies on: the table's placeholders stand for what they say."""
    cell = 'missing NNNN.dat (schema.table) from FILE: needed N bytes, only M; "..." ok'
    rx = pattern_of(cell)
    assert rx.search(
        'missing 2553.dat (public.m_big) from x.tar.gz: needed 512 bytes, only 0; "a b" ok'
    )
    assert not rx.search("missing 2553.dat (public.m_big) from x.tar.gz: needed N bytes")
    rows = table_messages()
    assert any(
        r.search('pg_restore: error: could not find header for file "2553.dat" in tar archive')
        for r in rows
    )
    assert not any(r.search("nothing like any row of the table") for r in rows)
