"""The scan's lean route (D31): ``POST /api/v1/screening/scan`` with an API token, answered
without Django's URL resolution, middleware objects, request and response classes or ninja.

A handheld scanner makes this call once per person, 1,500 times a second at a city's
peak; through the token handler it cost ~0.5 ms of CPU before the scan itself started
(URL resolution, the middleware chain, ninja's operation, auth and pydantic parsing, the
response object). This route does the everyday call only: a JSON object holding ``tube``
and ``person`` (and optionally ``reason`` and ``name``) as strings of at most
``MAX_TEXT`` characters, with a token that authenticates. Everything else, a missing or
wrong token, a malformed or unusual body, another content type, goes on to the token
handler, where ``screening.api.sampling.scan_person`` answers it, so that errors keep
the wording and shape of every other API error.

The answer is the one that endpoint gives: the same outcome (``screening.actions.scan.scan``),
status, JSON body and headers, the ones the token middleware adds included
(settings.API_TOKEN_MIDDLEWARE: request id, language, security headers). The tests in
tests/screening/test_scan_route.py put each request through both and compare.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Callable, Iterable
from http.client import responses
from typing import Any

from django.conf import settings
from django.conf.urls.i18n import is_language_prefix_patterns_used
from django.core import signals
from django.core.exceptions import DisallowedHost
from django.core.handlers.exception import response_for_exception
from django.core.handlers.wsgi import WSGIRequest
from django.db import connection
from django.utils import translation

from fangkong.core import context_vars
from fangkong.core.api import (
    TOKEN_PREFIX,
    hash_secret,
    note_token_use,
    split_token,
    user_for_token,
)
from fangkong.core.middleware import SAFE_REQUEST_ID
from fangkong.screening.actions.scan import ScanOutcome, scan, scan_with_token
from fangkong.screening.api.sampling import MAX_TEXT, scan_answer

SCAN_PATH = "/api/v1/screening/scan"
# Four fields of at most MAX_TEXT characters, each up to 4 bytes in UTF-8, plus the JSON.
MAX_BODY = 4 * 4 * MAX_TEXT + 256
_REQUIRED = ("tube", "person")
_OPTIONAL = ("reason", "name")
_KNOWN = frozenset(_REQUIRED + _OPTIONAL)
# settings.API_TOKEN_MIDDLEWARE as this route imitates it; another list goes the long way.
IMITATED_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "fangkong.core.middleware.RequestIdMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
]

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def is_scan_call(environ: dict[str, Any]) -> bool:
    """Whether a token-authenticated request is the scan (the dispatcher asks)."""
    return environ.get("PATH_INFO") == SCAN_PATH and environ.get("REQUEST_METHOD") == "POST"


def _is_json(content_type: str) -> bool:
    media, _sep, params = content_type.partition(";")
    if media.strip().lower() != "application/json":
        return False
    charset = params.strip().lower()
    return charset in ("", "charset=utf-8")


def _read_body(environ: dict[str, Any]) -> bytes | None:
    """The request body when its length is declared and small, else None (not read)."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None
    if not 0 < length <= MAX_BODY:
        return None
    body: bytes = environ["wsgi.input"].read(length)
    return body


def _payload(body: bytes) -> dict[str, str] | None:
    """The scan's fields when the body is the everyday call, else None."""
    try:
        # UTF-8 only (json.loads would also take UTF-16 and UTF-32 bytes): rare encodings
        # go the long way.
        data = json.loads(body.decode("utf-8"))
    except ValueError:
        return None
    if not isinstance(data, dict) or not _KNOWN.issuperset(data):
        return None
    for name in _REQUIRED:
        if name not in data:
            return None
    for value in data.values():
        if not isinstance(value, str) or len(value) > MAX_TEXT:
            return None
    return data


def _plain_stack() -> bool:
    """Whether this route answers as the token middleware would: the middleware list it
    imitates, and no language prefixes in the URLs (LocaleMiddleware would redirect)."""
    return (
        list(settings.API_TOKEN_MIDDLEWARE) == IMITATED_MIDDLEWARE
        and not (is_language_prefix_patterns_used(settings.ROOT_URLCONF)[0])
    )


def _tokens(environ: dict[str, Any]) -> list[str]:
    """The tokens in the order ninja's API_AUTH tries them (Bearer, then X-API-Token)."""
    found: list[str] = []
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    scheme, _sep, rest = authorization.partition(" ")
    if scheme.lower() == "bearer" and rest.startswith(TOKEN_PREFIX):
        found.append(rest)
    header = environ.get("HTTP_X_API_TOKEN", "")
    if header.startswith(TOKEN_PREFIX):
        found.append(header)
    return found


def _security_headers(secure: bool) -> list[tuple[str, str]]:
    """SecurityMiddleware's headers (process_response) for the answer."""
    headers: list[tuple[str, str]] = []
    if settings.SECURE_HSTS_SECONDS and secure:
        value = f"max-age={settings.SECURE_HSTS_SECONDS}"
        if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
            value += "; includeSubDomains"
        if settings.SECURE_HSTS_PRELOAD:
            value += "; preload"
        headers.append(("Strict-Transport-Security", value))
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        headers.append(("X-Content-Type-Options", "nosniff"))
    if settings.SECURE_REFERRER_POLICY:
        policy = settings.SECURE_REFERRER_POLICY
        value = (
            ",".join(v.strip() for v in policy.split(","))
            if isinstance(policy, str)
            else ",".join(policy)
        )
        headers.append(("Referrer-Policy", value))
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        headers.append(("Cross-Origin-Opener-Policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY))
    return headers


def _scan_as(token: str, payload: dict[str, str]) -> ScanOutcome | None:
    """The scan as the token's owner, or None when the token does not authenticate.

    On PostgreSQL the token is checked inside the scan's own statement (one round trip
    for the whole call, scan_pg.run_with_token); elsewhere it is looked up first, as the
    token handler does (core.api.user_for_token)."""
    fields = {
        "tube_barcode": payload["tube"],
        "person_code": payload["person"],
        "reason": payload.get("reason", ""),
        "name": payload.get("name", ""),
    }
    if connection.vendor == "postgresql":
        parts = split_token(token)
        if parts is None:
            return None
        prefix, secret = parts
        done = scan_with_token(token_prefix=prefix, secret_hash=hash_secret(secret), **fields)
        if done is None:
            return None
        note_token_use(done.token_id, done.token_used_at)
        return done.outcome
    user = user_for_token(token)
    if user is None:
        return None
    return scan(actor=user, **fields)


class ScanRoute:
    """The WSGI application of the lean route; ``fallback`` is the token handler."""

    def __init__(self, fallback: WSGIApp) -> None:
        self.fallback = fallback

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if not _is_json(environ.get("CONTENT_TYPE", "")) or not _plain_stack():
            return self.fallback(environ, start_response)
        body = _read_body(environ)
        if body is None:
            return self.fallback(environ, start_response)
        payload = _payload(body)
        if payload is None:
            return self._delegate(environ, body, start_response)
        environ["wsgi.input"] = io.BytesIO(body)
        request = WSGIRequest(environ)
        try:
            request.get_host()
        except DisallowedHost:
            return self._delegate(environ, body, start_response)  # CommonMiddleware's 400
        if settings.SECURE_SSL_REDIRECT and not request.is_secure():
            return self._delegate(environ, body, start_response)  # SecurityMiddleware's 301
        signals.request_started.send(sender=self.__class__, environ=environ)
        try:
            answer = self._answer(request, payload)
        except Exception as exc:  # answered as Django answers it: logged, a 500
            failure = response_for_exception(request, exc)
            start_response(f"{failure.status_code} {failure.reason_phrase}", list(failure.items()))
            return [failure.content]
        finally:
            signals.request_finished.send(sender=self.__class__)
        if answer is None:
            return self._delegate(environ, body, start_response)
        status, content, headers = answer
        start_response(f"{status} {responses[status]}", headers)
        return [content]

    def _delegate(
        self, environ: dict[str, Any], body: bytes, start_response: StartResponse
    ) -> Iterable[bytes]:
        environ["wsgi.input"] = io.BytesIO(body)
        return self.fallback(environ, start_response)

    def _answer(
        self, request: WSGIRequest, payload: dict[str, str]
    ) -> tuple[int, bytes, list[tuple[str, str]]] | None:
        """(status, body, headers), or None when no token authenticates (ninja's 401)."""
        environ = request.META
        incoming = environ.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        id_token = context_vars.request_id.set(request_id)
        source_token = context_vars.source.set("api")
        try:
            translation.activate(translation.get_language_from_request(request))
            outcome = None
            for token in _tokens(environ):
                outcome = _scan_as(token, payload)
                if outcome is not None:
                    break
            if outcome is None:
                return None
            status, content = scan_answer(outcome)
        finally:
            context_vars.request_id.reset(id_token)
            context_vars.source.reset(source_token)
        headers = [
            ("Content-Type", "application/json"),
            *_security_headers(request.is_secure()),
            ("Content-Length", str(len(content))),
            ("Vary", "Accept-Language"),
            ("Content-Language", translation.get_language()),
            ("X-Request-ID", request_id),
        ]
        return status, content, headers
