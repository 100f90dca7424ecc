"""API responses: readable UTF-8 JSON and field errors named as clients know them."""

from __future__ import annotations

import pytest

from fangkong.accounts.roles import Role
from fangkong.geo.models import Site
from tests.conftest import GAOZHUANG, JIANGTAITUN

pytestmark = pytest.mark.django_db


def test_chinese_is_not_escaped(regions, make_user, client_for) -> None:
    Site.objects.create(name="蒋台屯村核酸采样点", kind="testing_site", region_code=JIANGTAITUN)
    client = client_for(make_user(role=Role.TOWNSHIP_OFFICER, region=GAOZHUANG))
    response = client.get("/api/v1/geo/sites")
    assert response.status_code == 200
    assert "蒋台屯村核酸采样点".encode() in response.content
    assert response["Content-Type"].startswith("application/json")


def test_body_field_errors_use_the_field_name(regions, make_user, client_for) -> None:
    client = client_for(make_user(role=Role.TOWNSHIP_OFFICER, region=GAOZHUANG))
    response = client.post(
        "/api/v1/geo/sites",
        {"name": 12, "kind": "checkpoint"},
        content_type="application/json",
    )
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid"
    assert set(body) == {"code", "message", "fields"}
    assert all(not name.startswith(("payload", "body")) for name in body["fields"]), body


def test_query_errors_name_the_parameter(regions, make_user, client_for) -> None:
    client = client_for(make_user(role=Role.TOWNSHIP_OFFICER, region=GAOZHUANG))
    response = client.get("/api/v1/geo/sites", {"page": "x"})
    assert response.status_code == 422
    assert "page" in response.json()["fields"]
