"""The pages' manual checks, run as written against every case of the fault corpus: none of
them may report success on a broken backup, and each old check the pages warn about is shown
to miss what the pages say it misses. Each block's run on a case is made once per session
(:mod:`tests.support.corpus_runs`): test_corpus_messages.py reads the same runs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from runbook_helpers.sandbox.r2 import R2Mock
from tests.support.corpus_runs import CHECK, CorpusRuns, sha256
from tests.support.fault_corpus import BROKEN, KILLED, RESTORABLE, Corpus, upload_history
from tests.support.page_recipes import StepRun, console_commands, run_steps

DOWNLOAD = console_commands("troubleshooting.md", "aws s3 ls s3://vlvt-backups/")


def by_hand(runs: CorpusRuns, name: str) -> list[StepRun]:
    """backups.md's check by hand (GNU tar) on case ``name``, copied to the name it uses."""
    assert CHECK[0] == "FILE=killed.tar.gz" and len(CHECK) == 5
    return runs.check_by_hand(name, "GNU tar")


def statuses(steps: list[StepRun]) -> list[int | None]:
    return [step.status for step in steps]


@pytest.mark.parametrize("name", BROKEN)
def test_the_check_by_hand_fails_on_every_broken_backup(name: str, corpus_runs: CorpusRuns) -> None:
    got = statuses(by_hand(corpus_runs, name))
    assert any(s != 0 for s in got[1:]), got


@pytest.mark.parametrize("name", RESTORABLE)
def test_the_check_by_hand_passes_a_whole_backup(name: str, corpus_runs: CorpusRuns) -> None:
    assert statuses(by_hand(corpus_runs, name)) == [0] * 5


@pytest.mark.parametrize("name", [n for n in KILLED if n != "killed_while_writing"])
def test_gzip_t_tar_tf_and_pg_restore_list_miss_a_dump_killed_mid_table(
    name: str, fault_corpus: Corpus, corpus_env: dict[str, str], corpus_runs: CorpusRuns
) -> None:
    """What backups.md says the old checks miss: all three exit 0; only the awk line fails,
    naming the missing members."""
    case = fault_corpus.cases[name]
    assert (case.pipeline_status, case.gzip_t, case.gnu_tar, case.bsdtar) == (0, 0, 0, 0)
    steps = by_hand(corpus_runs, name)
    assert statuses(steps) == [0, 0, 0, 0, 1]
    listed = subprocess.run(
        ["bash", "-c", f"pg_restore --list < <(gzip -cd {case.path})"],
        env=corpus_env,
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert listed.returncode == 0
    missing = steps[-1].output  # the awk line's, in the same run of the block
    assert "missing restore.sql" in missing and "(public.z_last)" in missing


def test_the_template_pipeline_exits_0_on_every_case(fault_corpus: Corpus) -> None:
    """No pipefail: the backup service logs success whatever pg_dump did."""
    made = [c for c in fault_corpus.cases.values() if c.name not in ("upload_cut", "zero_byte")]
    assert {c.name: c.pipeline_status for c in made} == {c.name: 0 for c in made}
    assert (
        fault_corpus.cases["spool_disk_full"]
        .dump_stderr.strip()
        .endswith("No space left on device")
    )


@pytest.mark.parametrize("name", [*BROKEN, *RESTORABLE])
def test_the_manual_restore_recipe_never_reports_success_on_a_broken_backup(
    name: str,
    fault_corpus: Corpus,
    corpus_env: dict[str, str],
    r2_clean: R2Mock,
    corpus_runs: CorpusRuns,
    tmp_path: Path,
) -> None:
    """troubleshooting.md's restore without the helper, all three blocks as written, run on
    through any failure (a reader who ignores one); a hung pg_restore is stopped after 20 s as
    a reader would stop it. Its last line says "rows OK" only for a whole backup.

    The download runs here; the restore and row check on the bytes it downloaded are the
    session's one run of those two blocks on this case (``CorpusRuns.manual_restore``: a
    directory holding those bytes as ``backup.tar.gz``, ``vlvt_manual`` dropped first)."""
    cases = fault_corpus.cases
    upload_history(r2_clean.client(), r2_clean.bucket, cases[name], cases["complete"])
    env = dict(corpus_env, AWS_PROFILE=r2_clean.profile)  # exported on the start page
    runs = run_steps(DOWNLOAD, tmp_path, env, timeout=60)
    assert [r.status for r in runs[:3]] == [0, 0, 0], runs  # the download itself works
    manual = corpus_runs.manual_restore(name)
    assert sha256(tmp_path / "backup.tar.gz") == manual.backup_sha256  # last night's bytes
    runs += manual.restore
    rows = manual.rows
    last = rows[-1]
    if name in RESTORABLE:
        assert [r.status for r in runs + rows] == [0] * len(runs + rows), runs + rows
        assert last.output.strip() == "rows OK"
    else:
        assert last.status != 0 and "rows OK" not in last.output, rows
