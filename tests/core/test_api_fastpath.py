"""The WSGI dispatcher (fangkong.wsgi): token-authenticated API calls take the lean
middleware list (settings.API_TOKEN_MIDDLEWARE) and answer as the full stack would.

django.test.Client does not go through fangkong.wsgi, so these tests call the WSGI
application itself with environ dicts built by RequestFactory.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from fangkong.accounts import actions
from fangkong.accounts.models import ApiToken, User
from fangkong.accounts.roles import Role
from fangkong.core.api import user_for_token
from fangkong.core.models import AuditEntry
from fangkong.wsgi import ApiTokenHandler, application, carries_api_token
from tests.conftest import JIANGTAITUN
from tests.support.wsgi import Answer, wsgi_call

pytestmark = pytest.mark.django_db

ME = "/api/v1/me"
SCAN = "/api/v1/screening/scan"
TOKENS = "/api/v1/accounts/tokens"
UNAUTHENTICATED_EN = "Log in or send an API token."


def call(
    method: str,
    path: str,
    *,
    body: Any = None,
    token: str | None = None,
    header: str = "bearer",
    headers: dict[str, str] | None = None,
    cookies: dict[str, str] | None = None,
) -> Answer:
    """One request through fangkong.wsgi.application."""
    all_headers = dict(headers or {})
    if token is not None:
        if header == "bearer":
            all_headers["Authorization"] = f"Bearer {token}"
        else:
            all_headers["X-API-Token"] = token
    data = json.dumps(body) if body is not None else ""
    environ = {}
    if cookies:
        environ["HTTP_COOKIE"] = "; ".join(f"{name}={value}" for name, value in cookies.items())
    return wsgi_call(application, method, path, data=data, headers=all_headers, environ=environ)


def _lean(answer: Answer) -> bool:
    """The lean list has no XFrameOptionsMiddleware: its answers carry no X-Frame-Options."""
    return "x-frame-options" not in answer.headers


@pytest.fixture
def cadre(regions: Any, make_user: Any) -> User:
    return make_user("cadre_fast", role=Role.VILLAGE_CADRE, region=JIANGTAITUN)


@pytest.fixture
def token(cadre: User) -> str:
    _token, raw = actions.create_token(actor=cadre, user=cadre, name="扫码枪")
    return raw


def _session_cookie(user: User) -> dict[str, str]:
    client = Client()
    client.force_login(user)
    return {settings.SESSION_COOKIE_NAME: client.cookies[settings.SESSION_COOKIE_NAME].value}


# --- routing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "headers", "lean"),
    [
        (ME, {"HTTP_AUTHORIZATION": "Bearer fk_ab12cd34_secret"}, True),
        (ME, {"HTTP_AUTHORIZATION": "bearer fk_ab12cd34_secret"}, True),
        (ME, {"HTTP_AUTHORIZATION": "BEARER fk_ab12cd34_secret"}, True),
        (ME, {"HTTP_X_API_TOKEN": "fk_ab12cd34_secret"}, True),
        (SCAN, {"HTTP_AUTHORIZATION": "Bearer fk_x"}, True),
        (ME, {}, False),
        (ME, {"HTTP_AUTHORIZATION": "Bearer other"}, False),
        (ME, {"HTTP_AUTHORIZATION": "Basic fk_abc"}, False),
        (ME, {"HTTP_AUTHORIZATION": "Bearer  fk_abc"}, False),  # ninja reads " fk_abc"
        (ME, {"HTTP_X_API_TOKEN": ""}, False),
        ("/api/v2/me", {"HTTP_AUTHORIZATION": "Bearer fk_abc"}, False),
        ("/people/", {"HTTP_AUTHORIZATION": "Bearer fk_abc"}, False),
        ("/api/docs", {"HTTP_AUTHORIZATION": "Bearer fk_abc"}, False),
    ],
)
def test_which_requests_take_the_lean_path(path: str, headers: dict[str, str], lean: bool) -> None:
    assert carries_api_token({"PATH_INFO": path, **headers}) is lean


def test_the_lean_handler_runs_the_lean_list() -> None:
    assert settings.API_TOKEN_MIDDLEWARE != settings.MIDDLEWARE
    assert isinstance(application.token_handler, ApiTokenHandler)  # type: ignore[attr-defined]
    # Building it left the full list alone for everything else.
    assert "django.middleware.csrf.CsrfViewMiddleware" in settings.MIDDLEWARE
    assert "django.middleware.csrf.CsrfViewMiddleware" not in settings.API_TOKEN_MIDDLEWARE
    assert "fangkong.core.middleware.RequestIdMiddleware" in settings.API_TOKEN_MIDDLEWARE
    assert "django.middleware.security.SecurityMiddleware" in settings.API_TOKEN_MIDDLEWARE
    assert "django.middleware.locale.LocaleMiddleware" in settings.API_TOKEN_MIDDLEWARE


# --- the same answers ------------------------------------------------------------------


@pytest.mark.parametrize("header", ["bearer", "x-api-token"])
def test_token_call_answers_as_the_full_stack(cadre: User, token: str, header: str) -> None:
    lean = call("GET", ME, token=token, header=header)
    assert lean.status == 200
    assert _lean(lean)
    session = Client()
    session.force_login(cadre)
    full = session.get(ME)
    assert lean.json() == full.json()
    assert lean.json()["username"] == "cadre_fast"
    assert lean.headers["content-type"].startswith("application/json")
    assert int(lean.headers["content-length"]) == len(lean.content)


def test_the_full_stack_still_serves_everything_else(cadre: User) -> None:
    health = call("GET", "/api/v1/health")
    assert health.status == 200
    assert not _lean(health)  # no token: the full list (X-Frame-Options: DENY)
    assert health.headers["x-frame-options"] == "DENY"
    page = call("GET", "/people/", cookies=_session_cookie(cadre))
    assert page.status == 200
    assert b"<html" in page.content.lower()


def test_security_headers_and_request_id(token: str) -> None:
    answer = call("GET", ME, token=token)
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "same-origin"
    assert answer.headers["cross-origin-opener-policy"] == "same-origin"
    assert len(answer.headers["x-request-id"]) == 32
    again = call("GET", ME, token=token, headers={"X-Request-ID": "scanner-0042-abcdef"})
    assert again.headers["x-request-id"] == "scanner-0042-abcdef"
    # A value that is not a safe id is replaced, as on the full stack.
    odd = call("GET", ME, token=token, headers={"X-Request-ID": "<script>"})
    assert odd.headers["x-request-id"] != "<script>"


def test_audit_entries_carry_the_request_id(cadre: User, token: str) -> None:
    answer = call(
        "POST",
        TOKENS,
        body={"name": "备用扫码枪"},
        token=token,
        headers={"X-Request-ID": "req-0001-fast"},
    )
    assert answer.status == 201, answer.content
    assert _lean(answer)
    entry = AuditEntry.objects.get(action="accounts.create_token", after__name="备用扫码枪")
    assert entry.request_id == "req-0001-fast"
    assert entry.source == "api"
    assert entry.actor_id == cadre.pk


def test_language_follows_accept_language() -> None:
    english = call("GET", ME, token="fk_nope_nope", headers={"Accept-Language": "en"})
    chinese = call("GET", ME, token="fk_nope_nope", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert english.status == chinese.status == 401
    assert english.json()["message"] == UNAUTHENTICATED_EN
    assert chinese.json()["message"] == "请登录或提供 API 令牌。"
    assert english.headers["content-language"] == "en"
    assert "Accept-Language" in english.headers["vary"]


# --- refusals --------------------------------------------------------------------------


@pytest.mark.parametrize("header", ["bearer", "x-api-token"])
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("GET", ME, None), ("POST", SCAN, {"tube": "AY0001", "person": "410522199001011234"})],
)
def test_bad_tokens_are_401_with_the_error_shape(
    token: str, header: str, method: str, path: str, body: Any
) -> None:
    wrong_secret = token[:-1] + ("A" if token[-1] != "A" else "B")
    for bad in (wrong_secret, "fk_nothing", "fk_", "fk_abc_", "fk_" + "x" * 600):
        answer = call(method, path, body=body, token=bad, header=header)
        assert answer.status == 401, (bad, answer.content)
        assert answer.json() == {
            "code": "unauthenticated",
            "message": answer.json()["message"],
            "fields": {},
        }
        assert _lean(answer)


def test_a_revoked_token_is_refused_at_once(cadre: User, token: str) -> None:
    assert call("GET", ME, token=token).status == 200
    actions.revoke_token(actor=cadre, token=ApiToken.objects.get(user=cadre))
    assert call("GET", ME, token=token).status == 401
    assert call("POST", SCAN, body={"tube": "T", "person": "P"}, token=token).status == 401


def test_a_deactivated_users_token_is_refused(regions: Any, make_user: Any, cadre: User) -> None:
    _t, raw = actions.create_token(actor=cadre, user=cadre, name="phone")
    User.objects.filter(pk=cadre.pk).update(is_active=False)
    assert call("GET", ME, token=raw).status == 401


def test_a_token_post_needs_no_csrf_and_scans(token: str) -> None:
    # A village cadre may sample; the tube does not exist: the scan's own 404 outcome.
    answer = call(
        "POST", SCAN, body={"tube": "AY000001", "person": "410522199001011234"}, token=token
    )
    assert answer.status == 404
    assert answer.json()["code"] == "tube_unknown"
    assert _lean(answer)


def test_bad_body_and_unknown_route_keep_the_error_shape(token: str) -> None:
    invalid = call("POST", SCAN, body={"tube": 5}, token=token)
    assert invalid.status == 422
    assert invalid.json()["code"] == "invalid"
    assert set(invalid.json()) == {"code", "message", "fields"}
    missing = call("GET", "/api/v1/no/such/route", token=token)
    assert missing.status == 404
    assert missing.json()["code"] == "not_found"
    assert _lean(missing)


def test_the_docs_render_on_the_lean_path(token: str) -> None:
    answer = call("GET", "/api/v1/docs", token=token)
    assert answer.status == 200
    assert _lean(answer)
    assert call("GET", "/api/v1/openapi.json", token=token).status == 200


def test_a_token_decides_even_with_a_session_cookie(
    regions: Any, make_user: Any, cadre: User, token: str
) -> None:
    other = make_user("hq_fast", role=Role.HQ_COMMANDER, region="410522")
    cookies = _session_cookie(other)
    assert call("GET", ME, token=token, cookies=cookies).json()["username"] == "cadre_fast"
    # A bad token is not rescued by the session: the token alone is judged.
    assert call("GET", ME, token="fk_nope_nope", cookies=cookies).status == 401


# --- browser calls keep the full stack ------------------------------------------------


def test_session_api_post_still_needs_csrf(cadre: User) -> None:
    cookies = _session_cookie(cadre)
    assert call("GET", ME, cookies=cookies).status == 200
    refused = call("POST", TOKENS, body={"name": "laptop"}, cookies=cookies)
    assert refused.status == 403
    assert not _lean(refused)
    assert not ApiToken.objects.filter(name="laptop").exists()
    secret = "a" * 32  # a CSRF secret as the cookie holds it; the header repeats it
    cookies[settings.CSRF_COOKIE_NAME] = secret
    accepted = call(
        "POST", TOKENS, body={"name": "laptop"}, cookies=cookies, headers={"X-CSRFToken": secret}
    )
    assert accepted.status == 201, accepted.content
    assert ApiToken.objects.filter(name="laptop").exists()


def test_anonymous_post_without_token_or_session_is_401() -> None:
    answer = call("POST", TOKENS, body={"name": "x"})
    assert answer.status == 401
    assert answer.json()["code"] == "unauthenticated"


# --- the token lookup ------------------------------------------------------------------


def test_lookup_returns_a_full_user(cadre: User, token: str) -> None:
    user = user_for_token(token)
    assert user is not None
    fresh = User.objects.get(pk=cadre.pk)
    for field in User._meta.concrete_fields:
        assert getattr(user, field.attname) == getattr(fresh, field.attname), field.name
    assert timezone.is_aware(user.date_joined)
    assert user._state.adding is False
    assert user._state.db == "default"


def test_last_used_is_written_at_most_once_a_minute(cadre: User, token: str) -> None:
    stored = ApiToken.objects.get(user=cadre)
    assert stored.last_used_at is None
    call("GET", ME, token=token)  # also prepares the lookup on PostgreSQL
    first = ApiToken.objects.get(pk=stored.pk).last_used_at
    assert first is not None
    with CaptureQueriesContext(connection) as queries:
        assert call("GET", ME, token=token).status == 200
    # The token lookup and the role assignments: no write within the minute.
    assert len(queries) == 2, [q["sql"] for q in queries.captured_queries]
    assert ApiToken.objects.get(pk=stored.pk).last_used_at == first
    earlier = timezone.now() - dt.timedelta(minutes=2)
    ApiToken.objects.filter(pk=stored.pk).update(last_used_at=earlier)
    call("GET", ME, token=token)
    assert ApiToken.objects.get(pk=stored.pk).last_used_at > earlier


@pytest.mark.django_db(transaction=True)
def test_lookup_survives_a_lost_prepared_statement(regions: Any, make_user: Any) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")
    user = make_user("prep_fast", role=Role.VILLAGE_CADRE, region=JIANGTAITUN)
    _t, raw = actions.create_token(actor=user, user=user, name="phone")
    assert user_for_token(raw) == user
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")  # what a pooler's DISCARD ALL does
    assert user_for_token(raw) == user
    assert call("GET", ME, token=raw).status == 200
