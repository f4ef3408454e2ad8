"""``runbook preflight``'s client checks: a psql without ``\\restrict`` and an AWS CLI on
Cloudflare's list of releases incompatible with R2 are flagged, with the profile's settings."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from runbook_helpers.checks import preflight_clients
from runbook_helpers.checks.preflight_clients import check_aws_cli, check_psql
from runbook_helpers.errors import ExitStatus
from runbook_helpers.pg import psql_restricted
from runbook_helpers.pg.psql_restricted import RESTRICT_SINCE, psql_restricts
from runbook_helpers.sandbox.postgres import pgserver_bin_dir

NO_CHECKSUM_SETTINGS = "[profile r2-vlvt]\nregion = auto\n"
WHEN_REQUIRED = (
    "[profile r2-vlvt]\nregion = auto\nrequest_checksum_calculation = when_required\n"
    "response_checksum_validation = when_required\n"
)


def fake_tool(directory: Path, name: str, script: str) -> Path:
    """An executable ``name`` in ``directory`` running ``script`` (sh)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(0o755)
    return path


def fake_aws(tmp_path: Path, version: str, config: str, mp: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / f"aws-{version}"
    fake_tool(bin_dir, "aws", f"echo 'aws-cli/{version} Python/3.12.8 Darwin/24.1.0 source/arm64'")
    (tmp_path / "config").write_text(config)
    mp.setenv("PATH", str(bin_dir))
    mp.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    for name in ("AWS_REQUEST_CHECKSUM_CALCULATION", "AWS_RESPONSE_CHECKSUM_VALIDATION"):
        mp.delenv(name, raising=False)


@pytest.mark.parametrize("version", ["2.23.0", "2.31.4", "1.37.0", "1.46.3"])
def test_a_listed_aws_cli_is_flagged(
    version: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_aws(tmp_path, version, WHEN_REQUIRED, monkeypatch)
    check = check_aws_cli("r2-vlvt")
    assert check.status == "WARN"
    assert f"aws-cli {version} is on Cloudflare's list of releases incompatible with R2" in (
        check.detail
    )
    assert "request_checksum_calculation = when_required" in check.detail
    assert "put-bucket-lifecycle-configuration" in check.detail
    assert "runbook lifecycle" in check.hint


def test_a_listed_aws_cli_without_the_settings_is_told_to_set_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_aws(tmp_path, "2.24.1", NO_CHECKSUM_SETTINGS, monkeypatch)
    check = check_aws_cli("r2-vlvt")
    assert check.status == "WARN"
    # botocore's defaults when the profile says nothing: checksums whenever supported
    assert "request_checksum_calculation = when_supported" in check.detail
    assert "uploads with it are refused" in check.detail
    assert "when_required" in check.hint and "2.22.35" in check.hint


@pytest.mark.parametrize("version", ["2.22.35", "1.36.40", "1.29.0"])
def test_an_aws_cli_before_the_list_is_ok(
    version: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_aws(tmp_path, version, WHEN_REQUIRED, monkeypatch)
    check = check_aws_cli("r2-vlvt")
    assert check.status == "OK", check
    assert f"aws-cli {version}, before R2's incompatible releases" in check.detail


def test_the_installed_aws_cli_is_checked_for_real(monkeypatch: pytest.MonkeyPatch) -> None:
    aws = shutil.which("aws")
    if aws is None:
        pytest.skip("no aws CLI here")
    version = preflight_clients.aws_cli_version(aws)
    assert version is not None
    assert check_aws_cli(None).status in ("OK", "WARN")


def test_a_psql_without_restrict_is_flagged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pgserver's psql 16.2 (troubleshooting's old fallback) has no \\restrict: 16.10 has."""
    psql = pgserver_bin_dir() / "psql"
    if not psql.exists():
        pytest.skip("no pgserver wheel here")
    if psql_restricts(psql):
        pytest.skip(f"{psql} has \\restrict")
    monkeypatch.setenv("PATH", f"{psql.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(psql_restricted, "candidate_bin_dirs", lambda: [])
    check = check_psql()
    assert check.status == "FAIL"
    assert check.exit_status == ExitStatus.INCOMPATIBLE == 7
    assert "psql 16.2 on PATH has no \\restrict (needs 16.10 or newer)" in check.detail
    assert "16.10" in check.hint


def test_runbook_names_the_psql_it_restores_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = fake_tool(
        tmp_path / "old",
        "psql",
        'case "$1" in --version) echo "psql (PostgreSQL) 15.3";; *) printf "%s\\n" "q quit";; esac',
    )
    good = fake_tool(
        tmp_path / "good/17/bin",
        "psql",
        'case "$1" in --version) echo "psql (PostgreSQL) 17.6";; '
        '*) printf "%s\\n" "\\\\restrict KEY  enter restricted mode";; esac',
    )
    monkeypatch.setenv("PATH", str(old.parent))
    monkeypatch.setattr(psql_restricted, "candidate_bin_dirs", lambda: [good.parent])
    check = check_psql()
    assert check.status == "WARN", check
    assert "psql 15.3 on PATH has no \\restrict (needs 15.14 or newer)" in check.detail
    assert str(good) in check.detail


def test_restrict_minimums_are_the_fixed_releases() -> None:
    assert RESTRICT_SINCE == {13: 22, 14: 19, 15: 14, 16: 10, 17: 6}
