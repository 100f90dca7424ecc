"""Error pages: friendly, translated, and JSON with the one error shape under /api/."""

from __future__ import annotations

import pytest
from django.test import Client

from fangkong.accounts.roles import Role
from tests.conftest import JIANGTAITUN

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.core.boom_urls")]


@pytest.fixture(autouse=True)
def _debug_off(settings):
    settings.DEBUG = False


def _client(user=None, language: str = "zh-hans") -> Client:
    client = Client(raise_request_exception=False, HTTP_ACCEPT_LANGUAGE=language)
    if user is not None:
        client.force_login(user)
    return client


def _is_error_shape(body: dict, code: str) -> None:
    assert set(body) == {"code", "message", "fields"}
    assert body["code"] == code and body["message"] and body["fields"] == {}


@pytest.mark.parametrize(
    "path,status,chinese,english",
    [
        ("/no/such/page/", 404, "页面不存在", "This page does not exist"),
        ("/forbidden/", 403, "无权", "Your role does not allow this page."),
        ("/boom/", 500, "服务器", "Something went wrong on our side"),
    ],
)
def test_error_pages_are_friendly_and_translated(
    regions, make_user, path, status, chinese, english
) -> None:
    user = make_user(role=Role.VILLAGE_CADRE, region=JIANGTAITUN)
    for client, text in ((_client(user), chinese), (_client(user, "en"), english)):
        response = client.get(path)
        assert response.status_code == status
        assert response["Content-Type"].startswith("text/html")
        html = response.content.decode()
        assert text in html
        assert "Traceback" not in html and "RuntimeError" not in html
        assert 'href="/"' in html  # a way back home


def test_traditional_chinese_is_generated(db) -> None:
    response = _client(language="zh-hant").get("/no/such/page/")
    assert "頁面不存在" in response.content.decode()


def test_error_pages_for_anonymous(db) -> None:
    response = _client().get("/no/such/page/")
    assert response.status_code == 404 and "页面不存在" in response.content.decode()


@pytest.mark.parametrize(
    "path,status,code",
    [
        ("/api/v1/no/such/route", 404, "not_found"),
        ("/api/v1/", 404, "not_found"),
        ("/api/anything", 404, "not_found"),
        ("/api/v2/jobs", 404, "not_found"),
        ("/api/", 404, "not_found"),
        ("/api/boom/", 500, "server_error"),
        ("/api/forbidden/", 403, "forbidden"),
    ],
)
def test_api_errors_are_json(db, path, status, code) -> None:
    for method in ("get", "post", "delete"):
        response = getattr(_client(), method)(path)
        assert response.status_code == status, (method, path)
        assert response["Content-Type"].startswith("application/json")
        _is_error_shape(response.json(), code)


def test_api_error_messages_follow_the_language(db) -> None:
    english = _client(language="en").get("/api/v1/no/such/route").json()["message"]
    chinese = _client().get("/api/v1/no/such/route").json()["message"]
    assert english == "No such API route."
    assert chinese != english


def test_unknown_api_route_under_a_router(regions, make_user) -> None:
    client = _client(make_user(role=Role.HQ_COMMANDER, region="41"))
    for path in ("/api/v1/jobs/not-a-uuid", "/api/v1/audit/1", "/api/v1/geo/nothing-here"):
        response = client.get(path)
        assert response.status_code == 404, path
        _is_error_shape(response.json(), "not_found")


def test_500_page_survives_a_broken_shell(regions, make_user, monkeypatch) -> None:
    def broken(request):
        raise RuntimeError("the shell needs the database, and it is down")

    monkeypatch.setattr("fangkong.core.context.shell", broken)
    user = make_user(role=Role.VILLAGE_CADRE, region=JIANGTAITUN)
    response = _client(user).get("/boom/")
    assert response.status_code == 500
    assert "服务器错误" in response.content.decode()
