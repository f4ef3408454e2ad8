"""Keep secrets out of anything printed: passwords in URLs, keys in environment values."""

from __future__ import annotations

import re
from collections.abc import Iterable

REDACTED = "[REDACTED]"

# scheme://user:password@host  -> scheme://user:[REDACTED]@host
_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)(?P<pw>[^@\s]+)(?=@)")
# password=... inside a libpq keyword/value string or a query string
_KV_PASSWORD = re.compile(r"(?P<head>\bpassword=)(?P<pw>[^\s&]+)", re.IGNORECASE)


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Return ``text`` with URL passwords and every given secret value replaced."""
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = _URL_PASSWORD.sub(lambda m: m.group("head") + REDACTED, text)
    return _KV_PASSWORD.sub(lambda m: m.group("head") + REDACTED, text)
