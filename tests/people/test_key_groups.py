"""Key groups (重点人群类别): HQ configures them; everyone on the ledger reads them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fangkong.accounts.roles import Role
from fangkong.core.models import AuditEntry
from fangkong.people import actions
from fangkong.people.filters import PersonFilter
from fangkong.people.forms import TagForm
from fangkong.people.models import KeyGroup, PersonTag
from tests.conftest import ANYANG_COUNTY, GAOZHUANG, HENAN, JIANGTAITUN

pytestmark = pytest.mark.django_db

API = "/api/v1/people"
JSON = "application/json"
PAGES = "/people/key-groups"
HQ = Role.HQ_COMMANDER
CADRE = Role.VILLAGE_CADRE
OFFICER = Role.TOWNSHIP_OFFICER


@pytest.fixture
def hq(regions: Any, make_user: Any) -> Any:
    return make_user("hq", role=HQ, region=ANYANG_COUNTY)


@pytest.fixture
def hq_client(hq: Any, client_for: Any) -> Any:
    return client_for(hq)


def _child() -> KeyGroup:
    return KeyGroup.objects.get(code="child")  # seeded by migration 0002


# --- access matrix --------------------------------------------------------------------


def _write_routes() -> list[tuple[str, str, Any, bool]]:
    pk = _child().pk
    return [
        ("get", f"{PAGES}/new/", {}, False),
        ("post", f"{PAGES}/new/", {"code": "x_new", "name": "新类别", "priority": "5"}, False),
        ("get", f"{PAGES}/{pk}/edit/", {}, False),
        ("post", f"{PAGES}/{pk}/edit/", {"name": "儿童2", "priority": "5"}, False),
        ("post", f"{PAGES}/{pk}/active/", {"active": "0"}, False),
        ("post", f"{API}/key-groups", {"code": "x_api", "name": "接口类别"}, True),
        ("patch", f"{API}/key-groups/{pk}", {"name": "儿童3"}, True),
    ]


def _call(client: Any, method: str, url: str, data: Any, api: bool) -> Any:
    if api:
        return getattr(client, method)(url, json.dumps(data), content_type=JSON)
    return getattr(client, method)(url, data)


def test_write_routes_anonymous(regions: Any, client_for: Any) -> None:
    for method, url, data, api in _write_routes():
        response = _call(client_for(None), method, url, data, api)
        if api:
            assert response.status_code == 401, url
        else:
            assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert not AuditEntry.objects.filter(action__contains="key_group").exists()


@pytest.mark.parametrize(
    ("role", "region"), [(CADRE, JIANGTAITUN), (OFFICER, GAOZHUANG), (Role.INSPECTOR, GAOZHUANG)]
)
def test_write_routes_forbidden_below_hq(
    regions: Any, make_user: Any, client_for: Any, role: str, region: str
) -> None:
    client = client_for(make_user(role=role, region=region))
    for method, url, data, api in _write_routes():
        response = _call(client, method, url, data, api)
        assert response.status_code == 403, (role, method, url, response.status_code)
    child = _child()
    assert (child.name, child.active) == ("儿童", True)
    assert not KeyGroup.objects.filter(code__startswith="x_").exists()
    assert not AuditEntry.objects.filter(action__contains="key_group").exists()


def test_write_routes_allowed_for_hq(hq_client: Any) -> None:
    for method, url, data, api in _write_routes():
        response = _call(hq_client, method, url, data, api)
        assert response.status_code in (200, 201, 302), (method, url, response.content)
    child = _child()
    assert (child.name, child.priority, child.active) == ("儿童3", 5, False)
    assert set(KeyGroup.objects.filter(code__startswith="x_").values_list("code", flat=True)) == {
        "x_new",
        "x_api",
    }


def test_hq_at_province_may_manage(regions: Any, make_user: Any, client_for: Any) -> None:
    client = client_for(make_user(role=HQ, region=HENAN))
    assert client.get(f"{PAGES}/new/").status_code == 200


def test_unknown_id_is_404(hq_client: Any) -> None:
    for pk in (999999, 2**63 + 5):
        assert hq_client.get(f"{PAGES}/{pk}/edit/").status_code == 404
        assert hq_client.post(f"{PAGES}/{pk}/active/", {"active": "0"}).status_code == 404
    response = hq_client.patch(
        f"{API}/key-groups/999999", json.dumps({"name": "x"}), content_type=JSON
    )
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_set_active_needs_post(hq_client: Any) -> None:
    assert hq_client.get(f"{PAGES}/{_child().pk}/active/").status_code == 405


def test_list_page(regions: Any, make_user: Any, client_for: Any, hq_client: Any) -> None:
    assert client_for(None).get(f"{PAGES}/").status_code == 302
    keeper = client_for(make_user(role=Role.WAREHOUSE_KEEPER, region=JIANGTAITUN))
    assert keeper.get(f"{PAGES}/").status_code == 403
    actions.set_key_group_active(actor=None, group=_child(), active=False)

    cadre = client_for(make_user(role=CADRE, region=JIANGTAITUN))
    text = cadre.get(f"{PAGES}/").content.decode()
    assert "独居老人" in text and "儿童" not in text  # retired: hidden from readers
    assert f"{PAGES}/new/" not in text and "/edit/" not in text

    text = hq_client.get(f"{PAGES}/").content.decode()
    assert "独居老人" in text and "儿童" in text and f"{PAGES}/new/" in text
    assert f"{PAGES}/{_child().pk}/active/" in text


def test_person_list_links_to_key_groups_for_hq_only(
    regions: Any, make_user: Any, client_for: Any, hq_client: Any
) -> None:
    assert 'data-testid="key-groups-link"' in hq_client.get("/people/").content.decode()
    for role, region in ((CADRE, JIANGTAITUN), (OFFICER, GAOZHUANG)):
        text = client_for(make_user(role=role, region=region)).get("/people/").content.decode()
        assert 'data-testid="key-groups-link"' not in text


def test_api_list_for_every_ledger_reader(regions: Any, make_user: Any, client_for: Any) -> None:
    actions.set_key_group_active(actor=None, group=_child(), active=False)
    client = client_for(make_user(role=Role.INSPECTOR, region=GAOZHUANG))
    body = client.get(f"{API}/key-groups").json()
    codes = [g["code"] for g in body]
    assert "child" not in codes and codes[0] == "close_contact"
    assert client_for(None).get(f"{API}/key-groups").status_code == 401


# --- create / rename / retire, with audit ------------------------------------------------


def test_create_rename_retire_audited(hq: Any, hq_client: Any) -> None:
    response = hq_client.post(
        f"{PAGES}/new/", {"code": "ＦＥＶＥＲ", "name": " 发热人员 ", "priority": "15"}
    )
    assert response.status_code == 302
    group = KeyGroup.objects.get(code="fever")  # full-width letters folded, lowercased
    assert (group.name, group.priority, group.active) == ("发热人员", 15, True)
    entry = AuditEntry.objects.get(action="people.create_key_group")
    assert entry.actor == hq and entry.object_id == str(group.pk)
    assert entry.after["code"] == "fever" and entry.before is None

    response = hq_client.post(
        f"{PAGES}/{group.pk}/edit/", {"name": "发热门诊就诊人员", "priority": "12"}
    )
    assert response.status_code == 302
    entry = AuditEntry.objects.get(action="people.update_key_group")
    assert entry.before["name"] == "发热人员" and entry.after["name"] == "发热门诊就诊人员"
    assert entry.after["priority"] == 12

    # Saving without a change writes no entry.
    hq_client.post(f"{PAGES}/{group.pk}/edit/", {"name": "发热门诊就诊人员", "priority": "12"})
    assert AuditEntry.objects.filter(action="people.update_key_group").count() == 1

    assert hq_client.post(f"{PAGES}/{group.pk}/active/", {"active": "0"}).status_code == 302
    group.refresh_from_db()
    assert group.active is False
    entry = AuditEntry.objects.get(action="people.set_key_group_active")
    assert entry.before["active"] is True and entry.after["active"] is False

    assert hq_client.post(f"{PAGES}/{group.pk}/active/", {"active": "1"}).status_code == 302
    group.refresh_from_db()
    assert group.active is True
    assert AuditEntry.objects.filter(action="people.set_key_group_active").count() == 2


def test_api_create_and_patch(hq_client: Any) -> None:
    response = hq_client.post(
        f"{API}/key-groups",
        json.dumps({"code": "Fever", "name": "发热人员", "priority": 15}),
        content_type=JSON,
    )
    assert response.status_code == 201
    body = response.json()
    assert body["code"] == "fever" and body["active"] is True
    response = hq_client.patch(
        f"{API}/key-groups/{body['id']}",
        json.dumps({"priority": 1, "active": False}),
        content_type=JSON,
    )
    assert response.status_code == 200
    assert response.json()["priority"] == 1 and response.json()["active"] is False
    response = hq_client.patch(
        f"{API}/key-groups/{body['id']}", json.dumps({"name": None}), content_type=JSON
    )
    assert response.status_code == 422 and "name" in response.json()["fields"]
    response = hq_client.post(
        f"{API}/key-groups", json.dumps({"code": "fever", "name": "别的"}), content_type=JSON
    )
    assert response.status_code == 422 and "code" in response.json()["fields"]


def test_actions_check_permission(regions: Any, make_user: Any) -> None:
    officer = make_user(role=OFFICER, region=GAOZHUANG)
    with pytest.raises(PermissionDenied):
        actions.create_key_group(actor=officer, code="abc", name="abc")
    with pytest.raises(PermissionDenied):
        actions.update_key_group(actor=officer, group=_child(), name="x")
    with pytest.raises(PermissionDenied):
        actions.set_key_group_active(actor=officer, group=_child(), active=False)
    group = actions.create_key_group(actor=None, code="abc", name="系统添加")
    assert AuditEntry.objects.get(action="people.create_key_group").actor_name == "system"
    with pytest.raises(actions.ValidationError) as exc:
        actions.update_key_group(actor=None, group=group, code="other")
    assert "code" in exc.value.message_dict


# --- retired groups are not offered ------------------------------------------------------


def test_retired_group_not_offered_but_tags_kept(zhang: Any, hq: Any) -> None:
    actions.tag_persons(actor=None, persons=[zhang], group="child")
    actions.set_key_group_active(actor=hq, group=_child(), active=False)
    assert "child" not in TagForm().fields["group"].queryset.values_list("code", flat=True)
    assert not TagForm({"group": "child"}).is_valid()
    tag_filter = PersonFilter().filters["tag"]
    assert not tag_filter.queryset.filter(code="child").exists()  # type: ignore[attr-defined]
    assert PersonTag.objects.filter(person=zhang, group__code="child").exists()
    with pytest.raises(actions.ValidationError):
        actions.tag_persons(actor=None, persons=[zhang], group="child")
    with pytest.raises(actions.ValidationError):
        actions.tag_persons(actor=None, persons=[zhang], group=_child())


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"code": "child", "name": "新的"}, "code"),  # duplicate code
        ({"code": "CHILD", "name": "新的"}, "code"),  # duplicate after folding case
        ({"code": "newone", "name": "儿童"}, "name"),  # duplicate name
        ({"code": "newone", "name": "   "}, "name"),  # empty
        ({"code": "newone", "name": ""}, "name"),
        ({"code": "newone", "name": "长" * 65}, "name"),  # over-long
        ({"code": "x" * 33, "name": "新的"}, "code"),
        ({"code": "a", "name": "新的"}, "code"),  # too short
        ({"code": "儿童", "name": "新的"}, "code"),  # not ASCII
        ({"code": "has space", "name": "新的"}, "code"),
        ({"code": "_lead", "name": "新的"}, "code"),
        ({"code": "newone", "name": "新的", "priority": "-1"}, "priority"),
        ({"code": "newone", "name": "新的", "priority": "40000"}, "priority"),
        ({"code": "newone", "name": "新的", "priority": "abc"}, "priority"),
        ({"code": "newone", "name": "新\x00的"}, "name"),
    ],
)
def test_form_bad_input(hq_client: Any, data: dict[str, str], field: str) -> None:
    before = KeyGroup.objects.count()
    response = hq_client.post(f"{PAGES}/new/", {"priority": "100", **data})
    assert response.status_code == 200
    assert field in response.context["form"].errors, response.context["form"].errors
    assert KeyGroup.objects.count() == before


def test_full_width_code_and_priority(hq_client: Any) -> None:
    response = hq_client.post(
        f"{PAGES}/new/",
        {"code": "ｂｅｄ＿ｒｉｄｄｅｎ２", "name": "卧床（新）", "priority": "２０"},
    )
    assert response.status_code == 302
    group = KeyGroup.objects.get(code="bed_ridden2")
    assert group.name == "卧床(新)" and group.priority == 20


def test_rename_to_existing_name_refused(hq_client: Any) -> None:
    response = hq_client.post(f"{PAGES}/{_child().pk}/edit/", {"name": "孕产妇", "priority": "80"})
    assert response.status_code == 200
    assert "name" in response.context["form"].errors
    assert _child().name == "儿童"


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    code=st.text(max_size=40),
    name=st.text(max_size=80),
    priority=st.one_of(st.text(max_size=8), st.integers().map(str)),
)
def test_form_never_500(hq_client: Any, code: str, name: str, priority: str) -> None:
    response = hq_client.post(f"{PAGES}/new/", {"code": code, "name": name, "priority": priority})
    assert response.status_code in (200, 302)
    response = hq_client.post(f"{PAGES}/{_child().pk}/edit/", {"name": name, "priority": priority})
    assert response.status_code in (200, 302)


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    payload=st.fixed_dictionaries(
        {
            "code": st.one_of(st.text(max_size=40), st.integers(), st.none()),
            "name": st.one_of(st.text(max_size=80), st.integers(), st.none()),
            "priority": st.one_of(st.integers(), st.text(max_size=6), st.none()),
        }
    )
)
def test_api_never_500(hq_client: Any, payload: dict[str, Any]) -> None:
    response = hq_client.post(f"{API}/key-groups", json.dumps(payload), content_type=JSON)
    assert response.status_code in (201, 422), response.content
    response = hq_client.patch(
        f"{API}/key-groups/{_child().pk}", json.dumps(payload), content_type=JSON
    )
    assert response.status_code in (200, 422), response.content
