"""An AWS config/credentials pair on disk, as a reader writes it for the ``r2-vlvt`` profile."""

from __future__ import annotations

from pathlib import Path


def write_profile(
    directory: Path, name: str, endpoint: str, key: str, secret: str
) -> dict[str, str]:
    """An AWS config/credentials pair for ``name``; returns the env pointing at it."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config").write_text(
        f"[profile {name}]\nregion = auto\nendpoint_url = {endpoint}\n"
    )
    (directory / "credentials").write_text(
        f"[{name}]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\n"
    )
    return {
        "AWS_CONFIG_FILE": str(directory / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(directory / "credentials"),
    }
