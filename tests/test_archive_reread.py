"""The second read of a local tar backup (newest ``created_at`` while the indexes build): the
same numbers as the one-pass count, and any difference between the two reads is an error."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import psycopg
import pytest

from runbook_helpers.archive.counts import count_tar
from runbook_helpers.archive.manifest import TableStats
from runbook_helpers.archive.reread import Reread, read
from runbook_helpers.archive.stream import iter_file, iter_gunzip
from runbook_helpers.errors import IntegrityError
from tests.support import faults
from tests.support.cli_runs import run_cli


def _one_pass(path: Path) -> dict[str, TableStats]:
    with path.open("rb") as f:
        return count_tar(iter_gunzip(iter_file(f)))


def test_the_second_read_gives_the_one_pass_numbers_and_the_file_hash(
    seeded_tar_gz: Path, tmp_path: Path
) -> None:
    expected = _one_pass(seeded_tar_gz)
    assert expected["public.messages"].newest_created_at  # the column is there to read
    assert read(seeded_tar_gz, gzipped=True) == (
        hashlib.sha256(seeded_tar_gz.read_bytes()).hexdigest(),
        expected,
    )
    plain = faults.write(tmp_path / "backup.tar", gzip.decompress(seeded_tar_gz.read_bytes()))
    assert read(plain, gzipped=False) == (
        hashlib.sha256(plain.read_bytes()).hexdigest(),
        expected,
    )


def _counted(path: Path) -> dict[str, TableStats]:
    """What the load counts: rows only."""
    return {t: TableStats(s.rows) for t, s in _one_pass(path).items()}


def test_the_child_agrees_when_it_read_the_same_bytes(seeded_tar_gz: Path) -> None:
    reread = Reread(seeded_tar_gz, gzipped=True)
    try:
        sha = hashlib.sha256(seeded_tar_gz.read_bytes()).hexdigest()
        assert reread.result(sha, _counted(seeded_tar_gz)) == _one_pass(seeded_tar_gz)
    finally:
        reread.close()


@pytest.mark.parametrize("differs", ["hash", "rows"])
def test_a_file_that_changed_between_the_reads_is_an_integrity_error(
    seeded_tar_gz: Path, differs: str
) -> None:
    sha = hashlib.sha256(seeded_tar_gz.read_bytes()).hexdigest()
    counted = _counted(seeded_tar_gz)
    if differs == "hash":
        sha = "0" * 64
    else:
        counted["public.users"] = TableStats(counted["public.users"].rows + 1)
    reread = Reread(seeded_tar_gz, gzipped=True)
    try:
        with pytest.raises(IntegrityError, match="changed while it was being restored"):
            reread.result(sha, counted)
    finally:
        reread.close()


def test_an_unreadable_second_read_fails_in_one_line(seeded_tar_gz: Path, tmp_path: Path) -> None:
    cut = faults.write(tmp_path / "cut.tar.gz", seeded_tar_gz.read_bytes()[:-2000])
    reread = Reread(cut, gzipped=True)
    try:
        with pytest.raises(IntegrityError) as caught:
            reread.result("", {})
    finally:
        reread.close()
    message = str(caught.value)
    assert message.startswith("reading the backup a second time failed: ")
    assert "\n" not in message and "Traceback" not in message


def test_close_stops_a_running_child(seeded_tar_gz: Path) -> None:
    reread = Reread(seeded_tar_gz, gzipped=True)
    reread.close()
    assert reread._proc.poll() is not None


def test_the_parallel_restore_of_a_local_file_reads_created_at_twice(
    seeded_tar_gz: Path, pg_url: str, sandbox_env: dict[str, str]
) -> None:
    res = run_cli(["restore", str(seeded_tar_gz), "--target", pg_url, "-j", "2"], sandbox_env)
    assert res.status == 0, res.stderr
    assert f"newest created_at read in a second pass over {seeded_tar_gz}" in res.stderr
    newest = _one_pass(seeded_tar_gz)["public.messages"].newest_created_at
    assert newest is not None
    with psycopg.connect(pg_url) as conn:
        row = conn.execute(
            "select to_char(max(created_at) at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS')"
            " from messages"
        ).fetchone()
    assert row is not None and newest.startswith(row[0])
