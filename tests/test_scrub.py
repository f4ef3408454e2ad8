"""``runbook scrub`` on the seed schema: complete policy, schema drift, planted data, rollback."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import yaml

from runbook_helpers.errors import ExitStatus
from runbook_helpers.produce.seed import seed
from runbook_helpers.sandbox.postgres import PostgresServer
from runbook_helpers.scrub.policy import Policy
from runbook_helpers.scrub.run import scrub
from tests.support.cli_runs import run_cli

POLICY = Path(__file__).resolve().parents[1] / "scrub" / "vlvt.yml"
TEMPLATE = "scrub_seed_template"
SEED_EMAIL = "@example.vlvt.app"


@pytest.fixture(scope="module")
def seeded_template(pg_server: PostgresServer) -> Iterator[str]:
    """The seed schema and data (scale 0.05), built once, cloned by every test."""
    url = pg_server.create_database(TEMPLATE)
    seed(url, scale=0.05, seed=9)
    yield TEMPLATE
    pg_server.drop_database(TEMPLATE)


@pytest.fixture
def copy(pg_server: PostgresServer, seeded_template: str) -> Iterator[tuple[str, str]]:
    """(URL, name) of a fresh copy of the seeded database, under a name nobody uses."""
    name = f"t_scrub_{uuid.uuid4().hex[:8]}"
    with pg_server.connect() as conn:
        conn.autocommit = True
        conn.execute(f'create database "{name}" template "{seeded_template}"')
    yield pg_server.url(name), name
    for db in pg_server.list_databases():
        if db.startswith(name) or db == "vlvt_dev":
            pg_server.drop_database(db)


def _fingerprint(url: str) -> list[object]:
    with psycopg.connect(url) as conn:
        return [
            conn.execute(
                f"select md5(string_agg(t::text, ',' order by t::text)) from {t} t"
            ).fetchone()
            for t in ("users", "profiles", "matches", "messages")
        ]


def _count(url: str, query: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0])


def test_vlvt_policy_scrubs_the_seed_schema_and_hands_over(
    pg_server: PostgresServer, copy: tuple[str, str], sandbox_env: dict[str, str]
) -> None:
    url, name = copy
    before = {t: _count(url, f"select count(*) from {t}") for t in ("users", "messages")}
    photos = _count(url, "select sum(jsonb_array_length(photos)) from profiles")
    final = f"{name}_dev"
    res = run_cli(["scrub", "--policy", str(POLICY), "--target", url, "--as", final], sandbox_env)
    assert res.status == 0, res.stderr
    assert f"scrubbed {final}: 11 of 26 columns in 4 tables rewritten" in res.stdout
    assert name not in pg_server.list_databases() and final in pg_server.list_databases()
    done = pg_server.url(final)
    assert {t: _count(done, f"select count(*) from {t}") for t in before} == before
    assert _count(done, f"select count(*) from users where email like '%{SEED_EMAIL}'") == 0
    assert _count(done, "select count(distinct email) from users") == before["users"]
    assert _count(done, "select count(*) from profiles where photos::text like '%cdn.vlvt%'") == 0
    # shape kept: as many (fake) photo URLs as before, bodies as long as before
    assert _count(done, "select sum(jsonb_array_length(photos)) from profiles") == photos
    assert (
        _count(done, "select count(*) from users where gender not in ('woman', 'man', 'nonbinary')")
        == 0
    )


def test_a_column_added_after_the_policy_refuses_and_changes_nothing(
    pg_server: PostgresServer, copy: tuple[str, str], sandbox_env: dict[str, str]
) -> None:
    url, _ = copy
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("alter table users add column phone text")
        conn.execute("update users set phone = '+44 7700 900' || lpad(id::text, 3, '0')")
    before = _fingerprint(url)
    res = run_cli(
        ["scrub", "--policy", str(POLICY), "--target", url, "--as", "vlvt_dev"], sandbox_env
    )
    assert res.status == ExitStatus.INCOMPATIBLE, res.stderr
    assert "users.phone" in res.error_line and "nothing was changed" in res.error_line
    assert "    phone: fake phone  # guess: a phone number" in res.stderr
    assert "vlvt_dev" not in pg_server.list_databases()
    assert _fingerprint(url) == before


def test_personal_data_planted_in_jsonb_and_arrays_fails_the_scan(
    pg_server: PostgresServer, copy: tuple[str, str], sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    url, name = copy
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create table settings (user_id bigint, prefs jsonb, aliases text[])")
        conn.execute(
            'insert into settings values (1, \'{"backup": {"mail": "ava.k@gmail.com"}}\', '
            "'{x}'), (2, '{}', '{\"call me\", \"+44 7700 900123\"}')"
        )
    data = yaml.safe_load(POLICY.read_text())
    data["tables"]["settings"] = {"user_id": "keep", "prefs": "keep", "aliases": "keep"}
    policy = tmp_path / "policy.yml"
    policy.write_text(yaml.safe_dump(data))
    res = run_cli(
        ["scrub", "--policy", str(policy), "--target", url, "--as", "vlvt_dev"], sandbox_env
    )
    assert res.status == ExitStatus.VERIFY_MISMATCH, res.stderr
    assert "runbook: found settings: email a***m (15 chars)" in res.stderr
    assert "runbook: found settings: phone +***3 (15 chars)" in res.stderr
    assert "ava.k@gmail.com" not in res.stderr + res.stdout  # findings are masked
    assert "vlvt_dev" not in pg_server.list_databases()
    assert name in pg_server.list_databases()  # keeps the name nobody uses


def test_a_scrub_failing_half_way_rolls_everything_back(
    copy: tuple[str, str], sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    url, _ = copy
    data = yaml.safe_load(POLICY.read_text())
    data["tables"]["matches"]["status"] = "fixed gone"  # breaks the status check constraint
    policy = tmp_path / "policy.yml"
    policy.write_text(yaml.safe_dump(data))
    before = _fingerprint(url)
    res = run_cli(["scrub", "--policy", str(policy), "--target", url], sandbox_env)
    assert res.status == ExitStatus.INCOMPATIBLE, res.stderr
    assert "matches_status_check" in res.error_line and "rolled back" in res.error_line
    assert _fingerprint(url) == before  # users/profiles were updated first, then undone


def test_rules_the_column_type_cannot_take_are_refused_before_any_change(
    copy: tuple[str, str], sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    url, _ = copy
    data = yaml.safe_load(POLICY.read_text())
    data["tables"]["users"]["email"] = "null"
    data["tables"]["users"]["is_verified"] = "shift 3"
    policy = tmp_path / "policy.yml"
    policy.write_text(yaml.safe_dump(data))
    before = _fingerprint(url)
    res = run_cli(["scrub", "--policy", str(policy), "--target", url], sandbox_env)
    assert res.status == ExitStatus.USAGE
    assert "users.email is NOT NULL" in res.error_line
    assert "users.is_verified is boolean: shift needs a date" in res.error_line
    assert _fingerprint(url) == before


def test_init_drafts_a_complete_policy_that_scrubs_cleanly(
    copy: tuple[str, str], sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    url, _ = copy
    res = run_cli(["scrub", "--init", "--target", url], sandbox_env)
    assert res.status == 0, res.stderr
    assert "    email: fake email  # guess: an email address" in res.stdout
    assert "    birthdate: shift 365  # guess: a date of birth" in res.stdout
    assert "    photos: fake json" in res.stdout
    assert "    gender: 'fake choice man,nonbinary,woman'" in res.stdout
    draft = tmp_path / "draft.yml"
    draft.write_text(res.stdout)
    policy = Policy.load(draft)
    result = scrub(url, policy)
    assert _count(url, f"select count(*) from users where email like '%{SEED_EMAIL}'") == 0
    assert result.changed >= 11


def test_a_foreign_schema_is_refused_by_the_vlvt_policy_and_drafted_by_init(
    pg_url: str, sandbox_env: dict[str, str]
) -> None:
    """The issue's database: display_name instead of name, sender instead of sender_id."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            "create table users (id bigint primary key, email text, display_name text, "
            "mobile text, created_at timestamptz);"
            "create table messages (id bigint, sender bigint, body text);"
            "insert into users values (1, 'ana@mail.example.com', 'Ana Lima', '+351 912 345 678',"
            " now()); insert into messages values (1, 1, 'hi Ana, call me on +351 912 345 678')"
        )
    res = run_cli(["scrub", "--policy", str(POLICY), "--target", pg_url], sandbox_env)
    assert res.status == ExitStatus.INCOMPATIBLE
    assert "users.display_name" in res.error_line and "messages.sender," in res.error_line
    assert "    display_name: fake name  # guess: a person's name" in res.stderr
    assert "    mobile: fake phone  # guess: a phone number" in res.stderr
    assert "# profiles: in the policy, not in the database: remove it" in res.stderr
    assert _count(pg_url, "select count(*) from users where display_name = 'Ana Lima'") == 1


def test_init_guesses_each_kind_of_personal_column(
    pg_url: str, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            "create table people (id uuid, first_name text, surname text, birth_date date, "
            "lat double precision, lng numeric, home_city text, avatar_url text, "
            "settings jsonb, last_ip inet, about_me text, religion text, plan text, "
            "last_seen timestamptz, score int);"
            "insert into people (religion, plan) values ('none', 'free');"
            "insert into people values (gen_random_uuid(), 'Ana', 'Lima', '1990-02-03', "
            "38.7223, 9.1393, 'Lisbon', 'https://cdn.vlvt.example/a.jpg', "
            '\'{"phone": "+351 912 345 678", "n": [1, "x"]}\', \'10.1.2.3\', '
            "'I like long walks', 'other', 'pro', now(), 7)"
        )
    res = run_cli(["scrub", "--init", "--target", pg_url], sandbox_env)
    assert res.status == 0, res.stderr
    rules = {
        line.split(":")[0].strip(): line.split(":", 1)[1].split("#")[0].strip()
        for line in res.stdout.splitlines()
        if line.startswith("    ")
    }
    assert rules == {
        "id": "keep",
        "first_name": "fake first_name",
        "surname": "fake last_name",
        "birth_date": "shift 365",
        "lat": "fake coarse",
        "lng": "fake coarse",
        "home_city": "fake city",
        "avatar_url": "fake url",
        "settings": "fake json",
        "last_ip": "fake ip",
        "about_me": "fake text",
        "religion": "'fake choice none,other'",
        "plan": "keep",
        "last_seen": "shift 7",
        "score": "keep",
    }
    draft = tmp_path / "draft.yml"
    draft.write_text(res.stdout)
    scrub(pg_url, Policy.load(draft))  # every guessed rule runs on its column's type
    with psycopg.connect(pg_url) as conn:
        row = conn.execute(
            "select first_name, lat, avatar_url, settings, last_ip::text from people "
            "where score = 7"
        ).fetchone()
    assert row is not None and row[0] != "Ana" and row[1] == 38.7
    assert row[2].startswith("https://example.invalid/") and row[4].startswith("192.0.2.")
    assert row[3]["n"][0] == 1 and "+351" not in str(row[3])


def test_no_old_row_version_stays_in_the_data_files(
    pg_server: PostgresServer, copy: tuple[str, str], sandbox_env: dict[str, str]
) -> None:
    """An UPDATE leaves the old rows in the table files until VACUUM FULL rewrites them."""
    url, name = copy
    final = f"{name}_dev"
    res = run_cli(["scrub", "--policy", str(POLICY), "--target", url, "--as", final], sandbox_env)
    assert res.status == 0, res.stderr
    with psycopg.connect(pg_server.url(final), autocommit=True) as conn:
        conn.execute("checkpoint")
        row = conn.execute(
            "select current_setting('data_directory'), oid from pg_database "
            "where datname = current_database()"
        ).fetchone()
    assert row is not None
    files = Path(row[0], "base", str(row[1]))
    try:
        data = b"".join(p.read_bytes() for p in files.iterdir() if p.is_file())
    except PermissionError as exc:
        pytest.skip(f"the server's data files are not readable here: {exc}")
    assert len(data) > 100_000
    assert SEED_EMAIL.encode() not in data
    assert b"cdn.vlvt.example" not in data


def test_production_is_never_scrubbed(sandbox_env: dict[str, str]) -> None:
    url = "postgresql://app:hunter2secret@roundhouse.proxy.rlwy.net:41234/railway"
    res = run_cli(
        ["scrub", "--policy", str(POLICY), "--target", url], sandbox_env, secrets=["hunter2secret"]
    )
    assert res.status == ExitStatus.UNSAFE_TARGET
    assert "refusing to scrub roundhouse.proxy.rlwy.net" in res.error_line
    res = run_cli(["scrub", "--policy", str(POLICY), "--target", url, "--production"], sandbox_env)
    assert res.status == ExitStatus.USAGE  # there is no way around it
