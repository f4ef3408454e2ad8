"""The shape of the restore: one side-database lifecycle module (checked in the source), and
what it says when a hidden side database is dropped (from the failure's data, not its text)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import psycopg
import pytest

from runbook_helpers.errors import NoSpace
from runbook_helpers.pg.target import Target
from runbook_helpers.restore.side_database import SideDatabase

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = ROOT / "runbook_helpers"
LIFECYCLE = LIBRARY / "restore" / "side_database.py"

# SQL that counts the sessions on a database, renames one or drops one
LIFECYCLE_SQL = {
    "counts sessions": re.compile(r"pg_stat_activity.*\bdatname\b", re.I | re.S),
    "renames a database": re.compile(r"\balter\s+database\b.*\brename\b", re.I | re.S),
    "drops a database": re.compile(r"\bdrop\s+database\b", re.I | re.S),
}


def _text(node: ast.expr) -> str:
    """The literal text of a SQL argument (f-strings and ``+`` joins: their literal parts)."""
    return " ".join(
        n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    )


def executed_sql(source: str) -> list[tuple[int, str]]:
    """(line, text) of every SQL a module runs: the first argument of ``.execute(...)`` and of
    ``sql.SQL(...)`` - not a hint's text that shows the reader a command."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
        if name in ("execute", "SQL"):
            found.append((node.lineno, _text(node.args[0])))
    return found


def lifecycle_sql_outside(paths: list[Path]) -> list[str]:
    """Where a module other than side_database.py runs lifecycle SQL (one entry per line)."""
    return sorted(
        {
            f"{path.name}:{line} {what}"
            for path in paths
            if path != LIFECYCLE
            for line, text in executed_sql(path.read_text(encoding="utf-8"))
            for what, pattern in LIFECYCLE_SQL.items()
            if pattern.search(text)
        }
    )


def test_only_the_side_database_module_counts_sessions_renames_or_drops() -> None:
    paths = sorted((LIBRARY / "restore").glob("*.py")) + sorted((LIBRARY / "pg").glob("*.py"))
    assert LIFECYCLE in paths
    assert lifecycle_sql_outside(paths) == []
    inside = [t for _, t in executed_sql(LIFECYCLE.read_text(encoding="utf-8"))]
    for what, pattern in LIFECYCLE_SQL.items():
        assert any(pattern.search(t) for t in inside), f"side_database.py no longer {what}"


@pytest.mark.parametrize(
    ("snippet", "caught"),
    [
        ('conn.execute("select count(*) from pg_stat_activity where datname = %s", (d,))', 1),
        ('conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(a, b))', 1),
        ('conn.execute(sql.SQL("drop database if exists " "{} with (force)"))', 1),
        ('hint = f"then: ALTER DATABASE {a} RENAME TO {b}; DROP DATABASE {c}"', 0),
        ('conn.execute("select l.pid from pg_locks l join pg_stat_activity a using (pid)")', 0),
    ],
)
def test_the_check_catches_executed_sql_not_advice(
    snippet: str, caught: int, tmp_path: Path
) -> None:
    module = tmp_path / "m.py"
    module.write_text(snippet + "\n")
    assert len(lifecycle_sql_outside([module])) == caught


def test_a_dropped_hidden_copy_keeps_the_failures_type_reason_and_hint(pg_url: str) -> None:
    """What the failure left ("nothing was restored") is data on the error, replaced by what the
    side database knows; the message is never split to find the reason."""
    target = Target.parse(pg_url)
    side = SideDatabase(target, "shape_1", hidden=True)
    told: list[str] = []
    with pytest.raises(NoSpace) as info, side:
        side.create(told.append)
        raise NoSpace("disk full; really", hint="free space", left="nothing was restored")
    assert str(info.value) == (
        f"disk full; really; nothing was restored into {target.dbname} "
        f"(the side database {side.name} was dropped)"
    )
    assert info.value.hint == "free space"
    assert told == [f"created side database {side.name}"]
    with psycopg.connect(pg_url) as conn:
        row = conn.execute("select 1 from pg_database where datname = %s", (side.name,))
        assert row.fetchone() is None


MAX_PARAMETERS = 6


def wide_defs(source: str) -> list[str]:
    """Functions and methods of ``source`` with more than MAX_PARAMETERS parameters (``self``
    and ``cls`` not counted; ``*args`` and ``**kwargs`` are)."""
    wide = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            a = node.args
            names = [p.arg for p in (*a.posonlyargs, *a.args, *a.kwonlyargs)]
            names += [p.arg for p in (a.vararg, a.kwarg) if p is not None]
            names = [n for n in names if n not in ("self", "cls")]
            if len(names) > MAX_PARAMETERS:
                wide.append(f"{node.name}:{node.lineno} ({len(names)})")
    return wide


def test_no_call_in_the_restore_takes_more_than_six_parameters() -> None:
    """The restore's state travels in one record (restore/run.py's RestoreRun), not as loose
    values: no def in runbook_helpers/restore/ takes more than six."""
    paths = sorted((LIBRARY / "restore").glob("*.py"))
    assert (LIBRARY / "restore" / "run.py") in paths
    wide = {p.name: w for p in paths if (w := wide_defs(p.read_text(encoding="utf-8")))}
    assert wide == {}


def test_the_parameter_check_counts_what_a_caller_passes() -> None:
    assert wide_defs("def f(self, a, b, c, d, e, g): ...\n") == []
    assert wide_defs("def f(a, b, c, d, e, *, g, h): ...\n") == ["f:1 (7)"]
    assert wide_defs("class C:\n    def m(cls, a, b, c, d, e, *rest, **kw): ...\n") == ["m:2 (7)"]
