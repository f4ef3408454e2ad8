"""What the storage fault tests share: the R2 commands, a backup key, a profile for an endpoint."""

from __future__ import annotations

from pathlib import Path

from tests.support.aws_profiles import write_profile

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
KEY = "vlvt_backup_-2026-01-25T03-00-00-123Z.tar.gz"
#: every command that talks to R2, each failing the same documented way
COMMANDS = [
    ["backups", "list"],
    ["backups", "latest"],
    ["freshness"],
    ["fetch", f"s3://vlvt-backups/{KEY}"],
    ["inspect", f"s3://vlvt-backups/{KEY}"],
    ["presign", f"s3://vlvt-backups/{KEY}"],
]


def with_endpoint(env: dict[str, str], tmp_path: Path, endpoint: str) -> dict[str, str]:
    """``env`` with an ``r2-vlvt`` profile pointing at ``endpoint`` (with a secret to redact)."""
    return dict(env, **write_profile(tmp_path / "aws", "r2-vlvt", endpoint, "AKIDFAULT", SECRET))


def command_id(argv: list[str]) -> str:
    return " ".join(argv[:2])
