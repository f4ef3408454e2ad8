"""R2 errors as the typed errors of :mod:`runbook_helpers.errors`, never showing a secret.

:func:`translate_errors` wraps every call to the bucket (botocore, s3transfer and boto3
exceptions, including the wrappers s3transfer puts around retries and uploads).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from boto3.exceptions import RetriesExceededError as Boto3RetriesExceededError
from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)
from s3transfer.exceptions import RetriesExceededError

from runbook_helpers.errors import AccessDenied, NotFound, RunbookError, Unreachable
from runbook_helpers.r2.timeouts import TIMEOUT_HINT, timeouts
from runbook_helpers.redact import redact_text

if TYPE_CHECKING:
    from runbook_helpers.r2.location import S3Location

_ACCESS_CODES = frozenset(
    {
        "AccessDenied",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "Unauthorized",
        "InvalidToken",
        "ExpiredToken",
        "401",
        "403",
    }
)
_SECRET_ENV = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def _known_secrets() -> list[str]:
    return [os.environ[name] for name in _SECRET_ENV if os.environ.get(name)]


def _safe(text: str) -> str:
    return redact_text(text, _known_secrets())


def _error_code(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    if not code:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = str(status or "")
    return code


def translate_error(exc: Exception, what: str, endpoint: str | None) -> RunbookError:
    """The typed error for one botocore exception met while accessing ``what``."""
    where = f" at {endpoint}" if endpoint else ""
    if isinstance(exc, ClientError):
        code = _error_code(exc)
        message = str(exc.response.get("Error", {}).get("Message", "") or code)
        if code == "NoSuchBucket":
            return NotFound(
                f"bucket not found{where} while accessing {what} (NoSuchBucket)",
                hint="check --bucket / $RUNBOOK_BUCKET; a jurisdiction bucket needs its own "
                "endpoint (https://<ACCOUNT_ID>.eu.r2.cloudflarestorage.com)",
            )
        if code in {"NoSuchKey", "404", "NotFound"}:
            return NotFound(
                f"no such object: {what}",
                hint="see what exists with `runbook backups list`",
            )
        if code in _ACCESS_CODES:
            return AccessDenied(
                f"access denied{where} for {what} ({code}: {message})",
                hint="check the R2 API token of the profile (`aws configure --profile r2-vlvt`, "
                "--profile / $AWS_PROFILE); it needs Object Read (and Write for backup)",
            )
        return RunbookError(f"R2 request for {what} failed{where}: {code}: {message}")
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return AccessDenied(
            f"no R2 credentials found for {what}",
            hint="run `aws configure --profile r2-vlvt` or pass --profile / set $AWS_PROFILE",
        )
    if isinstance(exc, ProfileNotFound):
        return AccessDenied(str(exc), hint="run `aws configure --profile NAME` or pass --profile")
    if isinstance(exc, (BotoConnectionError, HTTPClientError)):  # timeouts, closed sockets
        raw_url = getattr(exc, "kwargs", {}).get("endpoint_url") or ""
        url = endpoint or str(raw_url).split("?")[0] or "the endpoint"
        if isinstance(exc, (ReadTimeoutError, ConnectTimeoutError)):
            attempts, _, read = timeouts()
            return Unreachable(
                f"no answer from {url} within {attempts} x {read:.3g} s while accessing {what}",
                hint="check the network and the profile's endpoint_url; " + TIMEOUT_HINT,
            )
        return Unreachable(
            f"cannot reach {url} ({type(exc).__name__}) while accessing {what}",
            hint="check the network and the profile's endpoint_url "
            "(https://<ACCOUNT_ID>.r2.cloudflarestorage.com)",
        )
    return RunbookError(f"R2 request for {what} failed: {type(exc).__name__}: {exc}")


@contextmanager
def translate_errors(
    what: S3Location | str | None = None, *, endpoint: str | None = None
) -> Iterator[None]:
    """Turn botocore/s3transfer exceptions raised inside into typed :class:`RunbookError`."""
    try:
        yield
    except (ClientError, BotoCoreError, *_WRAPPERS) as exc:
        cause = _botocore_cause(exc)
        err = translate_error(cause, str(what) if what is not None else "the bucket", endpoint)
        raise type(err)(_safe(str(err)), _safe(err.hint)) from exc


_WRAPPERS = (RetriesExceededError, Boto3RetriesExceededError, S3UploadFailedError)


def _botocore_cause(exc: Exception) -> Exception:
    """The botocore error inside s3transfer's and boto3's wrappers (retries, uploads)."""
    inner = getattr(exc, "last_exception", None) or exc.__cause__ or exc.__context__
    if isinstance(exc, _WRAPPERS) and isinstance(inner, (ClientError, BotoCoreError)):
        return inner
    return exc
