"""The nightly jobs on a broken newest backup of the fault corpus: backups list/latest and
freshness flag it, restore-test and the real-mode drill fail on it and leave nothing behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runbook_helpers.errors import ExitStatus
from runbook_helpers.sandbox.r2 import R2Mock
from runbook_helpers.sandbox.server import PostgresServer
from tests.support.cli_checks import assert_clean_failure
from tests.support.cli_runs import run_cli, run_runbook
from tests.support.corpus_checks import LEFT_ALONE, failed_cleanly
from tests.support.fault_corpus import BROKEN, Corpus, upload_history
from tests.support.faults import target_state

#: broken, yet of a plausible size: only reading the bytes catches these (inspect, restore)
SIZE_HIDES = ("terminated_after_largest", "upload_cut")


@pytest.mark.parametrize("name", BROKEN)
def test_backups_list_latest_and_freshness_flag_the_small_newest(
    name: str, fault_corpus: Corpus, corpus_env: dict[str, str], r2_clean: R2Mock
) -> None:
    cases = fault_corpus.cases
    uri = upload_history(r2_clean.client(), r2_clean.bucket, cases[name], cases["complete"])
    listed = run_cli(["backups", "list"], corpus_env)
    latest = run_cli(["backups", "latest"], corpus_env)
    fresh = run_cli(["freshness"], corpus_env)
    if name in SIZE_HIDES:  # what the size check cannot see (backups.md's monitoring says so)
        assert cases[name].size >= 0.5 * cases["complete"].size
        assert (listed.status, latest.status, fresh.status) == (0, 0, 0)
        assert latest.stdout.strip() == uri
        return
    line = assert_clean_failure(listed, ExitStatus.STALE, argv=["backups", "list"])
    assert uri in line
    newest = [ln for ln in listed.stdout.splitlines() if uri in ln]
    assert newest and newest[0].endswith("<- far smaller than the ones before")
    line = assert_clean_failure(latest, ExitStatus.STALE, argv=["backups", "latest"])
    assert uri in line and "probably incomplete" in line and latest.stdout == ""
    assert fresh.status == ExitStatus.STALE and fresh.stdout.startswith("STALE newest backup is")


@pytest.mark.parametrize("name", SIZE_HIDES)
def test_what_the_size_check_misses_inspect_latest_catches(
    name: str, fault_corpus: Corpus, corpus_env: dict[str, str], r2_clean: R2Mock
) -> None:
    """backups.md's monitoring runs ``runbook inspect latest`` after ``freshness``: it reads the
    newest backup to its end, so it fails on a backup of a normal size with its tail missing."""
    cases = fault_corpus.cases
    upload_history(r2_clean.client(), r2_clean.bucket, cases[name], cases["complete"])
    assert run_cli(["freshness"], corpus_env).status == 0
    argv = ["inspect", "latest"]
    result = run_cli(argv, corpus_env)
    line = failed_cleanly(result, argv)
    assert "is incomplete" in line, line
    if name == "terminated_after_largest":
        assert "complete          no" in result.stdout
        assert "missing           2554.dat (public.z_last)" in result.stdout


def test_latest_of_a_good_night_is_not_flagged(
    fault_corpus: Corpus, corpus_env: dict[str, str], r2_clean: R2Mock
) -> None:
    cases = fault_corpus.cases
    uri = upload_history(r2_clean.client(), r2_clean.bucket, cases["complete"], cases["complete"])
    latest = run_cli(["backups", "latest"], corpus_env)
    assert latest.status == 0 and latest.stdout.strip() == uri


@pytest.mark.parametrize("name", BROKEN)
def test_restore_test_fails_on_it_and_drops_the_scratch_database(
    name: str,
    fault_corpus: Corpus,
    corpus_env: dict[str, str],
    r2_clean: R2Mock,
    pg16_server: PostgresServer,
    tmp_path: Path,
) -> None:
    cases = fault_corpus.cases
    upload_history(r2_clean.client(), r2_clean.bucket, cases[name], cases["complete"])
    report = tmp_path / "r.json"
    argv = ["restore-test", "--scratch-url", pg16_server.url("postgres"), "--report", str(report)]
    result = run_runbook(argv, corpus_env)
    assert result.status in (ExitStatus.INTEGRITY, ExitStatus.STALE), result.stderr
    assert json.loads(report.read_text())["scratch"]["dropped"] in (True, None)
    with pg16_server.connect() as conn:
        left = conn.execute(
            "select datname from pg_database where datname like 'vlvt_restore_test_%'"
        ).fetchall()
    assert left == []


@pytest.mark.parametrize("name", BROKEN)
def test_drill_real_mode_fails_on_it(
    name: str,
    fault_corpus: Corpus,
    corpus_env: dict[str, str],
    r2_clean: R2Mock,
    new_target: str,
    pg16_server: PostgresServer,
    tmp_path: Path,
) -> None:
    cases = fault_corpus.cases
    upload_history(r2_clean.client(), r2_clean.bucket, cases[name], cases["complete"])
    target_name = new_target.rsplit("/", 1)[1]
    pg16_server.create_database(target_name)
    env = {**corpus_env, "RUNBOOK_DRILL_TARGET_URL": new_target}
    env.update(AWS_PROFILE=r2_clean.profile, RUNBOOK_BUCKET=r2_clean.bucket)
    report = tmp_path / "d.json"
    result = run_runbook(["drill", "--report", str(report)], env)
    assert result.status in (ExitStatus.INTEGRITY, ExitStatus.STALE), result.stdout + result.stderr
    data = json.loads(report.read_text())
    assert data["ok"] is False
    assert target_state(new_target) in LEFT_ALONE
