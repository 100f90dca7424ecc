"""The geo API: access matrix, scoping of lists, query counts, bad input."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fangkong.accounts.roles import Role
from fangkong.core.models import AuditEntry
from fangkong.geo import actions
from fangkong.geo.models import Site
from tests.conftest import DONGZHENGSI, FUDAO, GAOZHUANG, JIANGTAITUN
from tests.support.access import (
    AccessCase,
    assert_absent,
    assert_present,
    check_access_matrix,
    count_queries,
)

pytestmark = pytest.mark.django_db

API = "/api/v1/geo"
CADRE = Role.VILLAGE_CADRE
OFFICER = Role.TOWNSHIP_OFFICER
JSON = "application/json"


def test_region_detail_and_children_matrix(regions: Any, make_user: Any, client_for: Any) -> None:
    for url in [f"{API}/regions/{JIANGTAITUN}", f"{API}/regions/{JIANGTAITUN}/children"]:
        case = AccessCase(
            url=url,
            role=CADRE,
            region=JIANGTAITUN,
            other_region=DONGZHENGSI,
            wrong_role=None,
            api=True,
        )
        check_access_matrix(case, make_user, client_for)
    client = client_for(make_user(role=OFFICER, region=GAOZHUANG))
    body = client.get(f"{API}/regions/{JIANGTAITUN}").json()
    assert body == {
        "code": JIANGTAITUN,
        "name": "蒋台屯村民委员会",
        "short_name": "蒋台屯村",
        "level": 5,
        "parent_code": GAOZHUANG,
    }
    children = client.get(f"{API}/regions/{GAOZHUANG}/children").json()
    assert children["count"] == 4
    assert children["items"][0]["code"] == JIANGTAITUN


def test_region_list_scoped_and_filtered(regions: Any, make_user: Any, client_for: Any) -> None:
    officer = client_for(make_user(role=OFFICER, region=GAOZHUANG))
    assert_present(officer, f"{API}/regions", JIANGTAITUN)
    assert_absent(officer, f"{API}/regions", FUDAO)
    assert_absent(officer, f"{API}/regions", FUDAO, q="伏道")
    body = officer.get(f"{API}/regions", {"q": "蔣台屯"}).json()
    assert [r["code"] for r in body["items"]] == [JIANGTAITUN]
    body = officer.get(f"{API}/regions", {"level": 4}).json()
    assert [r["code"] for r in body["items"]] == [GAOZHUANG]
    body = officer.get(f"{API}/regions", {"parent": GAOZHUANG, "page_size": 2}).json()
    assert body["count"] == 4 and len(body["items"]) == 2
    body = officer.get(f"{API}/regions", {"q": "4105221162"}).json()
    assert body["count"] == 4
    assert client_for(None).get(f"{API}/regions").status_code == 401
    bad = officer.get(f"{API}/regions", {"level": 9})
    assert bad.status_code == 422
    assert set(bad.json()) == {"code", "message", "fields"}
    assert officer.get(f"{API}/regions", {"level": "x"}).status_code == 422


def test_site_detail_matrix(sites: Any, make_user: Any, client_for: Any) -> None:
    site = sites["jiangtaitun"]
    case = AccessCase(
        url=f"{API}/sites/{site.pk}",
        role=CADRE,
        region=JIANGTAITUN,
        other_region=DONGZHENGSI,
        wrong_role=None,
        api=True,
    )
    results = check_access_matrix(case, make_user, client_for)
    body = results["allowed"].json()
    assert body["name"] == "蒋台屯村东卡点"
    assert body["region_name"] == "蒋台屯村"
    assert body["address"] == "蒋台屯村东口"


def test_site_list_scoped(sites: Any, make_user: Any, client_for: Any) -> None:
    # JSON escapes non-ASCII (\uXXXX): markers must be ASCII, else "absent" proves nothing.
    cadre = client_for(make_user(role=CADRE, region=JIANGTAITUN))
    assert_present(cadre, f"{API}/sites", f'"region_code": "{JIANGTAITUN}"')
    assert_absent(cadre, f"{API}/sites", DONGZHENGSI)
    assert_absent(cadre, f"{API}/sites", FUDAO, region=FUDAO)
    officer = client_for(make_user(role=OFFICER, region=GAOZHUANG))
    body = officer.get(f"{API}/sites", {"kind": "testing_site"}).json()
    assert [s["name"] for s in body["items"]] == ["东正寺村核酸采样点"]
    body = officer.get(f"{API}/sites", {"region": "蒋台屯"}).json()
    assert [s["name"] for s in body["items"]] == ["蒋台屯村东卡点"]
    actions.set_site_active(actor=None, site=sites["jiangtaitun"], active=False)
    body = officer.get(f"{API}/sites", {"active": "false"}).json()
    assert [s["name"] for s in body["items"]] == ["蒋台屯村东卡点"]
    bad = officer.get(f"{API}/sites", {"kind": "castle"})
    assert bad.status_code == 422 and "kind" in bad.json()["fields"]
    assert client_for(None).get(f"{API}/sites").status_code == 401


def test_list_query_counts_do_not_grow(regions: Any, make_user: Any, client_for: Any) -> None:
    client = client_for(make_user(role=OFFICER, region=GAOZHUANG))
    actions.create_site(actor=None, name="卡点0", kind="checkpoint", region_code=JIANGTAITUN)
    sites_few = count_queries(client, f"{API}/sites")
    regions_few = count_queries(client, f"{API}/regions")
    for i in range(1, 30):
        actions.create_site(actor=None, name=f"卡点{i}", kind="checkpoint", region_code=JIANGTAITUN)
    assert count_queries(client, f"{API}/sites", page_size=500) == sites_few
    assert count_queries(client, f"{API}/regions", page_size=500) == regions_few
    assert sites_few <= 6


def test_create_site_matrix(regions: Any, make_user: Any, client_for: Any) -> None:
    case = AccessCase(
        url=f"{API}/sites",
        role=OFFICER,
        region=JIANGTAITUN,
        other_region=FUDAO,
        wrong_role=CADRE,
        method="post",
        data={"name": "蒋台屯村西卡点", "kind": "checkpoint", "region_code": JIANGTAITUN},
        api=True,
        content_type=JSON,
        allowed_status=(201,),
    )
    results = check_access_matrix(case, make_user, client_for)
    body = results["allowed"].json()
    assert body["region_name"] == "蒋台屯村"
    site = Site.objects.get()
    assert AuditEntry.objects.get(action="geo.create_site").actor_id is not None
    assert body["id"] == site.pk


def test_update_site_matrix(sites: Any, make_user: Any, client_for: Any) -> None:
    site = sites["jiangtaitun"]
    case = AccessCase(
        url=f"{API}/sites/{site.pk}",
        role=OFFICER,
        region=JIANGTAITUN,
        other_region=FUDAO,
        wrong_role=CADRE,
        method="patch",
        data={"name": "蒋台屯村东口卡点", "active": False},
        api=True,
        content_type=JSON,
    )
    results = check_access_matrix(case, make_user, client_for)
    assert results["allowed"].json()["name"] == "蒋台屯村东口卡点"
    site.refresh_from_db()
    assert (site.name, site.active) == ("蒋台屯村东口卡点", False)
    assert AuditEntry.objects.filter(action="geo.update_site").count() == 1
    assert AuditEntry.objects.filter(action="geo.deactivate_site").count() == 1


def test_moving_a_site_out_of_scope_is_404(sites: Any, make_user: Any, client_for: Any) -> None:
    client = client_for(make_user(role=OFFICER, region=GAOZHUANG))
    site = sites["jiangtaitun"]
    url = f"{API}/sites/{site.pk}"
    assert client.patch(url, {"region_code": FUDAO}, content_type=JSON).status_code == 404
    moved = client.patch(url, {"region_code": DONGZHENGSI}, content_type=JSON)
    assert moved.status_code == 200 and moved.json()["region_code"] == DONGZHENGSI


@pytest.mark.parametrize(
    ("payload", "status", "field"),
    [
        ({"name": "", "kind": "checkpoint", "region_code": JIANGTAITUN}, 422, "name"),
        ({"name": "卡" * 101, "kind": "checkpoint", "region_code": JIANGTAITUN}, 422, "name"),
        ({"name": "卡点", "kind": "castle", "region_code": JIANGTAITUN}, 422, "kind"),
        ({"name": "卡点", "kind": "checkpoint", "region_code": "410522116299"}, 422, "region_code"),
        ({"name": "卡点", "kind": "checkpoint", "region_code": FUDAO}, 404, None),
        ({"name": "卡点", "kind": "checkpoint", "region_code": "41x"}, 404, None),
        (
            {
                "name": "卡点",
                "kind": "checkpoint",
                "region_code": JIANGTAITUN,
                "contact_phone": "1",
            },
            422,
            "contact_phone",
        ),
        ({"name": 5, "kind": "checkpoint", "region_code": JIANGTAITUN}, 422, "name"),
        ({"kind": "checkpoint", "region_code": JIANGTAITUN}, 422, "name"),
        ({"name": "蔣台屯村東卡點", "kind": "office", "region_code": JIANGTAITUN}, 422, "name"),
    ],
)
def test_create_site_bad_input(
    sites: Any, make_user: Any, client_for: Any, payload: dict, status: int, field: str | None
) -> None:
    client = client_for(make_user(role=OFFICER, region=GAOZHUANG))
    response = client.post(f"{API}/sites", payload, content_type=JSON)
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "fields"}
    if field:  # pydantic's own errors name the body parameter too: "payload.name"
        assert field in {key.rsplit(".", 1)[-1] for key in body["fields"]}
    assert Site.objects.count() == 3


def test_update_site_bad_input(sites: Any, make_user: Any, client_for: Any) -> None:
    client = client_for(make_user(role=OFFICER, region=GAOZHUANG))
    url = f"{API}/sites/{sites['jiangtaitun'].pk}"
    for payload, field in [
        ({"name": None}, "name"),
        ({"name": ""}, "name"),
        ({"kind": "castle"}, "kind"),
        ({"contact_phone": "abc"}, "contact_phone"),
        ({"name": "东正寺村核酸采样点", "region_code": DONGZHENGSI}, "name"),
    ]:
        response = client.patch(url, payload, content_type=JSON)
        assert response.status_code == 422, payload
        assert field in response.json()["fields"], payload
    assert client.patch(url, "not json", content_type=JSON).status_code in (400, 422)
    assert client.get(f"{API}/sites/{'9' * 30}").status_code in (404, 422)
    assert client.get(f"{API}/sites/0").status_code == 404
    assert client.get(f"{API}/sites/-5").status_code == 404


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    payload=st.dictionaries(
        st.sampled_from(["name", "kind", "region_code", "address", "contact_phone", "notes"]),
        st.one_of(st.text(max_size=120), st.integers(), st.none(), st.booleans()),
    )
)
def test_api_never_500(regions: Any, make_user: Any, client_for: Any, payload: dict) -> None:
    client = client_for(make_user(role=OFFICER, region=GAOZHUANG))
    response = client.post(f"{API}/sites", json.dumps(payload), content_type=JSON)
    assert response.status_code in (201, 403, 404, 422), response.content
    site = Site.objects.first()
    if site is not None:
        response = client.patch(f"{API}/sites/{site.pk}", json.dumps(payload), content_type=JSON)
        assert response.status_code in (200, 403, 404, 422), response.content
