"""Restore and verify on a schema unlike the seed's (tests/fixtures/foreign_schema.py).

For each major with a server here (15 Debian, 16 pgserver - Railway's, 18 embedded): the
``crm`` database is backed up with the template pipeline by that major's ``pg_dump``, restored
with ``runbook restore`` into an empty database and checked with ``runbook verify --archive``;
then each kind of object is checked to behave as it did in the source.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from runbook_helpers.sandbox import sandbox_environment
from runbook_helpers.sandbox.r2 import R2Mock
from tests.fixtures.foreign_schema import (
    BLOB,
    EXPECTED_ROWS,
    INVOICE_START,
    INVOICES_TAKEN,
    OWNER_ROLE,
    READER_ROLE,
    ForeignDatabase,
    create_foreign_database,
)
from tests.fixtures.page_data import PRODUCTION_MAJOR, template_backup
from tests.fixtures.registry import Sandbox, server_of_major
from tests.support.cli_runs import run_cli

MAJORS = (15, 16, 18)


@pytest.fixture(scope="module")
def made() -> Iterator[dict[int, tuple[ForeignDatabase, Path]]]:
    """Foreign databases and their template backups, made lazily per major; dropped at the end."""
    cache: dict[int, tuple[ForeignDatabase, Path]] = {}
    yield cache
    for db, _ in cache.values():
        db.server.drop_database(db.name)


def foreign_backup(
    sandbox: Sandbox, made: dict[int, tuple[ForeignDatabase, Path]], major: int
) -> tuple[ForeignDatabase, Path]:
    if major not in made:
        server = server_of_major(sandbox, major)
        db = create_foreign_database(server, f"crm_src_{uuid.uuid4().hex[:8]}")
        out = sandbox.base / f"crm-{major}-{db.name}.tar.gz"
        template_backup(server, sandbox_environment(server, None), db.name, out, major=major)
        made[major] = (db, out)
    return made[major]


@pytest.fixture
def restored(
    request: pytest.FixtureRequest,
    sandbox: Sandbox,
    made: dict[int, tuple[ForeignDatabase, Path]],
) -> Iterator[tuple[ForeignDatabase, Path, str]]:
    """``runbook restore`` of the major's foreign backup into a fresh database (dropped after)."""
    major = int(request.param)
    db, archive = foreign_backup(sandbox, made, major)
    target = f"crm_restored_{uuid.uuid4().hex[:8]}"
    url = db.server.create_database(target)
    try:
        result = run_cli(["restore", str(archive), "--target", url], env_for(db))
        assert result.status == 0, result.stderr
        yield db, archive, target
    finally:
        db.server.drop_database(target)


def env_for(db: ForeignDatabase) -> dict[str, str]:
    return sandbox_environment(db.server, None)


@pytest.mark.slow(seconds=6)
@pytest.mark.parametrize("restored", MAJORS, indirect=True, ids=lambda m: f"pg{m}")
def test_verify_archive_matches_every_table(restored: tuple[ForeignDatabase, Path, str]) -> None:
    db, archive, target = restored
    url = db.server.url(target)
    result = run_cli(["verify", "--target", url, "--archive", str(archive)], env_for(db))
    assert result.status == 0, result.stdout + result.stderr
    for table, rows in EXPECTED_ROWS.items():
        line = next(ln for ln in result.stdout.splitlines() if ln.startswith(table + " "))
        assert f"| {rows} " in line and line.rstrip().endswith("ok"), line


@pytest.mark.slow(seconds=6)
@pytest.mark.parametrize("restored", MAJORS, indirect=True, ids=lambda m: f"pg{m}")
def test_objects_behave_as_in_the_source(restored: tuple[ForeignDatabase, Path, str]) -> None:
    db, _, target = restored
    with db.server.connect(db.name) as source, db.server.connect(target) as conn:

        def one(sql: str, c: object = conn) -> object:
            row = c.execute(sql).fetchone()  # type: ignore[attr-defined]
            assert row is not None
            return row[0]

        assert one("select enum_range(null::crm.tier)::text") == "{free,plus,gold}"
        assert one("select string_agg(email::text, ',' order by id) from crm.gold_members") == (
            "Alice@Example.com,dave@example.com"
        )
        for table, rows in EXPECTED_ROWS.items():
            assert one(f"select count(*) from {table}") == rows, table
        query = "select jsonb_agg(settings order by id)::text from crm.members"
        assert one(query) == one(query, source)
        assert one("select avatar from crm.members where id = 1") == BLOB
        assert one("select nextval('crm.invoice_numbers')") == INVOICE_START + INVOICES_TAKEN
        # the trigger and the identity column work after the restore
        new_id = one("insert into crm.members (email) values ('new@example.com') returning id")
        assert new_id == 6
        assert one("select count(*) from crm.audit_log where member_id = 6") == 1
        # --no-owner --no-privileges: the restoring user owns everything, no grants come along
        owners = conn.execute(
            "select distinct tableowner from pg_tables where schemaname = 'crm'"
        ).fetchall()
        assert owners == [(db.server.user,)]
        assert one(f"select has_table_privilege('{READER_ROLE}', 'crm.members', 'select')") is (
            False
        )
        assert one("select tableowner from pg_tables where tablename = 'members'", source) == (
            OWNER_ROLE
        )


@pytest.mark.slow(seconds=6)
@pytest.mark.parametrize("restored", MAJORS, indirect=True, ids=lambda m: f"pg{m}")
def test_citext_survives_restore(restored: tuple[ForeignDatabase, Path, str]) -> None:
    db, _, target = restored
    if not db.with_citext:
        pytest.skip(
            f"citext is not in pg_available_extensions of PostgreSQL {db.server.major} "
            f"({db.server.kind}): the schema uses text there"
        )
    with db.server.connect(target) as conn:
        row = conn.execute(
            "select count(*) from crm.members where email = 'ALICE@EXAMPLE.COM'"
        ).fetchone()
        kind = conn.execute(
            "select data_type from information_schema.columns "
            "where table_schema = 'crm' and table_name = 'members' and column_name = 'email'"
        ).fetchone()
    assert row == (1,)
    assert kind == ("USER-DEFINED",)


def test_streamed_from_the_bucket_with_the_read_only_profile(
    sandbox: Sandbox,
    made: dict[int, tuple[ForeignDatabase, Path]],
    r2_clean: R2Mock,
) -> None:
    """The scenario path: the nightly in R2, restored straight from s3:// with the reader token."""
    db, archive = foreign_backup(sandbox, made, PRODUCTION_MAJOR)
    key = "vlvt_backup_-2026-01-25T03-00-00-123Z.tar.gz"
    r2_clean.client().upload_file(str(archive), r2_clean.bucket, key)  # the backup service
    env = sandbox_environment(db.server, r2_clean)
    env["AWS_PROFILE"] = r2_clean.profile
    target = f"crm_streamed_{uuid.uuid4().hex[:8]}"
    url = db.server.create_database(target)
    try:
        uri = f"s3://{r2_clean.bucket}/{key}"
        inspected = run_cli(["inspect", uri], env, secrets=r2_clean.secrets)
        assert inspected.status == 0, inspected.stderr
        assert "archive version   1.15" in inspected.stdout.splitlines()
        assert f"tables            {len(EXPECTED_ROWS)}" in inspected.stdout.splitlines()
        restored = run_cli(
            ["restore", f"s3://{r2_clean.bucket}/{key}", "--target", url],
            env,
            secrets=r2_clean.secrets,
        )
        assert restored.status == 0, restored.stderr
        verified = run_cli(
            ["verify", "--target", url, "--archive", f"s3://{r2_clean.bucket}/{key}"],
            env,
            secrets=r2_clean.secrets,
        )
        assert verified.status == 0, verified.stdout + verified.stderr
    finally:
        db.server.drop_database(target)
