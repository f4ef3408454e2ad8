"""``runbook seed``: deterministic VLVT-like data, refuses a non-empty target."""

from __future__ import annotations

import psycopg

from runbook_helpers.errors import ExitStatus
from runbook_helpers.produce.seed import default_anchor, seed
from runbook_helpers.sandbox.postgres import PostgresServer
from tests.support.cli_runs import run_cli


def _fingerprint(url: str) -> list[object]:
    with psycopg.connect(url) as conn:
        return [
            conn.execute(f"select md5(string_agg(t::text, ',' order by 1)) from {t} t").fetchone()
            for t in ("users", "profiles", "matches", "messages")
        ]


def test_seed_is_deterministic_and_realistic(pg_server: PostgresServer, pg_url: str) -> None:
    anchor = default_anchor()
    result = seed(pg_url, scale=0.1, seed=5, anchor=anchor)
    assert result.rows == {"users": 200, "profiles": 200, "matches": 600, "messages": 4000}
    other = pg_server.create_database("seed_twin")
    try:
        seed(other, scale=0.1, seed=5, anchor=anchor)
        assert _fingerprint(pg_url) == _fingerprint(other)
    finally:
        pg_server.drop_database("seed_twin")
    with psycopg.connect(pg_url) as conn:
        span = conn.execute(
            "select extract(day from max(created_at) - min(created_at)) from users"
        ).fetchone()
        fk = conn.execute("select count(*) from pg_constraint where contype = 'f'").fetchone()
    assert span is not None and 80 <= span[0] <= 90
    assert fk is not None and fk[0] >= 5


def test_seed_cli_refuses_non_empty(pg_url: str, sandbox_env: dict[str, str]) -> None:
    res = run_cli(["seed", "--target", pg_url, "--scale", "0.02"], sandbox_env)
    assert res.status == 0, res.stderr
    assert "messages" in res.stdout
    res = run_cli(["seed", "--target", pg_url, "--scale", "0.02"], sandbox_env)
    assert res.status == ExitStatus.UNSAFE_TARGET and "not empty" in res.error_line
