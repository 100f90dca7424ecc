"""Bulk tagging with "select all matching": the page (POST /people/bulk-tag/ with
select_all=1 and the list's filter) and the API (POST /api/v1/people/tags/bulk with a
filter object). Access, scope, filter, cap, query count, bad input."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext

from fangkong.accounts.roles import Role
from fangkong.core.models import AuditEntry
from fangkong.people import actions, listing
from fangkong.people.models import Person, PersonTag
from tests.conftest import DONGZHENGSI, FUDAO, GAOZHUANG, JIANGTAITUN
from tests.support.access import body_text

pytestmark = pytest.mark.django_db

PAGE = "/people/bulk-tag/"
API = "/api/v1/people/tags/bulk"
JSON = "application/json"
CADRE = Role.VILLAGE_CADRE
OFFICER = Role.TOWNSHIP_OFFICER


DIGITS = "一二三四五六七八九十"


def villagers(count: int, region: str = JIANGTAITUN, name: str = "王") -> list[Person]:
    """``count`` people without a document (王一一, 王二一 ...) in ``region``."""
    return [
        actions.create_person(
            actor=None,
            name=f"{name}{DIGITS[i % 10]}{DIGITS[i // 10 % 10]}",
            id_type="none",
            region_code=region,
        )
        for i in range(count)
    ]


def select_all(filter_query: str = "", group: str = "chronic") -> dict[str, str]:
    return {"select_all": "1", "filter": filter_query, "group": group}


def tagged(group: str = "chronic") -> set[str]:
    return set(PersonTag.objects.filter(group__code=group).values_list("person__name", flat=True))


def flash(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_page_access_matrix(regions: Any, make_user: Any, client_for: Any) -> None:
    villagers(2)
    data = select_all()
    anonymous = client_for(None).post(PAGE, data)
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    inspector = make_user(role=Role.INSPECTOR, region=JIANGTAITUN)
    assert client_for(inspector).post(PAGE, data).status_code == 403
    keeper = make_user(role=Role.WAREHOUSE_KEEPER, region=JIANGTAITUN)
    assert client_for(keeper).post(PAGE, data).status_code == 403
    assert not PersonTag.objects.exists()
    # A cadre of another village: "all matching" is nobody of 蒋台屯村.
    outsider = make_user(role=CADRE, region=DONGZHENGSI)
    response = client_for(outsider).post(PAGE, data)
    assert response.status_code == 302 and not PersonTag.objects.exists()
    cadre = make_user(role=CADRE, region=JIANGTAITUN)
    response = client_for(cadre).post(PAGE, data)
    assert response.status_code == 302
    assert PersonTag.objects.count() == 2
    assert any("2" in m for m in flash(response))


def test_only_in_scope_and_filter_respected(regions: Any, make_user: Any, client_for: Any) -> None:
    villagers(3, JIANGTAITUN, "王")
    villagers(2, JIANGTAITUN, "赵")
    villagers(2, DONGZHENGSI, "王")
    cadre = client_for(make_user(role=CADRE, region=JIANGTAITUN))
    response = cadre.post(PAGE, select_all("q=%E7%8E%8B&status="))  # q=王
    assert response.status_code == 302
    assert response["Location"] == "/people/?q=%E7%8E%8B&status="  # back to the same list
    names = tagged()
    assert len(names) == 3 and all(n.startswith("王") for n in names)
    assert not PersonTag.objects.filter(region_code=DONGZHENGSI).exists()
    # The township officer selects all of 东正寺村 by the village filter.
    officer = client_for(make_user(role=OFFICER, region=GAOZHUANG))
    officer.post(PAGE, select_all(f"region={DONGZHENGSI}", group="elderly_alone"))
    assert PersonTag.objects.filter(group__code="elderly_alone").count() == 2
    assert set(
        PersonTag.objects.filter(group__code="elderly_alone").values_list("region_code", flat=True)
    ) == {DONGZHENGSI}


def test_already_tagged_kept_and_audited_per_person(
    regions: Any, make_user: Any, client_for: Any
) -> None:
    people = villagers(4)
    actions.tag_persons(actor=None, persons=people[:1], group="chronic", note="早就有")
    cadre_user = make_user(role=CADRE, region=JIANGTAITUN)
    response = client_for(cadre_user).post(PAGE, {**select_all(), "note": "入户排查"})
    assert PersonTag.objects.count() == 4
    assert PersonTag.objects.get(person=people[0]).note == "早就有"
    entries = AuditEntry.objects.filter(action="people.tag", actor=cadre_user)
    assert entries.count() == 3
    assert {e.region_code for e in entries} == {JIANGTAITUN}
    assert all(e.after and e.after["note"] == "入户排查" for e in entries)
    assert any("3" in m for m in flash(response))


def test_cap_message(
    regions: Any, make_user: Any, client_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    villagers(5)
    monkeypatch.setattr(listing, "SELECT_ALL_MAX", 4)
    cadre = client_for(make_user(role=CADRE, region=JIANGTAITUN))
    response = cadre.post(PAGE, select_all())
    assert response.status_code == 302
    text = " ".join(flash(response))
    assert "5" in text and "4" in text
    assert not PersonTag.objects.exists()
    api = cadre.post(API, {"group": "chronic", "filter": {}}, content_type=JSON)
    assert api.status_code == 422 and "filter" in api.json()["fields"]
    assert not PersonTag.objects.exists()
    # Narrowed below the cap, it goes through.
    response = cadre.post(PAGE, select_all("q=%E7%8E%8B%E4%B8%80"))  # 王一
    assert PersonTag.objects.count() == 1, flash(response)


def _queries_for(client: Any, count_before: int) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.post(PAGE, select_all())
    assert response.status_code == 302
    assert PersonTag.objects.count() == count_before
    return len(ctx.captured_queries)


def test_query_count_independent_of_n(regions: Any, make_user: Any, client_for: Any) -> None:
    cadre = make_user(role=CADRE, region=JIANGTAITUN)
    client = client_for(cadre)
    client.get("/people/")  # session and first-request costs out of the way
    villagers(3)
    small = _queries_for(client, 3)
    PersonTag.objects.all().delete()
    villagers(60, name="李")
    large = _queries_for(client, 63)
    assert small == large, (small, large)
    # API with a filter object: the same.
    PersonTag.objects.all().delete()
    with CaptureQueriesContext(connection) as ctx:
        response = client.post(API, {"group": "chronic", "filter": {}}, content_type=JSON)
    assert response.json() == {"tagged": 63, "selected": 63, "found": 63}
    api_large = len(ctx.captured_queries)
    PersonTag.objects.all().delete()
    with CaptureQueriesContext(connection) as ctx:
        response = client.post(API, {"group": "chronic", "filter": {"q": "王"}}, content_type=JSON)
    assert response.json()["tagged"] == 3
    assert len(ctx.captured_queries) == api_large


def test_api_filter_matrix_and_scope(regions: Any, make_user: Any, client_for: Any) -> None:
    villagers(2, JIANGTAITUN)
    villagers(2, DONGZHENGSI, "李")
    payload = json.dumps({"group": "chronic", "filter": {"q": "王"}})
    assert client_for(None).post(API, payload, content_type=JSON).status_code == 401
    inspector = make_user(role=Role.INSPECTOR, region=JIANGTAITUN)
    assert client_for(inspector).post(API, payload, content_type=JSON).status_code == 403
    fudao = make_user(role=CADRE, region=FUDAO)
    response = client_for(fudao).post(API, payload, content_type=JSON)
    assert response.json() == {"tagged": 0, "selected": 0, "found": 0}
    officer = make_user(role=OFFICER, region=GAOZHUANG)
    response = client_for(officer).post(
        API, {"group": "chronic", "filter": {"region": JIANGTAITUN}}, content_type=JSON
    )
    assert response.json() == {"tagged": 2, "selected": 2, "found": 2}
    assert set(PersonTag.objects.values_list("region_code", flat=True)) == {JIANGTAITUN}


@pytest.mark.parametrize(
    "payload",
    [
        {"group": "chronic"},  # neither ids nor filter
        {"group": "chronic", "person_ids": [1], "filter": {}},  # both
        {"group": "chronic", "filter": {"age": "200+"}},
        {"group": "chronic", "filter": {"tag": "no-such"}},
        {"group": "chronic", "filter": {"returnee": "perhaps"}},
        {"group": "chronic", "filter": {"q": "x" * 65}},
        {"group": "chronic", "filter": "q=王"},
        {"group": "chronic", "filter": []},
        {"group": "nope", "filter": {}},
        {"group": "chronic", "filter": {}, "since": "2022-01-20", "until": "2022-01-01"},
        {"group": "chronic", "person_ids": []},
        {"group": "chronic", "person_ids": [2**70]},
    ],
)
def test_api_bad_input(
    regions: Any, make_user: Any, client_for: Any, payload: dict[str, Any]
) -> None:
    villagers(1)
    client = client_for(make_user(role=CADRE, region=JIANGTAITUN))
    response = client.post(API, payload, content_type=JSON)
    assert response.status_code == 422, (payload, response.status_code, response.content[:200])
    assert not PersonTag.objects.exists()


@pytest.mark.parametrize(
    "data",
    [
        {"select_all": "1", "filter": "age=200%2B", "group": "chronic"},
        {"select_all": "1", "filter": "tag=nope", "group": "chronic"},
        {"select_all": "1", "filter": "%ZZ%%&&==", "group": "chronic"},
        {"select_all": "1", "filter": "qq=%E7%8E%8B", "group": "chronic"},  # misspelt key
        {"select_all": "1", "filter": "q=x&page=2", "group": "chronic"},
        {"select_all": "1", "filter": "x" * 3000, "group": "chronic"},
        {"select_all": "1", "filter": "", "group": "=cmd"},
        {"select_all": "", "filter": "", "group": "chronic"},  # nothing ticked
        {"persons": ["abc"], "group": "chronic"},
        {"persons": [str(2**70)], "group": "chronic"},
    ],
)
def test_page_bad_input_never_500(
    regions: Any, make_user: Any, client_for: Any, data: dict[str, Any]
) -> None:
    villagers(1)
    client = client_for(make_user(role=CADRE, region=JIANGTAITUN))
    response = client.post(PAGE, data)
    assert response.status_code == 302
    assert flash(response), "the user is told what went wrong"
    assert not PersonTag.objects.exists()


def test_ticked_boxes_still_work_and_duplicates_count_once(
    regions: Any, make_user: Any, client_for: Any
) -> None:
    people = villagers(3)
    client = client_for(make_user(role=CADRE, region=JIANGTAITUN))
    # On a phone a row's box exists twice (table and card): the id arrives twice.
    ids = [people[0].pk, people[0].pk, people[1].pk]
    response = client.post(PAGE, {"persons": ids, "group": "chronic"})
    assert PersonTag.objects.count() == 2
    assert any("2" in m for m in flash(response))


def test_list_page_offers_select_all(regions: Any, make_user: Any, client_for: Any) -> None:
    villagers(3)
    cadre = client_for(make_user(role=CADRE, region=JIANGTAITUN))
    page = body_text(cadre.get("/people/", {"per_page": 2, "q": "王"}))
    assert 'data-testid="select-all-matching"' in page
    assert 'name="filter" value="q=%E7%8E%8B"' in page
    inspector = client_for(make_user(role=Role.INSPECTOR, region=JIANGTAITUN))
    assert 'data-testid="select-all-banner"' not in body_text(inspector.get("/people/"))
