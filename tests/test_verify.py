"""``runbook verify``: exact counts side by side; any difference exits 10."""

from __future__ import annotations

import json

import psycopg

from runbook_helpers.archive.manifest import Manifest, TableStats, compare, table_stats
from runbook_helpers.errors import ExitStatus
from runbook_helpers.produce.seed import seed
from runbook_helpers.sandbox.postgres import PostgresServer
from tests.support.cli_runs import run_cli


def test_compare_table() -> None:
    exp = {"public.a": TableStats(3, "2026-01-01T00:00:00+00:00"), "public.b": TableStats(1)}
    act = {"public.a": TableStats(3, "2026-01-01T01:00:00+01:00"), "public.c": TableStats(0)}
    rows = {c.table: c.status for c in compare(exp, act)}
    assert rows == {"public.a": "ok", "public.b": "missing", "public.c": "extra"}
    assert compare({"t": TableStats(2)}, {"t": TableStats(1)})[0].status == "rows differ"


def test_verify_counts_manifest_against_and_mismatch(
    pg_server: PostgresServer, pg_url: str, sandbox_env: dict[str, str], tmp_path: object
) -> None:
    seed(pg_url, scale=0.05, seed=3)
    res = run_cli(["verify", "--target", pg_url], sandbox_env)  # just the counts
    assert res.status == 0 and "public.users" in res.stdout and "100" in res.stdout
    with psycopg.connect(pg_url) as conn:
        tables = table_stats(conn)
    m = Manifest(
        key="k",
        created_at="",
        pg_dump_version="",
        server_version="",
        size_bytes=0,
        sha256="",
        tables=tables,
    )
    from pathlib import Path

    path = Path(str(tmp_path)) / "m.manifest.json"
    path.write_text(m.to_json())
    assert run_cli(["verify", "--target", pg_url, "--manifest", str(path)], sandbox_env).status == 0
    other = pg_server.create_database("verify_other")
    try:
        seed(other, scale=0.05, seed=3)
        res = run_cli(["verify", "--target", pg_url, "--against", other, "--json"], sandbox_env)
        assert res.status == 0 and json.loads(res.stdout)["ok"] is True
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("delete from messages where id = (select max(id) from messages)")
        res = run_cli(["verify", "--target", pg_url, "--manifest", str(path)], sandbox_env)
        assert res.status == ExitStatus.VERIFY_MISMATCH
        assert "public.messages (rows differ)" in res.error_line
        assert "rows differ" in res.stdout and "MISMATCH" in res.stdout
        res = run_cli(["verify", "--target", pg_url, "--against", other], sandbox_env)
        assert res.status == ExitStatus.VERIFY_MISMATCH
    finally:
        pg_server.drop_database("verify_other")
