"""Bounded waits for every R2 request: one time budget (``$RUNBOOK_TIMEOUT``) for all attempts.

A stalled endpoint (accepts connections, never answers) ends with :class:`Unreachable` after
about ``$RUNBOOK_TIMEOUT`` seconds (default 30) plus retry backoff, and every retry prints a
``runbook: warning:`` progress line through the ``runbook`` logger.
"""

from __future__ import annotations

import logging
import math
import os
from typing import Any

from botocore.config import Config
from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError

from runbook_helpers.errors import UsageError

DEFAULT_MAX_ATTEMPTS = 3
#: Seconds a request may go unanswered, all attempts together (``$RUNBOOK_TIMEOUT``).
DEFAULT_TIMEOUT = 30.0
TIMEOUT_ENV = "RUNBOOK_TIMEOUT"
TIMEOUT_HINT = f"if the endpoint is only slow, allow more time with {TIMEOUT_ENV}=SECONDS"
log = logging.getLogger("runbook")


def _positive_env(name: str, default: float) -> float:
    text = os.environ.get(name, "")
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (value > 0 and math.isfinite(value)):
        raise UsageError(f"${name} must be a positive number, not {text!r}", hint=f"unset {name}")
    return value


def timeouts() -> tuple[int, float, float]:
    """(attempts, connect timeout, read timeout) so all attempts fit in ``$RUNBOOK_TIMEOUT``.

    A read timeout bounds each wait for bytes (not a whole download), so a stalled endpoint
    ends with :class:`Unreachable` after about ``$RUNBOOK_TIMEOUT`` seconds plus the backoff.
    """
    total = _positive_env(TIMEOUT_ENV, DEFAULT_TIMEOUT)
    attempts = max(1, int(_positive_env("RUNBOOK_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS)))
    per_attempt = total / attempts
    return attempts, min(10.0, per_attempt), per_attempt


def client_config() -> Config:
    """Retries (standard mode), bounded timeouts, and R2's "checksums only when required"."""
    attempts, connect, read = timeouts()
    return Config(
        retries={"mode": "standard", "max_attempts": attempts},
        connect_timeout=connect,
        read_timeout=read,
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        s3={"addressing_style": "path"},
    )


def retry_notice(attempts: int, read_timeout: float) -> Any:
    """A ``needs-retry`` hook printing a progress line when a request got no answer."""

    def hook(caught_exception: Exception | None = None, **kwargs: Any) -> None:
        if caught_exception is None:
            return
        attempt = int(kwargs.get("attempts") or 0)
        if attempt >= attempts:
            return
        what = (
            f"no answer within {read_timeout:.3g} s"
            if isinstance(caught_exception, (ReadTimeoutError, ConnectTimeoutError))
            else f"{type(caught_exception).__name__}"
        )
        log.warning("%s from the R2 endpoint (attempt %d of %d); retrying", what, attempt, attempts)

    return hook
