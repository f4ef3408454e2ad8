"""The one classifier of pg_restore failures
(:func:`runbook_helpers.archive.inspect.pg_restore_error`), fed the messages a real pg_restore
prints for inputs made to provoke them, and used by both ``inspect`` and ``restore``
(:func:`runbook_helpers.restore.tools.raise_for`)."""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from runbook_helpers.archive.inspect import local_pg_restore, pg_restore_error
from runbook_helpers.errors import ExitStatus, Incompatible, IntegrityError, RunbookError
from runbook_helpers.restore.tools import ToolFailed, raise_for
from tests.support import faults
from tests.support.cli_checks import assert_clean_failure
from tests.support.cli_runs import run_cli


def _tar_with_toc(path: Path, toc: bytes) -> Path:
    """A tar whose first member is ``toc.dat`` holding ``toc``: a pg_dump tar in shape only."""
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("toc.dat")
        info.size = len(toc)
        tar.addfile(info, io.BytesIO(toc))
    return path


def _pg_restore_stderr(path: Path) -> str:
    tool, _ = local_pg_restore()
    proc = subprocess.run([str(tool), "--list", str(path)], capture_output=True, check=False)
    assert proc.returncode != 0, proc.stdout
    return proc.stderr.decode()


@pytest.fixture()
def no_magic(tmp_path: Path) -> Path:
    """A tar whose toc.dat lacks the PGDMP magic: a damaged archive, not a foreign one."""
    return _tar_with_toc(tmp_path / "damaged.tar", os.urandom(2048))


def test_missing_magic_in_toc_is_damage_not_incompatibility(no_magic: Path) -> None:
    stderr = _pg_restore_stderr(no_magic)
    assert "did not find magic string" in stderr
    typed = pg_restore_error(stderr)
    assert isinstance(typed, IntegrityError) and not isinstance(typed, Incompatible)
    assert "damaged" in str(typed) and "did not find magic string" in str(typed)
    assert "sha256" in typed.hint


def test_restore_and_inspect_classify_alike(no_magic: Path) -> None:
    """``restore``'s tool wrapper raises ToolFailed whose cause is the classifier's own error."""
    stderr = _pg_restore_stderr(no_magic)
    err = io.BytesIO(stderr.encode())
    with pytest.raises(ToolFailed) as info:
        raise_for(1, err, "pg_restore")
    cause = info.value.__cause__
    assert isinstance(cause, IntegrityError)
    assert str(info.value) == str(cause) == str(pg_restore_error(stderr))


@pytest.mark.parametrize("command", ["restore", "inspect"])
def test_runbook_calls_a_toc_without_magic_damaged(
    command: str, no_magic: Path, tmp_path: Path, pg_url: str, sandbox_env: dict[str, str]
) -> None:
    """The same file through the CLI: exit 6 (integrity), as pg_restore's message is typed, and
    the target untouched."""
    backup = faults.write(
        tmp_path / "vlvt_backup_-2026-01-25T03-00-00-000Z.tar.gz",
        gzip.compress(no_magic.read_bytes()),
    )
    argv = [command, str(backup)] + (["--target", pg_url] if command == "restore" else [])
    error = assert_clean_failure(run_cli(argv, sandbox_env), ExitStatus.INTEGRITY)
    assert "damaged" in error
    assert faults.target_state(pg_url) == "untouched"


def test_newer_archive_version_stays_incompatible(tmp_path: Path) -> None:
    # PGDMP, version 1.99.0, int size 4, offset size 8, format custom: newer than any pg_restore
    path = tmp_path / "newer.dump"
    path.write_bytes(b"PGDMP\x01\x63\x00\x04\x08\x01" + bytes(600))
    stderr = _pg_restore_stderr(path)
    assert "unsupported version (1.99) in file header" in stderr
    typed = pg_restore_error(stderr)
    assert isinstance(typed, Incompatible) and "archive version 1.99" in str(typed)


def test_gzipped_input_is_not_an_archive(tmp_path: Path, no_magic: Path) -> None:
    """Still gzip'd (docs/troubleshooting.md's first row): the wrong input, not a damaged one."""
    path = tmp_path / "still.tar.gz"
    path.write_bytes(gzip.compress(no_magic.read_bytes()))
    stderr = _pg_restore_stderr(path)
    assert "does not appear to be a valid archive" in stderr
    typed = pg_restore_error(stderr)
    assert isinstance(typed, Incompatible) and "not a pg_dump archive" in str(typed)


def test_unknown_failure_is_a_plain_error_with_the_last_line() -> None:
    typed = pg_restore_error("pg_restore: error: something new\n")
    assert type(typed) is RunbookError and "something new" in str(typed)
