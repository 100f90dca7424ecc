"""Region browser, picker and site pages: access matrix, contents, query counts, bad input."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fangkong.accounts.roles import Role
from fangkong.core.models import AuditEntry
from fangkong.geo import actions
from fangkong.geo.models import Region, Site
from tests.conftest import DONGZHENGSI, FUDAO, GAOZHUANG, JIANGTAITUN
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


def site_data(**overrides: str) -> dict[str, str]:
    return {
        "name": "蒋台屯村西卡点",
        "kind": "checkpoint",
        "region": JIANGTAITUN,
        "address": "蒋台屯村西口",
        "contact_name": "",
        "contact_phone": "13800138000",
        "notes": "",
        **overrides,
    }


# --- access matrix --------------------------------------------------------------------


def test_region_detail_matrix(regions: Any, make_user: Any, client_for: Any) -> None:
    case = AccessCase(
        url=f"/geo/regions/{JIANGTAITUN}/",
        role=CADRE,
        region=JIANGTAITUN,
        other_region=DONGZHENGSI,
        wrong_role=None,  # every role may view regions
    )
    results = check_access_matrix(case, make_user, client_for)
    assert "蒋台屯村" in body_text(results["allowed"])


def test_pages_need_a_role(regions: Any, sites: Any, make_user: Any, client_for: Any) -> None:
    nobody = client_for(make_user())
    site = sites["jiangtaitun"]
    for url in [
        "/geo/regions/",
        f"/geo/regions/{JIANGTAITUN}/",
        "/geo/sites/",
        f"/geo/sites/{site.pk}/",
        "/geo/sites/new/",
        f"/geo/sites/{site.pk}/edit/",
    ]:
        assert nobody.get(url).status_code == 403, url


def test_village_group_add_matrix(regions: Any, make_user: Any, client_for: Any) -> None:
    case = AccessCase(
        url=f"/geo/regions/{JIANGTAITUN}/groups/",
        role=OFFICER,
        region=JIANGTAITUN,
        other_region=FUDAO,
        wrong_role=CADRE,
        method="post",
        data={"name": "第一组"},
    )
    check_access_matrix(case, make_user, client_for)
    assert Region.objects.filter(parent_id=JIANGTAITUN).count() == 1


def test_site_detail_matrix(sites: Any, make_user: Any, client_for: Any) -> None:
    site = sites["jiangtaitun"]
    case = AccessCase(
        url=f"/geo/sites/{site.pk}/",
        role=CADRE,
        region=JIANGTAITUN,
        other_region=DONGZHENGSI,
        wrong_role=None,
    )
    results = check_access_matrix(case, make_user, client_for)
    page = body_text(results["allowed"])
    assert "蒋台屯村东卡点" in page
    assert "蒋台屯村东口" in page  # a site's address is not masked: it is a place
    assert "/edit/" not in page  # the cadre may not edit


def test_site_create_page_matrix(regions: Any, make_user: Any, client_for: Any) -> None:
    case = AccessCase(
        url=f"/geo/sites/new/?region={JIANGTAITUN}",
        role=OFFICER,
        region=JIANGTAITUN,
        other_region=FUDAO,
        wrong_role=CADRE,
    )
    check_access_matrix(case, make_user, client_for)


def test_site_create_post_matrix(regions: Any, make_user: Any, client_for: Any) -> None:
    case = AccessCase(
        url=f"/geo/sites/new/?region={JIANGTAITUN}",
        role=OFFICER,
        region=JIANGTAITUN,
        other_region=FUDAO,
        wrong_role=CADRE,
        method="post",
        data=site_data(),
        allowed_status=(302,),
    )
    check_access_matrix(case, make_user, client_for)
    site = Site.objects.get()
    assert (site.name, site.region_code, site.contact_phone) == (
        "蒋台屯村西卡点",
        JIANGTAITUN,
        "13800138000",
    )
    assert AuditEntry.objects.filter(action="geo.create_site", object_id=str(site.pk)).exists()


def test_site_edit_matrix(sites: Any, make_user: Any, client_for: Any) -> None:
    site = sites["jiangtaitun"]
    for method, data in [("get", {}), ("post", site_data(name="蒋台屯村东口卡点"))]:
        case = AccessCase(
            url=f"/geo/sites/{site.pk}/edit/",
            role=OFFICER,
            region=JIANGTAITUN,
            other_region=FUDAO,
            wrong_role=CADRE,
            method=method,
            data=data,
        )
        check_access_matrix(case, make_user, client_for)
    site.refresh_from_db()
    assert site.name == "蒋台屯村东口卡点"
    assert AuditEntry.objects.filter(action="geo.update_site").count() == 1


def test_site_set_active_matrix(sites: Any, make_user: Any, client_for: Any) -> None:
    site = sites["jiangtaitun"]
    case = AccessCase(
        url=f"/geo/sites/{site.pk}/active/",
        role=OFFICER,
        region=JIANGTAITUN,
        other_region=FUDAO,
        wrong_role=CADRE,
        method="post",
        data={"active": "0"},
        allowed_status=(302,),
    )
    check_access_matrix(case, make_user, client_for)
    site.refresh_from_db()
    assert not site.active
    assert AuditEntry.objects.filter(action="geo.deactivate_site").count() == 1


def test_post_only_routes_refuse_get(sites: Any, make_user: Any, client_for: Any) -> None:
    client = client_for(make_user(role=OFFICER, region=GAOZHUANG))
    assert client.get(f"/geo/sites/{sites['jiangtaitun'].pk}/active/").status_code == 405
    assert client.get(f"/geo/regions/{JIANGTAITUN}/groups/").status_code == 405


def test_huge_or_unknown_ids_are_404(sites: Any, make_user: Any, client_for: Any) -> None:
    client = client_for(make_user(role=OFFICER, region=GAOZHUANG))
    for url in ["/geo/sites/99999/", "/geo/sites/" + "9" * 30 + "/", "/geo/regions/x/"]:
        assert client.get(url).status_code == 404, url
    assert client.get("/geo/regions/" + "9" * 30 + "/").status_code == 404


# --- lists, search, browser -----------------------------------------------------------


def test_site_list_is_scoped(sites: Any, make_user: Any, client_for: Any) -> None:
    cadre = client_for(make_user(role=CADRE, region=JIANGTAITUN))
    assert_present(cadre, "/geo/sites/", "蒋台屯村东卡点")
    assert_absent(cadre, "/geo/sites/", "东正寺村核酸采样点")
    assert_absent(cadre, "/geo/sites/", "伏道镇物资库")
    assert_absent(cadre, "/geo/sites/", "东正寺村核酸采样点", name="东正寺")
    officer = client_for(make_user(role=OFFICER, region=GAOZHUANG))
    assert_present(officer, "/geo/sites/", "东正寺村核酸采样点")
    assert_absent(officer, "/geo/sites/", "伏道镇物资库")
    anonymous = client_for(None).get("/geo/sites/")
    assert anonymous.status_code == 302


def test_site_list_filters(sites: Any, make_user: Any, client_for: Any) -> None:
    actions.set_site_active(actor=None, site=sites["dongzhengsi"], active=False)
    officer = client_for(make_user(role=OFFICER, region="410522"))
    assert_present(officer, "/geo/sites/", "蒋台屯村东卡点", region=JIANGTAITUN)
    assert_absent(officer, "/geo/sites/", "东正寺村核酸采样点", region=JIANGTAITUN)
    assert_present(officer, "/geo/sites/", "蒋台屯村东卡点", region="蒋台屯")  # by name
    assert_absent(officer, "/geo/sites/", "东正寺村核酸采样点", active="true")
    assert_present(officer, "/geo/sites/", "东正寺村核酸采样点", active="false")
    assert_absent(officer, "/geo/sites/", "蒋台屯村东卡点", kind="testing_site")
    assert_present(officer, "/geo/sites/", "蒋台屯村东卡点", name="東卡")  # traditional
    assert_absent(officer, "/geo/sites/", "蒋台屯村东卡点", name="采样")
    # Another county's region is not a way in: nothing is listed.
    assert_absent(officer, "/geo/sites/", "伏道镇物资库", region=FUDAO)
    # Bad filter values are answered, not crashed on.
    for params in [{"kind": "castle"}, {"active": "maybe"}, {"region": "x" * 500}]:
        assert officer.get("/geo/sites/", params).status_code == 200


def test_site_list_query_count_does_not_grow(regions: Any, make_user: Any, client_for: Any) -> None:
    client = client_for(make_user(role=OFFICER, region=GAOZHUANG))
    actions.create_site(actor=None, name="卡点0", kind="checkpoint", region_code=JIANGTAITUN)
    few = count_queries(client, "/geo/sites/")
    for i in range(1, 40):
        actions.create_site(actor=None, name=f"卡点{i}", kind="checkpoint", region_code=JIANGTAITUN)
    assert count_queries(client, "/geo/sites/") == few
    assert count_queries(client, "/geo/sites/", per_page=100) == few
    assert few <= 8


def test_region_list_shows_own_regions(
    regions: Any, sites: Any, make_user: Any, client_for: Any
) -> None:
    cadre = client_for(make_user(role=CADRE, region=JIANGTAITUN))
    assert_present(cadre, "/geo/regions/", "蒋台屯村")
    assert_absent(cadre, "/geo/regions/", "高庄镇")
    assert_absent(cadre, "/geo/regions/", "东正寺村", q="东正寺")
    assert_present(cadre, "/geo/regions/", "蒋台屯村", q="蔣台屯")
    officer = client_for(make_user(role=OFFICER, region=GAOZHUANG))
    page = body_text(officer.get("/geo/regions/"))
    assert "高庄镇" in page
    assert "安阳县" not in page


def test_region_detail_children_counts_and_breadcrumb(
    regions: Any, sites: Any, make_user: Any, client_for: Any
) -> None:
    officer = client_for(make_user(role=OFFICER, region=GAOZHUANG))
    response = officer.get(f"/geo/regions/{GAOZHUANG}/")
    page = body_text(response)
    for name in ["蒋台屯村", "东正寺村", "遵贵屯村", "伯台村"]:
        assert name in page
    rows = {row.region.code: row for row in response.context["rows"]}
    assert rows[JIANGTAITUN].sites == 1
    assert rows[DONGZHENGSI].sites == 1
    crumbs = officer.get(f"/geo/regions/{JIANGTAITUN}/").context["crumbs"]
    assert [c.code for c in crumbs] == [GAOZHUANG, JIANGTAITUN]  # from the user's top down
    hq = client_for(make_user(role=Role.HQ_COMMANDER, region="41"))
    crumbs = hq.get(f"/geo/regions/{JIANGTAITUN}/").context["crumbs"]
    assert [c.code for c in crumbs] == ["41", "4105", "410522", GAOZHUANG, JIANGTAITUN]


def test_region_detail_query_count_does_not_grow(
    regions: Any, make_user: Any, client_for: Any
) -> None:
    client = client_for(make_user(role=OFFICER, region=GAOZHUANG))
    few = count_queries(client, f"/geo/regions/{GAOZHUANG}/")
    for n in range(300, 330):
        Region.objects.create(
            code=f"410522116{n}",
            name=f"新村{n}",
            short_name=f"新村{n}",
            level=5,
            parent_id=GAOZHUANG,
        )
    assert count_queries(client, f"/geo/regions/{GAOZHUANG}/") == few
    top = count_queries(client, "/geo/regions/")
    assert top <= few


def test_region_search_options(regions: Any, make_user: Any, client_for: Any) -> None:
    cadre = client_for(make_user(role=CADRE, region=JIANGTAITUN))
    assert_present(cadre, "/geo/regions/search/", 'value="410522116215"', q="屯")
    assert_absent(cadre, "/geo/regions/search/", "410522116216", q="屯")  # 遵贵屯: not theirs
    officer = client_for(make_user(role=OFFICER, region=GAOZHUANG))
    assert_present(officer, "/geo/regions/search/", "410522116216", q="遵贵")
    assert_present(officer, "/geo/regions/search/", "410522116216", field="region", region="遵贵")
    assert_absent(officer, "/geo/regions/search/", "410523106", q="伏道")
    # The picker of a MANAGE_SITES field only offers regions the cadre may manage: none.
    assert_absent(cadre, "/geo/regions/search/", "410522116215", q="屯", perm="geo.manage_site")
    assert client_for(None).get("/geo/regions/search/", {"q": "屯"}).status_code == 302


def test_add_village_group_page(regions: Any, make_user: Any, client_for: Any) -> None:
    client = client_for(make_user(role=OFFICER, region=GAOZHUANG))
    page = body_text(client.get(f"/geo/regions/{JIANGTAITUN}/"))
    assert f"/geo/regions/{JIANGTAITUN}/groups/" in page
    response = client.post(f"/geo/regions/{JIANGTAITUN}/groups/", {"name": "第二组", "number": "2"})
    assert response.status_code == 302
    assert Region.objects.get(code=JIANGTAITUN + "002").name == "第二组"
    for bad in [
        {"name": ""},
        {"name": "第二组"},
        {"name": "x", "number": "1000"},
        {"name": "x", "number": "abc"},
    ]:
        response = client.post(f"/geo/regions/{JIANGTAITUN}/groups/", bad, follow=True)
        assert response.status_code == 200
        assert list(response.context["messages"])
    assert Region.objects.filter(level=6).count() == 1


# --- forms ----------------------------------------------------------------------------


def officer_client(make_user: Any, client_for: Any) -> Any:
    return client_for(make_user(role=OFFICER, region=GAOZHUANG))


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "卡" * 101}, "name"),
        ({"name": "卡\x00点"}, "name"),
        ({"kind": "castle"}, "kind"),
        ({"region": ""}, "region"),
        ({"region": FUDAO}, "region"),  # out of scope
        ({"region": "999999999999"}, "region"),
        ({"region": "41x"}, "region"),
        ({"region": "伏道镇"}, "region"),  # a name out of scope
        ({"region": "不存在村"}, "region"),
        ({"region": "x" * 300}, "region"),
        ({"contact_phone": "12345"}, "contact_phone"),
        ({"contact_phone": "电话"}, "contact_phone"),
        ({"address": "路" * 201}, "address"),
        ({"contact_name": "名" * 65}, "contact_name"),
        ({"notes": "x" * 2001}, "notes"),
    ],
)
def test_site_form_bad_inputs(
    regions: Any, make_user: Any, client_for: Any, overrides: dict, field: str
) -> None:
    client = officer_client(make_user, client_for)
    response = client.post("/geo/sites/new/", site_data(**overrides))
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not Site.objects.exists()


def test_site_form_duplicate_and_traditional(sites: Any, make_user: Any, client_for: Any) -> None:
    client = officer_client(make_user, client_for)
    response = client.post("/geo/sites/new/", site_data(name="蔣台屯村東卡點"))
    assert response.status_code == 200
    assert "name" in response.context["form"].errors
    assert Site.objects.filter(region_code=JIANGTAITUN).count() == 1


def test_site_form_accepts_names_and_full_width(
    regions: Any, make_user: Any, client_for: Any
) -> None:
    client = officer_client(make_user, client_for)
    response = client.post(
        "/geo/sites/new/",
        site_data(region="蔣台屯", contact_phone="１３８００１３８０００", name="西卡点"),
    )
    assert response.status_code == 302
    site = Site.objects.get(name="西卡点")
    assert (site.region_code, site.contact_phone) == (JIANGTAITUN, "13800138000")
    ambiguous = client.post("/geo/sites/new/", site_data(region="村", name="北卡点"))
    assert "region" in ambiguous.context["form"].errors


def test_edit_form_shows_current_values(sites: Any, make_user: Any, client_for: Any) -> None:
    client = officer_client(make_user, client_for)
    page = body_text(client.get(f"/geo/sites/{sites['jiangtaitun'].pk}/edit/"))
    assert 'value="蒋台屯村东卡点"' in page
    assert f'value="{JIANGTAITUN}"' in page
    assert "hx-get" in page  # the region picker


text_or_junk = st.one_of(
    st.text(max_size=300),
    st.sampled_from(["", " ", "４１０５２２", "蔣台屯", "東卡點", "\x00", "1" * 40, "高庄", "%"]),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    data=st.fixed_dictionaries(
        {
            "name": text_or_junk,
            "kind": st.one_of(st.sampled_from(["checkpoint", "office", "x"]), st.text(max_size=5)),
            "region": st.one_of(text_or_junk, st.sampled_from([JIANGTAITUN, GAOZHUANG, FUDAO])),
            "address": text_or_junk,
            "contact_name": text_or_junk,
            "contact_phone": st.one_of(text_or_junk, st.from_regex(r"1[3-9]\d{9}", fullmatch=True)),
            "notes": text_or_junk,
        }
    )
)
def test_site_form_never_500(regions: Any, make_user: Any, client_for: Any, data: dict) -> None:
    client = officer_client(make_user, client_for)
    response = client.post("/geo/sites/new/", data)
    assert response.status_code in (200, 302)
    site = Site.objects.first()
    if site is not None:
        edit = client.post(f"/geo/sites/{site.pk}/edit/", data)
        assert edit.status_code in (200, 302)


def test_messages_are_in_simplified_chinese(regions: Any, make_user: Any, client_for: Any) -> None:
    client = officer_client(make_user, client_for)
    page = body_text(client.post("/geo/sites/new/", site_data(contact_phone="12345", region=FUDAO)))
    assert "请输入有效的电话号码" in page
    assert "您的辖区内没有代码为 410523106 的区划" in page
