"""The bucket's expiry rule (an R2 lifecycle rule), set and read the way R2 accepts it.

R2 lets only an Admin Read & Write token edit bucket configuration (Object Read & Write covers
objects only), and refuses ``x-amz-sdk-checksum-algorithm`` on PutBucketLifecycleConfiguration
(docs/facts.md). botocore 1.36+ (AWS CLI 1.37+/2.23+) sends that header with a CRC32 there even
with ``request_checksum_calculation = when_required``, because S3 requires a checksum on this
call. :func:`set_expiry` therefore sends the body's ``Content-MD5`` instead: what S3 asked for
before those releases, and what R2 documents no refusal of.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from runbook_helpers.errors import AccessDenied, UsageError
from runbook_helpers.r2.errors import translate_errors
from runbook_helpers.r2.storage import S3Client

_CHECKSUM_HEADERS = ("x-amz-sdk-checksum-algorithm", "x-amz-checksum-")
ADMIN_HINT = (
    "bucket configuration needs an R2 token with Admin Read & Write (Object Read & Write tokens "
    "cover objects only): create one, put it in the r2-vlvt-admin profile (backups.md), "
    "or set the rule in the R2 dashboard"
)
MAX_DAYS = 36500


@dataclass(frozen=True)
class ExpiryRule:
    """One lifecycle rule as the runbook shows it."""

    rule_id: str
    enabled: bool
    prefix: str
    days: int | None  # None: the rule does not expire objects by age

    def describe(self, bucket: str) -> str:
        state = "enabled" if self.enabled else "DISABLED"
        what = f"expire {self.days} days after upload" if self.days else "no age expiry"
        return f"{self.rule_id}: {state}, objects in s3://{bucket}/{self.prefix} {what}"


def content_md5_instead(request: Any, **_: Any) -> None:
    """botocore ``before-sign`` handler: the flexible-checksum headers out, Content-MD5 in."""
    for name in list(request.headers.keys()):
        if name.lower().startswith(_CHECKSUM_HEADERS):
            del request.headers[name]
    body = request.body or b""
    data = body.encode() if isinstance(body, str) else bytes(body)
    digest = hashlib.md5(data, usedforsecurity=False).digest()
    request.headers["Content-MD5"] = base64.b64encode(digest).decode()


def _rules(raw: list[Any]) -> list[ExpiryRule]:
    rules = []
    for rule in raw:
        prefix = str((rule.get("Filter") or {}).get("Prefix", rule.get("Prefix", "")) or "")
        days = (rule.get("Expiration") or {}).get("Days")
        rules.append(
            ExpiryRule(
                str(rule.get("ID", "")),
                rule.get("Status") == "Enabled",
                prefix,
                int(days) if days else None,
            )
        )
    return rules


def _denied(exc: AccessDenied) -> AccessDenied:
    return AccessDenied(str(exc), hint=ADMIN_HINT)


def lifecycle_rules(client: S3Client, bucket: str) -> list[ExpiryRule]:
    """The bucket's lifecycle rules (empty when it has none)."""
    try:
        with translate_errors(f"s3://{bucket}/ (lifecycle)"):
            try:
                answer = client.get_bucket_lifecycle_configuration(Bucket=bucket)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "NoSuchLifecycleConfiguration":
                    return []
                raise
    except AccessDenied as exc:
        raise _denied(exc) from None
    return _rules(list(answer.get("Rules", [])))


def set_expiry(client: S3Client, bucket: str, days: int, prefix: str = "") -> list[ExpiryRule]:
    """Replace the bucket's lifecycle configuration by one rule: expire after ``days``."""
    if not 1 <= days <= MAX_DAYS:
        raise UsageError(f"--expire-days must be between 1 and {MAX_DAYS}, not {days}")
    rule = {
        "ID": f"expire-backups-after-{days}-days",
        "Status": "Enabled",
        "Filter": {"Prefix": prefix},
        "Expiration": {"Days": days},
    }
    event = "before-sign.s3.PutBucketLifecycleConfiguration"
    client.meta.events.register(event, content_md5_instead)
    try:
        with translate_errors(f"s3://{bucket}/ (lifecycle)"):
            client.put_bucket_lifecycle_configuration(
                Bucket=bucket,
                LifecycleConfiguration={"Rules": [rule]},  # type: ignore[list-item]
            )
    except AccessDenied as exc:
        raise _denied(exc) from None
    finally:
        client.meta.events.unregister(event, content_md5_instead)
    return lifecycle_rules(client, bucket)
