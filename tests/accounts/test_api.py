"""The accounts API: access matrix, scope, no hashes in responses, token auth."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from fangkong.accounts import actions
from fangkong.accounts.models import ApiToken, RoleAssignment, User
from fangkong.accounts.roles import Role
from tests.accounts.conftest import GOOD_PASSWORD
from tests.conftest import (
    ANYANG_COUNTY,
    DONGZHENGSI,
    FUDAO,
    GAOZHUANG,
    JIANGTAITUN,
    TANGYIN_COUNTY,
)
from tests.support.access import (
    AccessCase,
    assert_absent,
    assert_present,
    check_access_matrix,
    count_queries,
)

pytestmark = pytest.mark.django_db

BASE = "/api/v1/accounts"
JSON = "application/json"


def _case(url: str, method: str = "get", data: dict | None = None) -> AccessCase:
    return AccessCase(
        url=url,
        role=Role.HQ_COMMANDER,
        region=ANYANG_COUNTY,
        other_region=TANGYIN_COUNTY,
        wrong_role=Role.VILLAGE_CADRE,
        method=method,
        data=data or {},
        api=True,
        content_type=JSON if method != "get" else None,
    )


def _no_secrets(text: str) -> None:
    assert "password" not in text
    assert "secret_hash" not in text
    assert "md5$" not in text and "argon2" not in text


# ---------------------------------------------------------------- users


def test_get_user_matrix(cadre, make_user, client_for) -> None:
    results = check_access_matrix(_case(f"{BASE}/users/{cadre.pk}"), make_user, client_for)
    body = results["allowed"].json()
    assert body["username"] == "cadre_jiang"
    assert body["assignments"][0]["region_code"] == JIANGTAITUN
    assert body["assignments"][0]["region_name"] == "蒋台屯村"
    _no_secrets(results["allowed"].content.decode())
    assert results["other_region"].json()["code"] == "not_found"


def test_patch_user_matrix(cadre, make_user, client_for) -> None:
    case = _case(f"{BASE}/users/{cadre.pk}", "patch", {"display_name": "张三丰"})
    results = check_access_matrix(case, make_user, client_for)
    assert results["allowed"].json()["display_name"] == "张三丰"


def test_add_assignment_matrix(cadre, make_user, client_for) -> None:
    data = {"role": "inspector", "region_code": DONGZHENGSI}
    results = check_access_matrix(
        _case(f"{BASE}/users/{cadre.pk}/assignments", "post", data), make_user, client_for
    )
    assert results["allowed"].status_code == 201
    assert results["allowed"].json()["role"] == "inspector"


def test_delete_assignment_matrix(cadre, make_user, client_for) -> None:
    assignment = cadre.role_assignments.get()
    results = check_access_matrix(
        _case(f"{BASE}/assignments/{assignment.pk}", "delete"), make_user, client_for
    )
    assert results["allowed"].status_code == 204
    assert not RoleAssignment.objects.filter(pk=assignment.pk).exists()


def test_delete_token_matrix(cadre, make_user, client_for) -> None:
    token, _raw = actions.create_token(actor=cadre, user=cadre, name="phone")
    results = check_access_matrix(
        _case(f"{BASE}/tokens/{token.pk}", "delete"),
        make_user,
        client_for,
        wrong_role_statuses=(404,),
    )
    assert results["allowed"].status_code == 204
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_list_users_is_scoped(hq_anyang, hq_tangyin, cadre, client_for) -> None:
    url = f"{BASE}/users"
    assert_present(client_for(hq_anyang), url, "cadre_jiang")
    assert_absent(client_for(hq_tangyin), url, "cadre_jiang")
    assert_absent(client_for(hq_tangyin), url, "cadre_jiang", q="cadre")
    assert client_for(None).get(url).status_code == 401
    assert client_for(cadre).get(url).status_code == 403
    body = client_for(hq_anyang).get(url).json()
    assert set(body) == {"count", "page", "page_size", "items"}
    _no_secrets(json.dumps(body))


def test_list_users_filters_and_bad_filters(hq_anyang, cadre, client_for) -> None:
    client = client_for(hq_anyang)
    names = lambda **p: {u["username"] for u in client.get(f"{BASE}/users", p).json()["items"]}  # noqa: E731
    assert names(region=JIANGTAITUN) == {"cadre_jiang"}
    assert names(region="４１０５２２１１６２１５") == {"cadre_jiang"}
    assert names(role="village_cadre") == {"cadre_jiang"}
    assert names(q="蒋台屯") == {"cadre_jiang"}
    assert names(active="false") == set()
    assert "hq_anyang" in names(active="true")
    for params in ({"region": "abc"}, {"role": "boss"}, {"active": "maybe"}, {"page": "0"}):
        response = client.get(f"{BASE}/users", params)
        assert response.status_code == 422, params
        assert response.json()["code"] == "invalid"


def test_list_users_query_count_does_not_grow(hq_anyang, client_for) -> None:
    client = client_for(hq_anyang)
    few = count_queries(client, f"{BASE}/users")
    for i in range(20):
        actions.create_user(
            actor=hq_anyang,
            username=f"w{i:03d}",
            password=GOOD_PASSWORD,
            region_code=GAOZHUANG,
            roles=[(Role.INSPECTOR, GAOZHUANG)],
        )
    assert count_queries(client, f"{BASE}/users") == few


def test_create_user_api(hq_anyang, client_for) -> None:
    payload = {
        "username": "zhao_liu",
        "password": GOOD_PASSWORD,
        "region_code": GAOZHUANG,
        "display_name": "赵六",
        "roles": [
            {"role": "township_officer", "region_code": GAOZHUANG},
            {"role": "inspector", "region_code": "４１０５２２"},
        ],
    }
    response = client_for(hq_anyang).post(f"{BASE}/users", payload, content_type=JSON)
    assert response.status_code == 201, response.content
    body = response.json()
    assert {(a["role"], a["region_code"]) for a in body["assignments"]} == {
        ("township_officer", GAOZHUANG),
        ("inspector", ANYANG_COUNTY),
    }
    _no_secrets(response.content.decode())
    assert User.objects.get(username="zhao_liu").check_password(GOOD_PASSWORD)


def test_create_user_api_anonymous_and_wrong_role(cadre, client_for) -> None:
    payload = {"username": "x_y_z", "password": GOOD_PASSWORD, "region_code": JIANGTAITUN}
    assert client_for(None).post(f"{BASE}/users", payload, content_type=JSON).status_code == 401
    assert client_for(cadre).post(f"{BASE}/users", payload, content_type=JSON).status_code == 403
    assert not User.objects.filter(username="x_y_z").exists()


def test_hq_of_anyang_cannot_create_user_for_tangyin_api(hq_anyang, client_for) -> None:
    client = client_for(hq_anyang)
    for payload in (
        {"username": "bad_one", "password": GOOD_PASSWORD, "region_code": FUDAO},
        {
            "username": "bad_one",
            "password": GOOD_PASSWORD,
            "region_code": GAOZHUANG,
            "roles": [{"role": "hq", "region_code": TANGYIN_COUNTY}],
        },
    ):
        response = client.post(f"{BASE}/users", payload, content_type=JSON)
        assert response.status_code == 422
        body = response.json()
        assert body["code"] == "invalid"
        assert "410523" in json.dumps(body, ensure_ascii=False)
    assert not User.objects.filter(username="bad_one").exists()


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"username": 5, "password": GOOD_PASSWORD, "region_code": GAOZHUANG},
        {"username": "ok_name", "password": GOOD_PASSWORD, "region_code": 410522},
        {"username": "ok_name", "password": "1", "region_code": GAOZHUANG},
        {"username": "hq_anyang", "password": GOOD_PASSWORD, "region_code": GAOZHUANG},
        {"username": "ok_name", "password": GOOD_PASSWORD, "region_code": GAOZHUANG, "roles": "x"},
        {
            "username": "ok_name",
            "password": GOOD_PASSWORD,
            "region_code": GAOZHUANG,
            "roles": [{"role": "boss", "region_code": GAOZHUANG}],
        },
        {"username": "x" * 300, "password": GOOD_PASSWORD, "region_code": GAOZHUANG},
    ],
)
def test_create_user_api_bad_payloads(hq_anyang, client_for, payload) -> None:
    response = client_for(hq_anyang).post(f"{BASE}/users", payload, content_type=JSON)
    assert response.status_code == 422, response.content
    assert response.json()["fields"]


def test_patch_deactivates_and_validates(hq_anyang, cadre, client_for) -> None:
    client = client_for(hq_anyang)
    url = f"{BASE}/users/{cadre.pk}"
    assert client.patch(url, {"is_active": False}, content_type=JSON).json()["is_active"] is False
    response = client.patch(url, {"region_code": FUDAO}, content_type=JSON)
    assert response.status_code == 422
    response = client.patch(url, {"phone": "not a phone"}, content_type=JSON)
    assert response.status_code == 422 and "phone" in response.json()["fields"]
    own = client.patch(f"{BASE}/users/{hq_anyang.pk}", {"is_active": False}, content_type=JSON)
    assert own.status_code == 422
    hq_anyang.refresh_from_db()
    assert hq_anyang.is_active


def test_unknown_ids_are_404(hq_anyang, client_for) -> None:
    client = client_for(hq_anyang)
    assert client.get(f"{BASE}/users/999999").status_code == 404
    assert client.delete(f"{BASE}/assignments/999999").status_code == 404
    assert client.delete(f"{BASE}/tokens/999999").status_code == 404
    assert client.get(f"{BASE}/users/abc").status_code == 422


# ---------------------------------------------------------------- tokens


def test_tokens_own_only(cadre, hq_anyang, client_for) -> None:
    actions.create_token(actor=hq_anyang, user=hq_anyang, name="hq laptop")
    client = client_for(cadre)
    assert client_for(None).get(f"{BASE}/tokens").status_code == 401
    response = client.post(f"{BASE}/tokens", {"name": "扫码枪"}, content_type=JSON)
    assert response.status_code == 201
    body = response.json()
    raw = body["raw"]
    assert raw.startswith("fk_") and body["token"]["name"] == "扫码枪"
    listing = client.get(f"{BASE}/tokens").json()
    assert [t["name"] for t in listing["items"]] == ["扫码枪"]
    text = json.dumps(listing)
    assert raw not in text and raw.split("_", 2)[2] not in text
    _no_secrets(text)
    stored = ApiToken.objects.get(pk=body["token"]["id"])
    assert raw.split("_", 2)[2] not in stored.secret_hash


def test_token_create_bad_names(cadre, client_for) -> None:
    client = client_for(cadre)
    for payload in ({}, {"name": ""}, {"name": "   "}, {"name": 7}, {"name": "x" * 300}):
        response = client.post(f"{BASE}/tokens", payload, content_type=JSON)
        assert response.status_code == 422, payload
    assert not ApiToken.objects.exists()


def _me(raw: str, header: str) -> int:
    client = Client()
    if header == "bearer":
        return client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code
    return client.get("/api/v1/me", HTTP_X_API_TOKEN=raw).status_code


@pytest.mark.parametrize("header", ["bearer", "x-api-token"])
def test_token_authenticates_until_revoked(cadre, header) -> None:
    token, raw = actions.create_token(actor=cadre, user=cadre, name="phone")
    assert _me(raw, header) == 200
    assert _me(raw[:-1] + ("A" if raw[-1] != "A" else "B"), header) == 401
    assert _me("fk_nothing", header) == 401
    actions.revoke_token(actor=cadre, token=token)
    assert _me(raw, header) == 401


@pytest.mark.parametrize("header", ["bearer", "x-api-token"])
def test_token_of_deactivated_user_is_refused(hq_anyang, cadre, header) -> None:
    _token, raw = actions.create_token(actor=cadre, user=cadre, name="phone")
    actions.set_user_active(actor=hq_anyang, user=cadre, active=False)
    assert _me(raw, header) == 401


def test_token_sees_only_its_users_scope(hq_tangyin, cadre) -> None:
    _token, raw = actions.create_token(actor=hq_tangyin, user=hq_tangyin, name="script")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get(f"{BASE}/users/{cadre.pk}").status_code == 404
    assert "cadre_jiang" not in client.get(f"{BASE}/users").content.decode()
