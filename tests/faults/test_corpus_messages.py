"""troubleshooting.md's "Error messages and what to do" table against the fault corpus: every
error line that a path reading a backup prints, on every case, matches a row of the table, so
the table and the failures real backups produce cannot drift apart.

The paths: ``runbook inspect``, ``fetch``, ``restore`` (a file with ``--jobs 1`` and ``--jobs 2``,
streamed from R2) and ``verify --archive`` (their ``runbook: error:`` lines), backups.md's check
by hand with GNU tar and with bsdtar as ``tar`` (macOS's), and troubleshooting.md's restore
without the helper plus its row check (every line they print but the final ``rows OK``: all
they print is diagnostics). pg_restore can hang on a tar cut inside a member: every command
that may start one runs with a timeout. Every run is made once per session and read back by
each test that asserts on it (:mod:`tests.support.corpus_runs`).
"""

from __future__ import annotations

import re

import pytest

from runbook_helpers.sandbox.server import PostgresServer
from tests.support.cli_runs import CliResult
from tests.support.corpus_runs import CorpusRuns, Source
from tests.support.fault_corpus import BROKEN, RESTORABLE
from tests.support.page_recipes import pattern_of, table_messages

RESTORES: tuple[tuple[str, Source], ...] = (("2", "r2"), ("2", "file"), ("1", "file"))
CONTINUATION = re.compile(r"\s|LINE \d+:|(CONTEXT|DETAIL|HINT|QUERY):|Command was:")


def runbook_errors(runs: CorpusRuns, name: str, pg: PostgresServer) -> list[str]:
    """``path: line`` for each ``runbook: error:`` line of the runbook paths on case ``name``
    (also uploaded as the newest backup); each restore into a database that does not exist yet;
    ``verify --archive`` runs against what ``restore --jobs 1`` left: the restored copy, or
    none. The runs are the session's (test_corpus_paths.py and test_corpus_restores.py assert
    on the same ones)."""
    results: dict[str, CliResult] = {
        "inspect": runs.inspect(name).result,
        "fetch": runs.fetch(name).result,
    }
    for jobs, source in RESTORES:
        where = "from R2" if source == "r2" else "a file"
        results[f"restore {where} --jobs {jobs}"] = runs.restore(name, source, jobs).result
    serial = runs.restore(name, "file", "1")
    verified = serial.target if serial.result.status == 0 and serial.target else pg.url("postgres")
    results["verify --archive"] = runs.verify(name, verified, "interpreter").result
    return [
        f"{path}: {line}"
        for path, result in results.items()
        for line in result.stderr.splitlines()
        if line.startswith("runbook: error: ")
    ]


def manual_lines(runs: CorpusRuns, name: str) -> list[str]:
    """``path: line`` for each line the pages' manual checks print on case ``name``."""
    lines: list[str] = []
    for flavor in ("GNU tar", "bsdtar"):
        for step in runs.check_by_hand(name, flavor):
            lines += [f"check by hand ({flavor}): {ln}" for ln in messages(step.output)]
    manual = runs.manual_restore(name)
    for step in manual.restore + manual.rows:
        shown = [ln for ln in messages(step.output) if ln != "rows OK"]
        lines += [f"restore without the helper: {ln}" for ln in shown]
    return lines


def messages(output: str) -> list[str]:
    """The message lines of ``output``: not blank, and not the lines PostgreSQL and psql add
    under a message (``LINE 1:``, the caret, ``CONTEXT:``, ``DETAIL:``, ``HINT:``)."""
    return [ln for ln in output.splitlines() if ln.strip() and not CONTINUATION.match(ln)]


@pytest.mark.parametrize("name", [*BROKEN, *RESTORABLE])
def test_every_error_line_of_every_path_is_in_the_troubleshooting_table(
    name: str, corpus_runs: CorpusRuns, pg16_server: PostgresServer
) -> None:
    case = corpus_runs.case(name)
    printed = runbook_errors(corpus_runs, name, pg16_server)
    printed += manual_lines(corpus_runs, name)
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
