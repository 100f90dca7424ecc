"""Audit log and access log: scoped pages and API, filters, readable diff, append-only."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fangkong.accounts.roles import Role
from fangkong.core import audit
from fangkong.core.models import AccessLogEntry, AuditEntry
from fangkong.geo.models import Site
from tests.conftest import DONGZHENGSI, FUDAO, FUDAO_ERJIE, GAOZHUANG, JIANGTAITUN
from tests.support.access import (
    AccessCase,
    assert_absent,
    assert_present,
    body_text,
    check_access_matrix,
    count_queries,
)

pytestmark = pytest.mark.django_db

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def _site(name: str, code: str) -> Site:
    return Site.objects.create(name=name, kind="checkpoint", region_code=code)


def _record(site: Site, action: str = "geo.update_site", at: dt.datetime | None = None, **kw):
    before = audit.snapshot(site)
    after = {**before, **kw} if kw else before
    if at is None:
        return audit.record(None, action, site, before=before, after=after)
    with mock.patch("django.utils.timezone.now", return_value=at):
        return audit.record(None, action, site, before=before, after=after)


@pytest.fixture
def entries(regions):
    inside = _site("蒋台屯村东口卡点", JIANGTAITUN)
    outside = _site("伏道二街卡点", FUDAO_ERJIE)
    return {
        "inside": _record(inside, notes="夜间加岗"),
        "outside": _record(outside, notes="伏道的备注"),
    }


# Audit list -------------------------------------------------------------------------------


def test_audit_list_matrix(entries, make_user, client_for) -> None:
    url = reverse("core:audit_list")
    anonymous = client_for(None).get(url)
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    cadre = make_user(role=Role.VILLAGE_CADRE, region=JIANGTAITUN)
    assert client_for(cadre).get(url).status_code == 403
    officer = client_for(make_user(role=Role.TOWNSHIP_OFFICER, region=GAOZHUANG))
    assert_present(officer, url, "蒋台屯村东口卡点")
    assert_absent(officer, url, "伏道二街卡点")
    fudao = client_for(make_user(role=Role.TOWNSHIP_OFFICER, region=FUDAO))
    assert_present(fudao, url, "伏道二街卡点")
    assert_absent(fudao, url, "蒋台屯村东口卡点")
    auditor = client_for(make_user(role=Role.AUDITOR, region="41"))
    assert_present(auditor, url, "蒋台屯村东口卡点")
    assert_present(auditor, url, "伏道二街卡点")


def test_audit_detail_matrix(entries, make_user, client_for) -> None:
    case = AccessCase(
        url=reverse("core:audit_detail", args=[entries["inside"].pk]),
        role=Role.TOWNSHIP_OFFICER,
        region=GAOZHUANG,
        other_region=FUDAO,
        wrong_role=Role.VILLAGE_CADRE,
    )
    results = check_access_matrix(case, make_user, client_for, wrong_role_statuses=(403,))
    assert "蒋台屯村东口卡点" in body_text(results["allowed"])
    assert "蒋台屯村东口卡点" not in body_text(results["other_region"])


def test_audit_detail_missing_is_404(entries, make_user, client_for) -> None:
    client = client_for(make_user(role=Role.AUDITOR, region="41"))
    assert client.get(reverse("core:audit_detail", args=[999999])).status_code == 404
    assert client.get("/audit/not-a-number/").status_code == 404


def test_diff_highlights_changed_fields(entries, make_user, client_for) -> None:
    client = client_for(make_user(role=Role.AUDITOR, region="41"))
    html = body_text(client.get(reverse("core:audit_detail", args=[entries["inside"].pk])))
    changed_row = html.split('data-field="notes"')[1].split("</tr>")[0]
    assert "夜间加岗" in changed_row and "<del>" in changed_row and "<strong>" in changed_row
    assert 'table-warning fk-changed" data-field="notes"' in html
    # an unchanged field is shown plainly
    assert 'class="" data-field="name"' in html
    assert 'fk-changed" data-field="name"' not in html


def test_diff_of_a_creation_marks_nothing_changed(regions, make_user, client_for) -> None:
    site = _site("蒋台屯村西口卡点", JIANGTAITUN)
    entry = audit.record(None, "geo.create_site", site, after=audit.snapshot(site))
    client = client_for(make_user(role=Role.AUDITOR, region="41"))
    html = body_text(client.get(reverse("core:audit_detail", args=[entry.pk])))
    assert "蒋台屯村西口卡点" in html
    assert "fk-changed" not in html


def test_diff_masks_phones_and_identity_numbers(regions, make_user, client_for) -> None:
    person = make_user("zhangsan", region=JIANGTAITUN, phone="13812345678")
    entry = audit.record(
        None,
        "accounts.update_user",
        person,
        before={"phone": "13812345678", "id_number": "410522199001011234"},
        after={"phone": "13987654321", "id_number": "410522199001011234"},
    )
    client = client_for(make_user(role=Role.AUDITOR, region="41"))
    html = body_text(client.get(reverse("core:audit_detail", args=[entry.pk])))
    assert "13812345678" not in html and "13987654321" not in html
    assert "138****5678" in html and "139****4321" in html
    assert "410522199001011234" not in html and "410522********1234" in html
    api = client.get("/api/v1/audit").json()
    shown = next(item for item in api["items"] if item["id"] == entry.pk)
    assert shown["before"]["phone"] == "138****5678"
    assert shown["after"]["id_number"] == "410522********1234"


# Filters ----------------------------------------------------------------------------------


def test_filter_by_local_day(regions, make_user, client_for) -> None:
    site = _site("蒋台屯村东口卡点", JIANGTAITUN)
    # Both are on 20 January in UTC; only the second is on 21 January in Shanghai.
    late = _record(site, "geo.late_evening", at=dt.datetime(2022, 1, 20, 23, 30, tzinfo=SHANGHAI))
    early = _record(site, "geo.early_morning", at=dt.datetime(2022, 1, 21, 0, 30, tzinfo=SHANGHAI))
    assert late.created_at.astimezone(dt.UTC).date() == early.created_at.astimezone(dt.UTC).date()
    client = client_for(make_user(role=Role.AUDITOR, region="41"))
    url = reverse("core:audit_list")
    day = {"date_from": "2022-01-21", "date_to": "2022-01-21"}
    assert_present(client, url, "geo.early_morning", **day)
    assert_absent(client, url, "geo.late_evening", **day)
    assert_present(client, url, "geo.late_evening", date_to="2022-01-20")
    assert_absent(client, url, "geo.early_morning", date_to="2022-01-20")
    # full-width digits are read as ASCII
    assert_present(client, url, "geo.early_morning", date_from="２０２２-０１-２１")
    api = client.get("/api/v1/audit", day).json()
    assert [i["action"] for i in api["items"]] == ["geo.early_morning"]


def test_filter_by_user_type_action_region(regions, make_user, client_for) -> None:
    officer = make_user("gaozhuang_officer", role=Role.TOWNSHIP_OFFICER, region=GAOZHUANG)
    east = _site("蒋台屯村东口卡点", JIANGTAITUN)
    south = _site("东正寺村南口卡点", DONGZHENGSI)
    audit.record(officer, "geo.update_site", east, before={}, after={})
    audit.record(None, "geo.close_site", south, before={}, after={})
    client = client_for(make_user(role=Role.AUDITOR, region="41"))
    url = reverse("core:audit_list")
    assert_present(client, url, "东正寺村南口卡点", actor="system")
    assert_absent(client, url, "东正寺村南口卡点", actor="gaozhuang")
    assert_present(client, url, "蒋台屯村东口卡点", actor="GAOZHUANG")
    assert_absent(client, url, "蒋台屯村东口卡点", action="close")
    assert_present(client, url, "蒋台屯村东口卡点", object_type="geo.site")
    assert_absent(client, url, "蒋台屯村东口卡点", object_type="accounts.user")
    assert_present(client, url, "蒋台屯村东口卡点", region=JIANGTAITUN)
    assert_absent(client, url, "东正寺村南口卡点", region=JIANGTAITUN)
    # by name, and by its traditional spelling
    assert_present(client, url, "东正寺村南口卡点", region="东正寺村")
    assert_absent(client, url, "蒋台屯村东口卡点", region="東正寺村")
    assert_present(client, url, "蒋台屯村东口卡点", region="蔣台屯村")


def test_bad_filter_input_gets_a_message(entries, make_user, client_for) -> None:
    client = client_for(make_user(role=Role.AUDITOR, region="41"))
    url = reverse("core:audit_list")
    page = client.get(url, {"date_from": "2022-13-45", "region": "41052"})
    assert page.status_code == 200
    text = body_text(page)
    assert "is-invalid" in text
    api = client.get("/api/v1/audit", {"date_from": "yesterday", "region": "12345"})
    assert api.status_code == 422
    body = api.json()
    assert body["code"] == "invalid" and set(body["fields"]) == {"date_from", "region"}
    assert client.get("/api/v1/audit", {"actor": "x" * 500}).status_code == 422
    assert client.get("/api/v1/audit", {"date_from": "0001-01-01"}).status_code == 422
    assert client.get("/api/v1/audit", {"object_type": "no.such"}).status_code == 422


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    params=st.dictionaries(
        st.sampled_from(
            [
                "actor",
                "object_type",
                "action",
                "date_from",
                "date_to",
                "region",
                "page",
                "per_page",
                "sort",
                "user",
                "kind",
            ]
        ),
        st.one_of(
            st.text(max_size=30),
            st.sampled_from(
                [
                    "0",
                    "-1",
                    "9" * 30,
                    "２０２２-０１-２１",
                    "410522116",
                    "蔣台屯村",
                    "2022-01-20",
                    "9999-12-31",
                    "\x00",
                    "created_at",
                    "-actor_name",
                ]
            ),
        ),
    )
)
def test_no_filter_input_gives_500(entries, make_user, client_for, params) -> None:
    client = client_for(make_user(role=Role.AUDITOR, region="41"))
    for url in (reverse("core:audit_list"), reverse("core:access_log"), reverse("core:job_list")):
        assert client.get(url, params).status_code == 200
    for url in ("/api/v1/audit", "/api/v1/access-log", "/api/v1/jobs"):
        assert client.get(url, params).status_code in (200, 422)


# Query count ------------------------------------------------------------------------------


def test_query_count_does_not_grow_with_page_size(regions, make_user, client_for) -> None:
    site = _site("蒋台屯村东口卡点", JIANGTAITUN)
    for n in range(60):
        _record(site, notes=f"第{n}次")
        audit.log_access(None, "reveal", object_type="geo.site", region_code=JIANGTAITUN)
    client = client_for(make_user(role=Role.AUDITOR, region="41"))
    for name in ("core:audit_list", "core:access_log"):
        url = reverse(name)
        small = count_queries(client, url, per_page=5)
        large = count_queries(client, url, per_page=60)
        assert small == large, (name, small, large)
        assert large <= 8, (name, large)
    api_small = count_queries(client, "/api/v1/audit", page_size=5)
    api_large = count_queries(client, "/api/v1/audit", page_size=60)
    assert api_small == api_large


def test_odd_page_numbers_land_somewhere(entries, make_user, client_for) -> None:
    client = client_for(make_user(role=Role.AUDITOR, region="41"))
    url = reverse("core:audit_list")
    for params in ({"page": "999"}, {"page": "-3"}, {"per_page": "10000000"}):
        assert_present(client, url, "蒋台屯村东口卡点", **params)
    one_row = body_text(client.get(url, {"per_page": "0"}))  # clamped to one row a page
    assert ("蒋台屯村东口卡点" in one_row) != ("伏道二街卡点" in one_row)


# Access log -------------------------------------------------------------------------------


def test_access_log_matrix_and_filters(regions, make_user, client_for) -> None:
    audit.log_access(
        None,
        "reveal",
        object_type="geo.site",
        object_id="7",
        region_code=JIANGTAITUN,
        detail="蒋台屯村的查看",
    )
    audit.log_access(
        None,
        "export",
        object_type="geo.site",
        region_code=FUDAO,
        row_count=12,
        detail="伏道镇的导出",
    )
    url = reverse("core:access_log")
    assert client_for(None).get(url).status_code == 302
    # township officers read the audit log but not the access log
    officer = make_user(role=Role.TOWNSHIP_OFFICER, region=GAOZHUANG)
    assert client_for(officer).get(url).status_code == 403
    anyang = client_for(make_user(role=Role.AUDITOR, region="410522"))
    assert_present(anyang, url, "蒋台屯村的查看")
    assert_absent(anyang, url, "伏道镇的导出")
    hq = client_for(make_user(role=Role.HQ_COMMANDER, region="41"))
    assert_present(hq, url, "伏道镇的导出", kind="export")
    assert_absent(hq, url, "蒋台屯村的查看", kind="export")
    api = anyang.get("/api/v1/access-log").json()
    assert [i["detail"] for i in api["items"]] == ["蒋台屯村的查看"]
    assert client_for(officer).get("/api/v1/access-log").status_code == 403
    assert client_for(None).get("/api/v1/access-log").status_code == 401


def test_audit_api_matrix(entries, make_user, client_for) -> None:
    assert client_for(None).get("/api/v1/audit").status_code == 401
    cadre = make_user(role=Role.VILLAGE_CADRE, region=JIANGTAITUN)
    assert client_for(cadre).get("/api/v1/audit").status_code == 403
    fudao = client_for(make_user(role=Role.TOWNSHIP_OFFICER, region=FUDAO))
    body = fudao.get("/api/v1/audit").json()
    assert body["count"] == 1 and body["items"][0]["object_repr"] == "伏道二街卡点"


# Append-only ------------------------------------------------------------------------------


def test_no_route_edits_or_deletes_entries(entries, make_user, client_for) -> None:
    client = client_for(make_user(role=Role.HQ_COMMANDER, region="41"))
    pk = entries["inside"].pk
    detail = reverse("core:audit_detail", args=[pk])
    for method in ("post", "put", "patch", "delete"):
        assert getattr(client, method)(detail).status_code == 405
        assert getattr(client, method)(reverse("core:audit_list")).status_code == 405
        assert getattr(client, method)(reverse("core:access_log")).status_code == 405
        assert getattr(client, method)(f"/api/v1/audit/{pk}").status_code in (404, 405)
        assert getattr(client, method)("/api/v1/audit").status_code == 405
    assert AuditEntry.objects.filter(pk=pk).exists()


@pytest.mark.parametrize("model", [AuditEntry, AccessLogEntry])
def test_models_are_append_only(regions, model) -> None:
    site = _site("蒋台屯村东口卡点", JIANGTAITUN)
    if model is AuditEntry:
        entry = _record(site)
    else:
        entry = audit.log_access(None, "reveal", object_type="geo.site", region_code=JIANGTAITUN)
    entry.detail = "changed" if model is AccessLogEntry else entry.action
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()
    with pytest.raises(PermissionError):
        model.objects.filter(pk=entry.pk).update(region_code="41")
    with pytest.raises(PermissionError):
        model.objects.filter(pk=entry.pk).delete()
    with pytest.raises(PermissionError):
        model.objects.all().delete()
    assert model.objects.filter(pk=entry.pk, region_code=JIANGTAITUN).exists()


def test_timestamps_shown_in_shanghai_time(regions, make_user, client_for) -> None:
    site = _site("蒋台屯村东口卡点", JIANGTAITUN)
    entry = _record(site, at=dt.datetime(2022, 1, 20, 16, 5, tzinfo=dt.UTC))
    client = client_for(make_user(role=Role.AUDITOR, region="41"))
    html = body_text(client.get(reverse("core:audit_detail", args=[entry.pk])))
    assert "2022-01-21 00:05:00" in html
    assert timezone.get_current_timezone_name() == "Asia/Shanghai"
