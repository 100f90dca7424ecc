"""People pages: access matrix, masking and reveal, search kinds, duplicates, export."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fangkong.accounts.roles import Role
from fangkong.core.models import AccessLogEntry
from fangkong.people import actions
from fangkong.people.models import Person, PersonTag
from tests.conftest import DONGZHENGSI, FUDAO, GAOZHUANG, JIANGTAITUN
from tests.people.conftest import ZHANG_ID, ZHANG_PHONE, make_id
from tests.support.access import (
    AccessCase,
    assert_absent,
    assert_present,
    body_text,
    check_access_matrix,
    count_queries,
)

pytestmark = pytest.mark.django_db

CADRE = Role.VILLAGE_CADRE
OFFICER = Role.TOWNSHIP_OFFICER
KEEPER = Role.WAREHOUSE_KEEPER


def form_data(**overrides: str) -> dict[str, str]:
    return {
        "name": "王二",
        "id_type": "mainland",
        "id_number": make_id("19800202", "555"),
        "sex": "",
        "birth_date": "",
        "phone": "13700001234",
        "phone_alt": "",
        "address": "蒋台屯村二街3号",
        "region": JIANGTAITUN,
        "residence_status": "resident",
        "notes": "",
        **overrides,
    }


# --- access matrix --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "method", "data", "role", "wrong"),
    [
        ("/", "get", {}, CADRE, KEEPER),
        ("/edit/", "get", {}, CADRE, Role.INSPECTOR),
        ("/reveal/", "post", {}, CADRE, Role.INSPECTOR),
        ("/tags/", "post", {"group": "chronic"}, CADRE, Role.INSPECTOR),
        ("/tags/chronic/remove/", "post", {}, CADRE, Role.INSPECTOR),
        ("/returns/", "post", {"origin": "郑州", "arrival_date": "2022-01-10"}, CADRE, KEEPER),
        ("/household/", "post", {}, CADRE, KEEPER),
    ],
)
def test_person_routes_matrix(
    zhang: Person,
    make_user: Any,
    client_for: Any,
    suffix: str,
    method: str,
    data: Any,
    role: str,
    wrong: str,
) -> None:
    case = AccessCase(
        url=f"/people/{zhang.pk}{suffix}",
        role=role,
        region=JIANGTAITUN,
        other_region=DONGZHENGSI,
        wrong_role=wrong,
        method=method,
        data=data,
    )
    check_access_matrix(case, make_user, client_for)


def test_merge_matrix(zhang: Person, make_user: Any, client_for: Any) -> None:
    # Merging is for the township and HQ: a township officer over 高庄镇, not a cadre.
    case = AccessCase(
        url=f"/people/{zhang.pk}/merge/",
        role=OFFICER,
        region=GAOZHUANG,
        other_region=FUDAO,
        wrong_role=Role.INSPECTOR,  # a village cadre's 403 is in test_edit_and_merge_pages
    )
    check_access_matrix(case, make_user, client_for)


@pytest.mark.parametrize(
    ("url", "role", "wrong"),
    [
        ("/people/", CADRE, KEEPER),
        ("/people/search/?q=张三", CADRE, KEEPER),
        ("/people/new/", CADRE, Role.INSPECTOR),
        ("/people/export/", OFFICER, CADRE),
    ],
)
def test_list_pages_refuse_wrong_roles(
    zhang: Person, make_user: Any, client_for: Any, url: str, role: str, wrong: str
) -> None:
    assert client_for(None).get(url).status_code == 302
    assert client_for(make_user(role=wrong, region=JIANGTAITUN)).get(url).status_code == 403
    assert client_for(make_user(role=role, region=JIANGTAITUN)).get(url).status_code == 200


def test_household_matrix(zhang: Person, make_user: Any, client_for: Any) -> None:
    household = actions.create_household(actor=None, head=zhang)
    case = AccessCase(
        url=f"/people/households/{household.pk}/",
        role=CADRE,
        region=JIANGTAITUN,
        other_region=DONGZHENGSI,
        wrong_role=KEEPER,
    )
    page = body_text(check_access_matrix(case, make_user, client_for)["allowed"])
    assert "张三" in page and ZHANG_PHONE not in page and "蒋台屯村三街12号院" not in page


def test_other_village_absent_from_list_search_export(
    zhang: Person, li: Person, make_user: Any, client_for: Any
) -> None:
    cadre = client_for(make_user(role=CADRE, region=DONGZHENGSI))
    assert_absent(cadre, "/people/", "张三")
    assert_present(cadre, "/people/", "李四")
    link = f"/people/{zhang.pk}/"  # the search page echoes the query, so look for the link
    assert_absent(cadre, "/people/search/", link, q="张三")
    assert_absent(cadre, "/people/search/", link, q=ZHANG_PHONE[-4:])
    assert_present(cadre, "/people/search/", f"/people/{li.pk}/", q="李四")
    officer = make_user(role=OFFICER, region=DONGZHENGSI)
    assert_absent(client_for(officer), "/people/export/", "张三", format="csv")
    assert_present(client_for(officer), "/people/export/", "李四", format="csv")


# --- masking and reveal -----------------------------------------------------------------


def test_list_and_detail_masked(zhang: Person, make_user: Any, client_for: Any) -> None:
    client = client_for(make_user(role=CADRE, region=JIANGTAITUN))
    for url in ["/people/", f"/people/{zhang.pk}/", "/people/search/?q=zs"]:
        page = body_text(client.get(url))
        assert "张三" in page, url
        assert ZHANG_ID not in page and ZHANG_PHONE not in page, url
        assert "蒋台屯村三街12号院" not in page, url
        assert "138****5678" in page, url
    assert not AccessLogEntry.objects.exists()


def test_reveal_shows_and_logs(zhang: Person, make_user: Any, client_for: Any) -> None:
    cadre = make_user(role=CADRE, region=JIANGTAITUN)
    response = client_for(cadre).post(f"/people/{zhang.pk}/reveal/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    page = body_text(response)
    assert ZHANG_ID in page and ZHANG_PHONE in page and "蒋台屯村三街12号院" in page
    entry = AccessLogEntry.objects.get()
    assert (entry.kind, entry.object_id, entry.user_id, entry.unmasked) == (
        "reveal",
        str(zhang.pk),
        cadre.pk,
        True,
    )
    assert client_for(cadre).get(f"/people/{zhang.pk}/reveal/").status_code == 405
    inspector = make_user(role=Role.INSPECTOR, region=JIANGTAITUN)
    assert client_for(inspector).post(f"/people/{zhang.pk}/reveal/").status_code == 403
    assert AccessLogEntry.objects.count() == 1


# --- search kinds -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "张三",
        "張三",
        "张",
        "zhangsan",
        "zhang",
        "zs",
        "ZS",
        ZHANG_PHONE[-4:],
        ZHANG_PHONE,
        ZHANG_ID[-6:],
        ZHANG_ID[-4:],
        ZHANG_ID,
        ZHANG_ID.lower(),
        "１３８１２３４５６７８",
    ],
)
def test_search_kinds_find_zhang(
    zhang: Person, li: Person, make_user: Any, client_for: Any, query: str
) -> None:
    client = client_for(make_user(role=OFFICER, region=GAOZHUANG))
    page = body_text(client.get("/people/search/", {"q": query}))
    assert f"/people/{zhang.pk}/" in page, query
    assert f"/people/{li.pk}/" not in page, query
    listed = body_text(client.get("/people/", {"q": query}))
    assert "张三" in listed and "李四" not in listed


@pytest.mark.parametrize("query", ["ls", "李", "lisi", "5432", "%", "_", "' OR 1=1 --", "=1+1"])
def test_search_others(
    zhang: Person, li: Person, make_user: Any, client_for: Any, query: str
) -> None:
    client = client_for(make_user(role=OFFICER, region=GAOZHUANG))
    page = body_text(client.get("/people/search/", {"q": query}))
    assert f"/people/{zhang.pk}/" not in page


# --- filters and the list -----------------------------------------------------------------


def test_filters(zhang: Person, li: Person, make_user: Any, client_for: Any) -> None:
    actions.tag_persons(actor=None, persons=[li], group="elderly_alone")
    actions.add_returnee(actor=None, person=zhang, origin="西安", arrival_date=dt.date(2022, 1, 3))
    client = client_for(make_user(role=OFFICER, region=GAOZHUANG))

    def names(**params: str) -> set[str]:
        page = body_text(client.get("/people/", params))
        return {n for n in ("张三", "李四") if n in page}

    assert names(tag="elderly_alone") == {"李四"}
    assert names(age="60-79") == {"李四"}
    assert names(age="18-59") == {"张三"}
    assert names(age="0-6") == set()
    assert names(returnee="true") == {"张三"}
    assert names(returnee="false") == {"李四"}
    assert names(region=JIANGTAITUN) == {"张三"}
    assert names(region="东正寺村") == {"李四"}
    assert names(status="away") == set()
    # Bad filter values: a message, not a 500.
    for params in [{"age": "200"}, {"tag": "nope"}, {"region": "9" * 200}, {"per_page": "0"}]:
        assert client.get("/people/", params).status_code == 200


def test_list_query_count_fixed(regions: Any, make_user: Any, client_for: Any) -> None:
    client = client_for(make_user(role=OFFICER, region=GAOZHUANG))
    for i in range(3):
        person = actions.create_person(
            actor=None, name=f"甲{i}", id_type="none", region_code=JIANGTAITUN
        )
        actions.tag_persons(actor=None, persons=[person], group="child")
    small = count_queries(client, "/people/")
    for i in range(12):
        person = actions.create_person(
            actor=None, name=f"乙{i}", id_type="none", region_code=DONGZHENGSI
        )
        actions.tag_persons(actor=None, persons=[person], group="chronic")
    assert count_queries(client, "/people/") == small
    assert small == 9  # session, user, scope, count, page, tags+groups, two key-group selects


# --- create and edit ----------------------------------------------------------------------


def test_create_derives_from_id(regions: Any, make_user: Any, client_for: Any) -> None:
    client = client_for(make_user(role=CADRE, region=JIANGTAITUN))
    response = client.post("/people/new/", form_data(id_number=make_id("19800202", "555").lower()))
    assert response.status_code == 302
    person = Person.objects.get(name="王二")
    assert person.sex == "M" and person.birth_date == dt.date(1980, 2, 2)


def test_create_contradiction_is_field_error(regions: Any, make_user: Any, client_for: Any) -> None:
    client = client_for(make_user(role=CADRE, region=JIANGTAITUN))
    response = client.post("/people/new/", form_data(sex="F", birth_date="1981-01-01"))
    assert response.status_code == 200
    form = response.context["form"]
    assert "sex" in form.errors and "birth_date" in form.errors


def test_duplicate_in_scope_links_to_it(zhang: Person, make_user: Any, client_for: Any) -> None:
    client = client_for(make_user(role=CADRE, region=JIANGTAITUN))
    response = client.post("/people/new/", form_data(id_number=ZHANG_ID))
    assert response.status_code == 200
    page = body_text(response)
    assert f"/people/{zhang.pk}/" in page and 'data-testid="duplicate"' in page


def test_duplicate_elsewhere_reveals_nothing(
    zhang: Person, make_user: Any, client_for: Any
) -> None:
    client = client_for(make_user(role=CADRE, region=DONGZHENGSI))
    response = client.post("/people/new/", form_data(id_number=ZHANG_ID, region=DONGZHENGSI))
    page = body_text(response)
    assert response.status_code == 200
    assert 'data-testid="duplicate"' in page
    assert f"/people/{zhang.pk}/" not in page and "张三" not in page
    assert Person.objects.count() == 1


def test_duplicate_warning_then_confirm(regions: Any, make_user: Any, client_for: Any) -> None:
    client = client_for(make_user(role=CADRE, region=JIANGTAITUN))
    data = form_data(id_type="none", id_number="", name="小明", birth_date="2016-03-03")
    assert client.post("/people/new/", data).status_code == 302
    response = client.post("/people/new/", data)
    assert response.status_code == 200
    assert 'data-testid="duplicate-warning"' in body_text(response)
    assert Person.objects.count() == 1
    assert client.post("/people/new/", {**data, "confirm_duplicates": "on"}).status_code == 302
    assert Person.objects.count() == 2


def test_edit_and_merge_pages(zhang: Person, make_user: Any, client_for: Any) -> None:
    dup = actions.create_person(actor=None, name="张三", id_type="none", region_code=JIANGTAITUN)
    officer = client_for(make_user(role=OFFICER, region=GAOZHUANG))
    response = officer.post(f"/people/{dup.pk}/edit/", form_data(name="张三", id_number=ZHANG_ID))
    assert response.status_code == 200
    assert f"/people/{dup.pk}/merge/?into={zhang.pk}" in body_text(response)
    assert officer.get(f"/people/{dup.pk}/merge/", {"into": zhang.pk}).status_code == 200
    cadre = client_for(make_user(role=CADRE, region=JIANGTAITUN))
    assert cadre.get(f"/people/{dup.pk}/merge/").status_code == 403  # township and HQ only
    assert officer.post(f"/people/{dup.pk}/merge/", {"into": zhang.pk}).status_code == 302
    dup.refresh_from_db()
    assert dup.merged_into_id == zhang.pk
    assert officer.get(f"/people/{dup.pk}/").status_code == 404  # merged records leave lists


def test_bulk_tag_only_in_scope(zhang: Person, li: Person, make_user: Any, client_for: Any) -> None:
    client = client_for(make_user(role=CADRE, region=JIANGTAITUN))
    response = client.post(
        "/people/bulk-tag/", {"persons": [zhang.pk, li.pk, 99999], "group": "child"}
    )
    assert response.status_code == 302
    assert list(PersonTag.objects.values_list("person_id", flat=True)) == [zhang.pk]
    assert client.post("/people/bulk-tag/", {"persons": ["x"], "group": "child"}).status_code == 302


def test_household_page_adds_member(zhang: Person, make_user: Any, client_for: Any) -> None:
    wife = actions.create_person(
        actor=None, name="刘芳", id_number=make_id("19910303", "222"), region_code=JIANGTAITUN
    )
    client = client_for(make_user(role=CADRE, region=JIANGTAITUN))
    response = client.post(f"/people/{zhang.pk}/household/")
    assert response.status_code == 302
    url = response["Location"]
    assert client.post(url, {"person": wife.pk}).status_code == 302
    wife.refresh_from_db()
    assert wife.household_id is not None
    assert "刘芳" in body_text(client.get(url))


ALPHABET = st.text(
    alphabet=st.sampled_from(list("0123456789０１２Xx-张張三 \t<>'\"%=@+中國😀\u0000")), max_size=40
)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    name=ALPHABET,
    number=ALPHABET,
    phone=ALPHABET,
    birth=ALPHABET,
    id_type=st.sampled_from(["mainland", "legacy15", "passport", "none", "bogus", ""]),
    region=st.sampled_from([JIANGTAITUN, "蒋台屯村", "410522116", "x" * 300, "", FUDAO]),
)
def test_person_form_never_500(
    regions: Any,
    make_user: Any,
    client_for: Any,
    name: str,
    number: str,
    phone: str,
    birth: str,
    id_type: str,
    region: str,
) -> None:
    client = client_for(make_user(role=CADRE, region=JIANGTAITUN))
    data = form_data(
        name=name, id_number=number, phone=phone, birth_date=birth, id_type=id_type, region=region
    )
    assert client.post("/people/new/", data).status_code in (200, 302)
    assert client.get("/people/", {"q": name, "age": birth, "region": region}).status_code == 200
    assert client.get("/people/search/", {"q": number}).status_code == 200


# --- export -----------------------------------------------------------------------------


def test_export_masked_logged_and_neutralized(
    regions: Any, make_user: Any, client_for: Any
) -> None:
    person = actions.create_person(
        actor=None,
        name="=HYPERLINK(1)",
        id_type="none",
        phone="13811112222",
        address="@SUM(A1)",
        notes="+cmd",
        region_code=JIANGTAITUN,
    )
    officer = make_user(role=OFFICER, region=GAOZHUANG)
    text = body_text(client_for(officer).get("/people/export/", {"format": "csv"}))
    assert "'=HYPERLINK(1)" in text and "'+cmd" in text
    assert "13811112222" not in text and "138****2222" in text
    assert ",=" not in text and ",@" not in text
    entry = AccessLogEntry.objects.get()
    assert (entry.kind, entry.row_count, entry.unmasked) == ("export", 1, False)
    revealed = body_text(
        client_for(officer).get("/people/export/", {"format": "csv", "reveal": "1"})
    )
    assert "13811112222" in revealed
    assert AccessLogEntry.objects.filter(unmasked=True).count() == 1
    assert person.pk


def test_export_xlsx_and_reveal_needs_permission(
    zhang: Person, make_user: Any, client_for: Any
) -> None:
    from python_calamine import CalamineWorkbook

    officer = make_user(role=OFFICER, region=GAOZHUANG)
    response = client_for(officer).get("/people/export/", {"format": "xlsx"})
    data = b"".join(response.streaming_content)
    rows = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0).to_python()
    flat = " ".join(str(c) for row in rows for c in row)
    assert "张三" in flat and ZHANG_ID not in flat and ZHANG_PHONE not in flat
    # The filter applies to the export.
    text = body_text(client_for(officer).get("/people/export/", {"format": "csv", "q": "ls"}))
    assert "张三" not in text


def test_bulk_tag_and_search_fragment_access(
    zhang: Person, make_user: Any, client_for: Any
) -> None:
    data = {"persons": [zhang.pk], "group": "child"}
    assert client_for(None).post("/people/bulk-tag/", data).status_code == 302
    inspector = make_user(role=Role.INSPECTOR, region=JIANGTAITUN)
    assert client_for(inspector).post("/people/bulk-tag/", data).status_code == 403
    outsider = make_user(role=CADRE, region=DONGZHENGSI)
    assert client_for(outsider).post("/people/bulk-tag/", data).status_code == 302
    assert not PersonTag.objects.exists()  # out of scope: silently skipped
    cadre = client_for(make_user(role=CADRE, region=JIANGTAITUN))
    fragment = cadre.get("/people/search/", {"q": "zs"}, HTTP_HX_REQUEST="true")
    assert "<html" not in body_text(fragment) and f"/people/{zhang.pk}/" in body_text(fragment)


def test_unmasked_export_needs_reveal(zhang: Person, make_user: Any, client_for: Any) -> None:
    # A cadre may reveal one person but not export; an HQ user of another county gets nothing.
    cadre = make_user(role=CADRE, region=JIANGTAITUN)
    assert client_for(cadre).get("/people/export/", {"reveal": "1"}).status_code == 403
    hq = make_user(role=Role.HQ_COMMANDER, region="410523")
    text = body_text(client_for(hq).get("/people/export/", {"format": "csv", "reveal": "1"}))
    assert "张三" not in text and ZHANG_ID not in text
