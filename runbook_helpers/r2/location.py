"""Where an object is: ``s3://BUCKET/KEY`` parsed and printed, with no S3 client (no boto3).

:mod:`runbook_helpers.r2.storage` re-exports both names; a reader of local archives
(:mod:`runbook_helpers.archive.source`) tells an ``s3://`` source from a file without importing
boto3 (150 ms of every start).
"""

from __future__ import annotations

from dataclasses import dataclass

from runbook_helpers.errors import UsageError

SCHEME = "s3://"


def is_s3_uri(text: str) -> bool:
    return text.startswith(SCHEME)


@dataclass(frozen=True)
class S3Location:
    """One object (or prefix) in a bucket; ``uri`` is ``s3://bucket/key``."""

    bucket: str
    key: str

    @classmethod
    def parse(cls, text: str) -> S3Location:
        if not is_s3_uri(text):
            raise UsageError(f"not an s3:// URI: {text!r}", hint="write it as s3://BUCKET/KEY")
        bucket, _, key = text[len(SCHEME) :].partition("/")
        if not bucket:
            raise UsageError(f"no bucket in {text!r}", hint="write it as s3://BUCKET/KEY")
        return cls(bucket, key)

    @property
    def uri(self) -> str:
        return f"{SCHEME}{self.bucket}/{self.key}"

    @property
    def name(self) -> str:
        """The last path segment of the key (the file name a download gets)."""
        return self.key.rsplit("/", 1)[-1]

    def sidecar(self, suffix: str) -> S3Location:
        """The object stored next to this one, e.g. ``.sha256`` or ``.manifest.json``."""
        return S3Location(self.bucket, self.key + suffix)

    def __str__(self) -> str:
        return self.uri
