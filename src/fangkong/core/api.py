"""The API's shared parts: token auth, the one error shape, pagination."""

from __future__ import annotations

import hashlib
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Schema
from ninja.security import APIKeyHeader, HttpBearer, SessionAuth

TOKEN_PREFIX = "fk_"  # noqa: S105  (a marker, not a secret)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def user_for_token(raw: str) -> Any:
    """The active user owning the token, or None. Tokens look like fk_<prefix>_<secret>."""
    from fangkong.accounts.models import ApiToken

    if not raw.startswith(TOKEN_PREFIX):
        return None
    try:
        _, prefix, secret = raw.split("_", 2)
    except ValueError:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(prefix=prefix, revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    if not _constant_time_equal(token.secret_hash, hash_secret(secret)):
        return None
    now = timezone.now()
    # One write per minute per token at most: the scan path must stay cheap.
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def _constant_time_equal(a: str, b: str) -> bool:
    import hmac

    return hmac.compare_digest(a.encode(), b.encode())


class BearerTokenAuth(HttpBearer):
    """Authorization: Bearer fk_..."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = user_for_token(token)
        if user is not None:
            request.user = user
        return user


class HeaderTokenAuth(APIKeyHeader):
    """X-API-Token: fk_... (for clients that cannot set Authorization)."""

    param_name = "X-API-Token"

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        if not key:
            return None
        user = user_for_token(key)
        if user is not None:
            request.user = user
        return user


class ActiveSessionAuth(SessionAuth):
    """The logged-in browser session (CSRF is checked for unsafe methods)."""

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_active:
            return user
        return None


API_AUTH = [BearerTokenAuth(), HeaderTokenAuth(), ActiveSessionAuth()]


class ErrorOut(Schema):
    """Every API error has this shape."""

    code: str
    message: str
    fields: dict[str, list[str]] = {}


def error_body(code: str, message: str, fields: dict[str, list[str]] | None = None) -> dict:
    return {"code": code, "message": message, "fields": fields or {}}
