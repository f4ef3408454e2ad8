"""The moto S3 server process, with presigned URLs checked like R2 checks them.

``python -m runbook_helpers.sandbox.moto_app PORT`` runs moto's WSGI app on 127.0.0.1:PORT.
moto's IAM authentication (switched on by :mod:`runbook_helpers.sandbox.r2` after it created
the tokens) reads only the ``Authorization`` header, so a presigned URL (query-string SigV4)
would fail there with a server error. :class:`PresignedUrls` checks such a request the way S3
and R2 do - known key, valid signature, not expired - and then hands moto the same request
signed in a header with the same key, so moto's own policy check decides what the key may do.
After that check, the checksum headers R2 refuses are refused (:mod:`.r2_checksums`).
:class:`FixtureObjects` lets the fixtures' admin key store many objects in one request (a test
of listing past 1,000 keys), where 1,000 signed PUTs took seconds of the suite's CPU.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[Environ, StartResponse], Iterable[bytes]]


class PresignError(Exception):
    """An S3 error answer: ``code`` (e.g. ``SignatureDoesNotMatch``) and a message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _uri_encode(text: str) -> str:
    return quote(text, safe="-_.~")


def _query_pairs(raw: str) -> list[tuple[str, str]]:
    pairs = []
    for part in raw.split("&"):
        if part:
            name, _, value = part.partition("=")
            pairs.append((unquote(name.replace("+", " ")), unquote(value.replace("+", " "))))
    return pairs


def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def presigned_signature(
    secret: str, method: str, path: str, pairs: list[tuple[str, str]], headers: dict[str, str]
) -> str:
    """The SigV4 query-string signature S3 expects for this request (``pairs`` without it)."""
    params = dict(pairs)
    _key, date, region, service, _ = params["X-Amz-Credential"].split("/")
    signed = params["X-Amz-SignedHeaders"].split(";")
    query = "&".join(
        f"{_uri_encode(k)}={_uri_encode(v)}" for k, v in sorted(pairs) if k != "X-Amz-Signature"
    )
    canonical_headers = "".join(f"{h}:{headers.get(h, '').strip()}\n" for h in signed)
    canonical = "\n".join(
        [method, path, query, canonical_headers, ";".join(signed), "UNSIGNED-PAYLOAD"]
    )
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            params["X-Amz-Date"],
            scope,
            hashlib.sha256(canonical.encode()).hexdigest(),
        ]
    )
    key = _signing_key(secret, date, region, service)
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def iam_user_of(access_key_id: str) -> tuple[str, str] | None:
    """The user name and secret of an access key created in moto's IAM (``None`` if unknown)."""
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.iam.models import iam_backends

    for user in iam_backends[DEFAULT_ACCOUNT_ID]["aws"].users.values():
        for key in user.access_keys:
            if key.access_key_id == access_key_id:
                return str(user.name), str(key.secret_access_key)
    return None


def iam_secret(access_key_id: str) -> str | None:
    """The secret of an access key created in moto's IAM (``None`` if unknown)."""
    found = iam_user_of(access_key_id)
    return found[1] if found else None


class PresignedUrls:
    """WSGI middleware: verify a presigned request, then pass it on header-signed."""

    def __init__(self, app: WsgiApp, lookup: Callable[[str], str | None] = iam_secret) -> None:
        self.app = app
        self.lookup = lookup

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        raw_query = str(environ.get("QUERY_STRING", ""))
        if "X-Amz-Signature=" in raw_query and "HTTP_AUTHORIZATION" not in environ:
            try:
                self._resign(environ, _query_pairs(raw_query))
            except PresignError as exc:
                body = (
                    '<?xml version="1.0" encoding="UTF-8"?>\n'
                    f"<Error><Code>{exc.code}</Code><Message>{exc}</Message></Error>"
                ).encode()
                start_response(
                    "403 Forbidden",
                    [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))],
                )
                return [body]
        return self.app(environ, start_response)

    def _resign(self, environ: Environ, pairs: list[tuple[str, str]]) -> None:
        params = dict(pairs)
        try:
            key_id, _date, region, service, _ = params["X-Amz-Credential"].split("/")
            issued = datetime.strptime(params["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            expires = int(params["X-Amz-Expires"])
            signature = params["X-Amz-Signature"]
        except (KeyError, ValueError) as exc:
            raise PresignError("AuthorizationQueryParametersError", f"bad query: {exc}") from exc
        secret = self.lookup(key_id)
        if secret is None:
            raise PresignError(
                "InvalidAccessKeyId",
                "The AWS Access Key Id you provided does not exist in our records.",
            )
        method = str(environ["REQUEST_METHOD"])
        raw_uri = str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or "")
        path = raw_uri.split("?", 1)[0] or quote(str(environ.get("PATH_INFO", "/")))
        host = str(environ.get("HTTP_HOST", ""))
        expected = presigned_signature(secret, method, path, pairs, {"host": host})
        if not hmac.compare_digest(expected, signature):
            raise PresignError(
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        if datetime.now(UTC) > issued + timedelta(seconds=expires):
            raise PresignError("AccessDenied", "Request has expired")
        rest = [(k, v) for k, v in pairs if not k.startswith("X-Amz-")]
        query = "&".join(f"{_uri_encode(k)}={_uri_encode(v)}" for k, v in rest)
        request = AWSRequest(
            method=method, url=f"http://{host}{path}" + (f"?{query}" if query else "")
        )
        S3SigV4Auth(Credentials(key_id, secret), service, region).add_auth(request)
        environ["QUERY_STRING"] = query
        for name in ("RAW_URI", "REQUEST_URI"):
            if name in environ:
                environ[name] = path + (f"?{query}" if query else "")
        for header in ("Authorization", "X-Amz-Date", "X-Amz-Content-SHA256"):
            environ["HTTP_" + header.upper().replace("-", "_")] = request.headers[header]


FIXTURE_ROUTE = "/_sandbox/put-objects"
FIXTURE_USER = "admin"  # the fixtures' own key (runbook_helpers.sandbox.r2.TOKENS)


def put_objects(bucket: str, keys: list[str], body: bytes) -> None:
    """Store ``body`` under every key, straight into moto's S3 backend."""
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    for key in keys:
        backend.put_object(bucket, key, body)


class FixtureObjects:
    """WSGI middleware: ``POST /_sandbox/put-objects`` stores many objects in one request.

    Only for the fixtures' admin key, named with its secret in ``X-Sandbox-Key-Id`` and
    ``X-Sandbox-Secret``; any other key, a wrong secret or none gets 403, as a reader's token
    writing to R2 would. The JSON body is ``{"bucket": ..., "keys": [...], "body": latin-1}``.
    """

    def __init__(self, app: WsgiApp) -> None:
        self.app = app

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != FIXTURE_ROUTE:
            return self.app(environ, start_response)
        found = iam_user_of(str(environ.get("HTTP_X_SANDBOX_KEY_ID", "")))
        secret = str(environ.get("HTTP_X_SANDBOX_SECRET", ""))
        if (
            environ.get("REQUEST_METHOD") != "POST"
            or found is None
            or found[0] != FIXTURE_USER
            or not hmac.compare_digest(found[1], secret)
        ):
            return _answer(start_response, "403 Forbidden", b"only the fixtures' admin key\n")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        asked = json.loads(environ["wsgi.input"].read(length))
        keys = [str(k) for k in asked["keys"]]
        put_objects(str(asked["bucket"]), keys, str(asked.get("body", "")).encode("latin-1"))
        return _answer(start_response, "200 OK", f"{len(keys)}\n".encode())


def _answer(start_response: StartResponse, status: str, body: bytes) -> list[bytes]:
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def main(argv: list[str]) -> None:
    """Serve moto (all services, like ``moto_server``) behind :class:`PresignedUrls`."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import run_simple

    from runbook_helpers.sandbox import r2_checksums

    r2_checksums.install()
    port = int(argv[0])
    app = DomainDispatcherApplication(create_backend_app)
    run_simple("127.0.0.1", port, FixtureObjects(PresignedUrls(app)), threaded=True)


if __name__ == "__main__":
    main(sys.argv[1:])
