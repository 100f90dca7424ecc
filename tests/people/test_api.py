"""People API: access matrix, masking and reveal, search, writes, bad input."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fangkong.accounts.roles import Role
from fangkong.core.models import AccessLogEntry
from fangkong.people import actions
from fangkong.people.models import Person
from tests.conftest import DONGZHENGSI, GAOZHUANG, JIANGTAITUN
from tests.people.conftest import ZHANG_ID, ZHANG_PHONE, make_id
from tests.support.access import AccessCase, assert_absent, assert_present, check_access_matrix

pytestmark = pytest.mark.django_db

API = "/api/v1/people"
CADRE = Role.VILLAGE_CADRE
OFFICER = Role.TOWNSHIP_OFFICER
JSON = "application/json"


@pytest.mark.parametrize(
    ("suffix", "method", "data", "wrong"),
    [
        ("", "get", {}, Role.WAREHOUSE_KEEPER),
        ("/reveal", "post", {}, Role.INSPECTOR),
        ("", "patch", {"notes": "ok"}, Role.INSPECTOR),
        ("/tags", "post", {"group": "chronic"}, Role.INSPECTOR),
        ("/returns", "post", {"origin": "郑州", "arrival_date": "2022-01-09"}, Role.INSPECTOR),
        ("/household", "post", {}, Role.INSPECTOR),
    ],
)
def test_person_routes_matrix(
    zhang: Person,
    make_user: Any,
    client_for: Any,
    suffix: str,
    method: str,
    data: Any,
    wrong: str,
) -> None:
    case = AccessCase(
        url=f"{API}/persons/{zhang.pk}{suffix}",
        role=CADRE,
        region=JIANGTAITUN,
        other_region=DONGZHENGSI,
        wrong_role=wrong,
        method=method,
        data=json.dumps(data) if method != "get" else data,
        content_type=JSON if method != "get" else None,
        api=True,
    )
    check_access_matrix(case, make_user, client_for)


def test_list_and_search_scoped_and_masked(
    zhang: Person, li: Person, make_user: Any, client_for: Any
) -> None:
    cadre = client_for(make_user(role=CADRE, region=DONGZHENGSI))
    assert_absent(cadre, f"{API}/persons", "张三")
    assert_present(cadre, f"{API}/persons", "李四")
    assert_absent(cadre, f"{API}/persons", "张三", q="zs")
    officer = client_for(make_user(role=OFFICER, region=GAOZHUANG))
    body = officer.get(f"{API}/persons", {"q": ZHANG_ID[-6:]}).json()
    assert [p["name"] for p in body["items"]] == ["张三"]
    item = body["items"][0]
    assert item["id_number"] == ZHANG_ID[:6] + "********" + ZHANG_ID[-4:]
    assert item["phone"] == "138****5678"
    raw = json.dumps(officer.get(f"{API}/persons/{zhang.pk}").json(), ensure_ascii=False)
    assert ZHANG_ID not in raw and ZHANG_PHONE not in raw and "三街12号院" not in raw
    keeper = client_for(make_user(role=Role.WAREHOUSE_KEEPER, region=JIANGTAITUN))
    assert keeper.get(f"{API}/persons").json()["count"] == 0
    assert client_for(None).get(f"{API}/persons").status_code == 401


def test_reveal_logged(zhang: Person, make_user: Any, client_for: Any) -> None:
    client = client_for(make_user(role=CADRE, region=JIANGTAITUN))
    body = client.post(f"{API}/persons/{zhang.pk}/reveal").json()
    assert body["id_number"] == ZHANG_ID and body["phone"] == ZHANG_PHONE
    assert AccessLogEntry.objects.get().kind == "reveal"


def test_create_duplicate_and_warning(zhang: Person, make_user: Any, client_for: Any) -> None:
    client = client_for(make_user(role=CADRE, region=JIANGTAITUN))
    payload = {"name": "张三", "id_number": ZHANG_ID, "region_code": JIANGTAITUN}
    response = client.post(f"{API}/persons", payload, content_type=JSON)
    assert response.status_code == 409 and str(zhang.pk) in response.json()["message"]
    other = client_for(make_user(role=CADRE, region=DONGZHENGSI))
    response = other.post(
        f"{API}/persons", {**payload, "region_code": DONGZHENGSI}, content_type=JSON
    )
    assert response.status_code == 409 and str(zhang.pk) not in response.json()["message"]
    no_id = {"name": "张三", "id_type": "none", "phone": ZHANG_PHONE, "region_code": JIANGTAITUN}
    assert client.post(f"{API}/persons", no_id, content_type=JSON).status_code == 409
    confirmed = {**no_id, "confirm_duplicates": True}
    response = client.post(f"{API}/persons", confirmed, content_type=JSON)
    assert response.status_code == 201
    assert response.json()["phone"] == "138****5678"
    assert other.post(f"{API}/persons", no_id, content_type=JSON).status_code == 404


def test_create_bad_id_is_field_error(regions: Any, make_user: Any, client_for: Any) -> None:
    client = client_for(make_user(role=CADRE, region=JIANGTAITUN))
    payload = {"name": "王五", "id_number": "410522199001011230", "region_code": JIANGTAITUN}
    response = client.post(f"{API}/persons", payload, content_type=JSON)
    assert response.status_code == 422
    assert "id_number" in response.json()["fields"]


def test_bulk_tag_merge_household(
    zhang: Person, li: Person, make_user: Any, client_for: Any
) -> None:
    officer = client_for(make_user(role=OFFICER, region=JIANGTAITUN))
    response = officer.post(
        f"{API}/tags/bulk", {"person_ids": [zhang.pk, li.pk], "group": "child"}, content_type=JSON
    )
    assert response.json() == {"tagged": 1, "selected": 2, "found": 1}
    dup = actions.create_person(actor=None, name="张三", id_type="none", region_code=JIANGTAITUN)
    cadre = client_for(make_user(role=CADRE, region=JIANGTAITUN))
    response = cadre.post(f"{API}/persons/{dup.pk}/merge", {"into": zhang.pk}, content_type=JSON)
    assert response.status_code == 403  # merging is for the township and HQ
    township = client_for(make_user(role=OFFICER, region=GAOZHUANG))
    url = f"{API}/persons/{dup.pk}/merge"
    response = township.post(url, {"into": zhang.pk}, content_type=JSON)
    assert response.status_code == 200 and response.json()["id"] == zhang.pk
    assert officer.post(url, {"into": zhang.pk}, content_type=JSON).status_code == 404  # merged
    response = officer.post(f"{API}/persons/{li.pk}/merge", {"into": zhang.pk}, content_type=JSON)
    assert response.status_code == 404
    household = officer.post(f"{API}/persons/{zhang.pk}/household").json()
    assert household["head_id"] == zhang.pk
    wife = actions.create_person(
        actor=None, name="刘芳", id_number=make_id("19910303", "222"), region_code=JIANGTAITUN
    )
    response = officer.post(
        f"{API}/households/{household['id']}/members", {"person_id": wife.pk}, content_type=JSON
    )
    assert {m["name"] for m in response.json()["members"]} == {"张三", "刘芳"}
    assert officer.get(f"{API}/key-groups").status_code == 200
    assert officer.delete(f"{API}/persons/{zhang.pk}/tags/child").status_code == 204
    assert officer.delete(f"{API}/persons/{zhang.pk}/tags/child").status_code == 404


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    payload=st.fixed_dictionaries(
        {
            "name": st.one_of(st.text(max_size=80), st.integers(), st.none()),
            "id_number": st.one_of(st.text(max_size=40), st.integers()),
            "id_type": st.sampled_from(["mainland", "passport", "none", "x"]),
            "phone": st.text(max_size=30),
            "birth_date": st.one_of(st.none(), st.text(max_size=12), st.just("1990-02-30")),
            "region_code": st.sampled_from([JIANGTAITUN, "", "4" * 20, "410522116"]),
        }
    ),
    query=st.text(max_size=70),  # NUL and surrogates included
)
def test_api_never_500(
    regions: Any, make_user: Any, client_for: Any, payload: dict[str, Any], query: str
) -> None:
    client = client_for(make_user(role=CADRE, region=JIANGTAITUN))
    response = client.post(f"{API}/persons", payload, content_type=JSON)
    assert response.status_code in (201, 400, 403, 404, 409, 422), response.content
    response = client.get(f"{API}/persons", {"q": query, "age": query[:5]})
    assert response.status_code in (200, 422)
