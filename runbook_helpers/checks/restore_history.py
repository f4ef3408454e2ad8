"""Where ``runbook restore-test`` keeps its last N JSON reports: a local directory or a bucket.

A local directory suits CI (kept between runs as a cache or an artifact); a bucket prefix
(``s3://BUCKET/PREFIX/``) needs a profile that may write there (``r2-vlvt-write``: the
read-only ``r2-vlvt`` token cannot). Reports are named ``restore-test-<UTC stamp>.json`` so
that their names sort by time; only the newest ``keep`` are read (and, locally, kept).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from runbook_helpers.errors import UsageError
from runbook_helpers.r2.errors import translate_errors
from runbook_helpers.r2.storage import S3Client, S3Location, is_s3_uri, put_text, read_text

PREFIX = "restore-test-"
SUFFIX = ".json"
DEFAULT_KEEP = 30


def report_name(stamp: str) -> str:
    """``restore-test-20260101T030000.123456Z.json`` for ``20260101T030000.123456Z``."""
    return f"{PREFIX}{stamp}{SUFFIX}"


class History(Protocol):
    """The last reports, oldest first, and a place to add one."""

    @property
    def where(self) -> str: ...

    def load(self) -> list[dict[str, Any]]: ...

    def save(self, name: str, report: dict[str, Any]) -> str: ...


def _parse(text: str | None) -> dict[str, Any] | None:
    """A stored report, or None for an unreadable one (a history entry is never fatal)."""
    try:
        data = json.loads(text or "")
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


@dataclass
class LocalHistory:
    """Reports in a directory; older ones beyond ``keep`` are deleted when one is saved."""

    directory: Path
    keep: int = DEFAULT_KEEP

    @property
    def where(self) -> str:
        return str(self.directory)

    def _files(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(self.directory.glob(f"{PREFIX}*{SUFFIX}"))

    def load(self) -> list[dict[str, Any]]:
        loaded = (_parse(p.read_text(encoding="utf-8")) for p in self._files()[-self.keep :])
        return [r for r in loaded if r is not None]

    def save(self, name: str, report: dict[str, Any]) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / name
        path.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
        for old in self._files()[: -self.keep]:
            old.unlink(missing_ok=True)
        return str(path)


@dataclass
class BucketHistory:
    """Reports under ``s3://BUCKET/PREFIX/``; expiry is left to a bucket lifecycle rule."""

    location: S3Location
    client: S3Client
    keep: int = DEFAULT_KEEP

    @property
    def where(self) -> str:
        return self.location.uri

    def _keys(self) -> list[str]:
        keys: list[str] = []
        with translate_errors(self.location):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.location.bucket, Prefix=self.location.key + PREFIX
            )
            for page in pages:
                keys += [o["Key"] for o in page.get("Contents", []) if o["Key"].endswith(SUFFIX)]
        return sorted(keys)[-self.keep :]

    def load(self) -> list[dict[str, Any]]:
        loaded = (
            _parse(read_text(self.client, S3Location(self.location.bucket, key)))
            for key in self._keys()
        )
        return [r for r in loaded if r is not None]

    def save(self, name: str, report: dict[str, Any]) -> str:
        loc = S3Location(self.location.bucket, self.location.key + name)
        put_text(
            self.client, loc, json.dumps(report, indent=2, default=str) + "\n", "application/json"
        )
        return loc.uri


def open_history(where: str, *, keep: int, client: S3Client | None) -> History:
    """``s3://BUCKET/PREFIX/`` (with ``client``) or a local directory."""
    if keep < 1:
        raise UsageError(f"--history-keep must be at least 1, not {keep}")
    if is_s3_uri(where):
        loc = S3Location.parse(where)
        if loc.key and not loc.key.endswith("/"):
            loc = S3Location(loc.bucket, loc.key + "/")
        if client is None:
            raise UsageError(
                f"a bucket history ({where}) needs a profile that may write there",
                hint="pass --history-profile r2-vlvt-write, or keep the history in a directory",
            )
        return BucketHistory(loc, client, keep)
    return LocalHistory(Path(where), keep)
