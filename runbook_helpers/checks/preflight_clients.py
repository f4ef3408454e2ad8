"""Preflight's client checks: the psql that runs a restore, and the AWS CLI against R2.

* ``psql``: restores send SQL through psql in restricted mode (``\\restrict``), which only
  13.22+/14.19+/15.14+/16.10+/17.6+/18 have (:mod:`runbook_helpers.pg.psql_restricted`).
  Without one, the serial and plain-SQL restores exit 7.
* ``aws CLI``: Cloudflare lists AWS CLI 2.23.0+ and 1.37.0+ as incompatible with R2 for uploads
  (new default checksums) and says the ``when_required`` settings do not fix every subcommand
  (docs/facts.md). Shown with the profile's two checksum settings.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import botocore.session
from botocore.exceptions import BotoCoreError

from runbook_helpers.checks.preflight_checklist import Check
from runbook_helpers.errors import ExitStatus, Incompatible
from runbook_helpers.pg.psql_restricted import (
    RELEASES,
    RESTRICT_SINCE,
    psql_restricts,
    restricted_psql,
)
from runbook_helpers.pg.tools import tool_version

# Cloudflare's R2 "aws CLI" page: the first incompatible release per major, the last good one.
AWS_INCOMPATIBLE_FROM: dict[int, tuple[int, int, int]] = {1: (1, 37, 0), 2: (2, 23, 0)}
AWS_LAST_COMPATIBLE: dict[int, str] = {1: "1.36.40", 2: "2.22.35"}
CHECKSUM_SETTINGS = ("request_checksum_calculation", "response_checksum_validation")
_AWS_VERSION = re.compile(r"aws-cli/(\d+)\.(\d+)\.(\d+)")


def check_psql() -> Check:
    """Whether the psql on PATH has ``\\restrict``, and which psql runbook's restores use."""
    found = shutil.which("psql")
    if found is None:
        return Check("psql", "WARN", "not checked: no psql on PATH (see tools)")
    major, minor = tool_version(found)
    if psql_restricts(Path(found)):
        return Check("psql", "OK", f"psql {major}.{minor} has \\restrict (restricted mode)")
    need = f"{major}.{RESTRICT_SINCE[major]}" if major in RESTRICT_SINCE else "13.22"
    lacks = f"psql {major}.{minor} on PATH has no \\restrict (needs {need} or newer)"
    try:
        other = restricted_psql()
    except Incompatible as exc:
        return Check("psql", "FAIL", f"{lacks}; {exc}", exc.hint, ExitStatus.INCOMPATIBLE)
    return Check(
        "psql",
        "WARN",
        f"{lacks}; runbook restores through {other}, which has it",
        f"put a current client first on PATH ({RELEASES}): a psql without \\restrict "
        "runs the meta-commands of a plain-SQL file you pipe into it",
    )


def aws_cli_version(aws: str) -> tuple[int, int, int] | None:
    """``(major, minor, patch)`` from ``aws --version`` (v1 and v2 print ``aws-cli/X.Y.Z``)."""
    try:
        proc = subprocess.run(
            [aws, "--version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = _AWS_VERSION.search(proc.stdout + proc.stderr)
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def checksum_settings(profile: str | None) -> dict[str, str]:
    """The profile's two checksum settings, as the AWS CLI resolves them ('unset' if none)."""
    values = dict.fromkeys(CHECKSUM_SETTINGS, "unset")
    try:
        session = botocore.session.Session(profile=profile)
        for name in CHECKSUM_SETTINGS:
            value = session.get_config_variable(name)
            if value:
                values[name] = str(value).lower()
    except BotoCoreError:
        pass
    return values


def check_aws_cli(profile: str | None) -> Check:
    """The AWS CLI's release against Cloudflare's incompatible list, with the profile settings."""
    aws = shutil.which("aws")
    if aws is None:
        return Check("aws CLI", "WARN", "not on PATH (the pages' aws commands need it)")
    version = aws_cli_version(aws)
    if version is None:
        return Check("aws CLI", "WARN", f"{aws}: version unknown (aws --version said nothing)")
    shown = ".".join(map(str, version))
    settings = checksum_settings(profile)
    named = f"profile {profile}" if profile else "default profile"
    setting_text = f"{named}: " + ", ".join(f"{k} = {v}" for k, v in settings.items())
    first_bad = AWS_INCOMPATIBLE_FROM.get(version[0])
    if first_bad is None or version < first_bad:
        return Check(
            "aws CLI", "OK", f"aws-cli {shown}, before R2's incompatible releases; {setting_text}"
        )
    good = AWS_LAST_COMPATIBLE[version[0]]
    bad = ".".join(map(str, first_bad))
    listed = f"aws-cli {shown} is on Cloudflare's list of releases incompatible with R2 ({bad}+)"
    if any(v != "when_required" for v in settings.values()):
        return Check(
            "aws CLI",
            "WARN",
            f"{listed}; {setting_text}: uploads with it are refused (NotImplemented)",
            f"set both to when_required (setup.md), or use aws-cli {good}",
        )
    return Check(
        "aws CLI",
        "WARN",
        f"{listed}; {setting_text}: lists and downloads work, but some subcommands still send "
        "checksums R2 refuses (s3api put-bucket-lifecycle-configuration)",
        f"use runbook lifecycle / runbook backup for those, or aws-cli {good} "
        "(Cloudflare's advice)",
    )
