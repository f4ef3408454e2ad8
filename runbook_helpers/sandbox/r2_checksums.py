"""The checksum request headers R2 refuses, refused by the stand-in after its token check.

Cloudflare's S3 API compatibility page (``r2/api/s3/api.mdx``, see docs/facts.md) marks these
headers as not implemented on these operations; R2 answers them with ``501 NotImplemented``,
``Header 'NAME' with value 'VALUE' not implemented``. AWS CLI 1.37+/2.23+ (botocore 1.36+)
send ``x-amz-sdk-checksum-algorithm`` on PutBucketLifecycleConfiguration and PutBucketCors even
with ``request_checksum_calculation = when_required``, because S3 requires a checksum there:
Cloudflare's "the overrides do not work for all subcommands".

:func:`install` wraps moto's S3 authorisation, so the token is checked first (a writer token
asking for a lifecycle rule gets ``AccessDenied``, as from R2) and the headers second.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from werkzeug.exceptions import HTTPException

_ALGORITHM_HEADERS = ("x-amz-sdk-checksum-algorithm", "x-amz-checksum-algorithm")
# operation -> the request headers api.mdx marks unsupported (❌ Checksums) on it
REFUSED: dict[str, tuple[str, ...]] = {
    "PutBucketLifecycleConfiguration": _ALGORITHM_HEADERS,
    "PutBucketCors": _ALGORITHM_HEADERS,
    "CopyObject": ("x-amz-checksum-algorithm",),
}


def operation(method: str, query: Mapping[str, Any], headers: Mapping[str, str], key: bool) -> str:
    """The S3 operation of a request, for the operations in :data:`REFUSED` ('' for others)."""
    if method != "PUT":
        return ""
    if not key and "lifecycle" in query:
        return "PutBucketLifecycleConfiguration"
    if not key and "cors" in query:
        return "PutBucketCors"
    lowered = {k.lower() for k in headers}
    if key and "x-amz-copy-source" in lowered and "partNumber" not in query:
        return "CopyObject"
    return ""


def refused_header(op: str, headers: Mapping[str, str]) -> tuple[str, str] | None:
    """``(header, value)`` of the first header R2 refuses on ``op``, else None."""
    lowered = {k.lower(): v for k, v in headers.items()}
    for name in REFUSED.get(op, ()):
        if name in lowered:
            return name, lowered[name]
    return None


class NotImplementedByR2(HTTPException):
    """R2's answer to a refused header: 501, S3 XML error ``NotImplemented``."""

    code = 501

    def __init__(self, header: str, value: str) -> None:
        super().__init__()
        self.message = f"Header '{header}' with value '{value}' not implemented"

    def get_body(self, *args: Any, **kwargs: Any) -> str:
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>NotImplemented</Code><Message>{self.message}</Message></Error>"
        )

    def get_headers(self, *args: Any, **kwargs: Any) -> list[tuple[str, str]]:
        return [("Content-Type", "application/xml")]


def install() -> None:
    """Check every authorised S3 request for the headers of :data:`REFUSED` (moto's process)."""
    from moto.s3.responses import S3Response

    authorise: Callable[..., None] = S3Response._authenticate_and_authorize_s3_action

    def authorise_then_check(
        self: S3Response, bucket_name: str | None = None, key_name: str | None = None
    ) -> None:
        authorise(self, bucket_name=bucket_name, key_name=key_name)
        headers = dict(self.headers.items())
        op = operation(self.method, self.querystring, headers, key=key_name is not None)
        refused = refused_header(op, headers)
        if refused:
            raise NotImplementedByR2(*refused)

    S3Response._authenticate_and_authorize_s3_action = authorise_then_check  # type: ignore[method-assign,assignment]
