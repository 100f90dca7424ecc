"""Round pages: list, plan, detail, edit, status changes; access, bad input, query counts."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from fangkong.screening.actions.rounds import ZoneInput, create_round
from fangkong.screening.models import Round, RoundStatus, TubeStatus
from tests.conftest import (
    ANYANG_COUNTY,
    DONGZHENGSI,
    FUDAO,
    FUDAO_ERJIE,
    GAOZHUANG,
    JIANGTAITUN,
)
from tests.screening.conftest import Gaozhuang
from tests.screening.rounds_support import sample_into
from tests.support.access import AccessCase, assert_absent, check_access_matrix, count_queries


def local(moment: dt.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def form_data(**values: Any) -> dict[str, Any]:
    start = timezone.now() + dt.timedelta(days=1)
    data = {
        "name": "第10轮全员核酸",
        "starts_at": local(start),
        "ends_at": local(start + dt.timedelta(hours=5)),
        "default_pool_size": "10",
        "barcode_prefix": "",
        "barcode_length": "",
        "notes": "",
        "zone_region_0": GAOZHUANG,
        "zone_pool_0": "",
        "zone_label_0": "防范区",
        "zone_region_1": "",
        "zone_pool_1": "",
        "zone_label_1": "",
    }
    data.update(values)
    return data


def other_round() -> Round:
    """A round over 伏道镇 (another county)."""
    now = timezone.now()
    return create_round(
        actor=None,
        name="伏道镇第3轮",
        starts_at=now,
        ends_at=now + dt.timedelta(hours=4),
        zones=[ZoneInput(FUDAO, 20)],
    )


# --- access -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "page", ["", "coverage/", "dashboard/", f"coverage/{JIANGTAITUN}/missing/"]
)
def test_read_pages_access_matrix(
    gz: Gaozhuang, make_user: Any, client_for: Any, page: str
) -> None:
    case = AccessCase(
        url=f"/screening/rounds/{gz.round.pk}/{page}",
        role="village_cadre",
        region=JIANGTAITUN,
        other_region=FUDAO_ERJIE,
        wrong_role="warehouse_keeper",
    )
    results = check_access_matrix(case, make_user, client_for, wrong_role_statuses=(403,))
    assert gz.round.name in results["allowed"].content.decode()


def test_missing_list_of_another_village_is_404(
    gz: Gaozhuang, make_user: Any, client_for: Any
) -> None:
    cadre = client_for(make_user(role="village_cadre", region=DONGZHENGSI))
    base = f"/screening/rounds/{gz.round.pk}/coverage"
    assert cadre.get(f"{base}/{JIANGTAITUN}/missing/").status_code == 404
    assert cadre.get(f"{base}/{DONGZHENGSI}/missing/").status_code == 200
    for bad in ("4105221162", "abc", "410522116299", GAOZHUANG, "9" * 40):
        assert cadre.get(f"{base}/{bad}/missing/").status_code == 404, bad


@pytest.mark.parametrize("page", ["edit/", "start/", "finish/", "resume/", "close/", "delete/"])
def test_manage_pages_access_matrix(
    gz: Gaozhuang, make_user: Any, client_for: Any, page: str
) -> None:
    method = "get" if page == "edit/" else "post"
    case = AccessCase(
        url=f"/screening/rounds/{gz.round.pk}/{page}",
        role="township_officer",
        region=GAOZHUANG,
        other_region=FUDAO,
        wrong_role="village_cadre",
        method=method,
    )
    check_access_matrix(case, make_user, client_for, wrong_role_statuses=(403,))


def test_status_posts_refuse_get(gz: Gaozhuang, make_user: Any, client_for: Any) -> None:
    officer = client_for(make_user(role="township_officer", region=GAOZHUANG))
    assert officer.get(f"/screening/rounds/{gz.round.pk}/finish/").status_code == 405


def test_create_page_needs_the_manage_role(regions: Any, make_user: Any, client_for: Any) -> None:
    assert client_for(None).get("/screening/rounds/new/").status_code == 302
    cadre = client_for(make_user(role="village_cadre", region=JIANGTAITUN))
    assert cadre.get("/screening/rounds/new/").status_code == 403
    assert cadre.post("/screening/rounds/new/", form_data()).status_code == 403
    officer = client_for(make_user(role="township_officer", region=GAOZHUANG))
    assert officer.get("/screening/rounds/new/").status_code == 200


def test_list_shows_only_overlapping_rounds(gz: Gaozhuang, make_user: Any, client_for: Any) -> None:
    other = other_round()
    cadre = client_for(make_user(role="village_cadre", region=JIANGTAITUN))
    assert_absent(cadre, "/screening/", other.name)
    page = cadre.get("/screening/").content.decode()
    assert gz.round.name in page
    hq = client_for(make_user(role="hq", region="4105"))
    page = hq.get("/screening/").content.decode()
    assert gz.round.name in page and other.name in page
    filtered = hq.get("/screening/", {"region": "伏道镇"}).content.decode()
    assert other.name in filtered and gz.round.name not in filtered
    by_status = hq.get("/screening/", {"status": "planned"}).content.decode()
    assert other.name in by_status and gz.round.name not in by_status
    assert hq.get("/screening/", {"status": "nope", "region": "x" * 500}).status_code == 200
    assert (
        client_for(make_user(role="warehouse_keeper", region=GAOZHUANG))
        .get("/screening/")
        .status_code
        == 403
    )


def test_list_query_count_does_not_grow(gz: Gaozhuang, make_user: Any, client_for: Any) -> None:
    hq = client_for(make_user(role="hq", region="4105"))
    one = count_queries(hq, "/screening/")
    for _ in range(4):
        other_round()
    assert count_queries(hq, "/screening/") == one


# --- planning through the form ----------------------------------------------------------


def test_plan_a_round_through_the_form(regions: Any, make_user: Any, client_for: Any) -> None:
    officer = client_for(make_user(role="township_officer", region=GAOZHUANG))
    response = officer.post(
        "/screening/rounds/new/",
        form_data(
            name="第10輪全員核酸",
            zone_region_1="蔣台屯村",  # traditional characters find 蒋台屯村
            zone_pool_1="1",
            zone_label_1="封控区",
            zone_region_2="４１０５２２１１６２２０",  # full-width digits
            zone_pool_2="0",
            barcode_prefix="ａｙ",
            barcode_length="１２",
        ),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    made = Round.objects.get()
    assert made.name == "第10輪全員核酸"
    assert (made.barcode_prefix, made.barcode_length) == ("AY", 12)
    assert sorted(made.zones.values_list("region_code", "pool_size", "label")) == [
        (GAOZHUANG, 10, "防范区"),
        (JIANGTAITUN, 1, "封控区"),
        (DONGZHENGSI, 0, ""),
    ]
    detail = officer.get(response["Location"]).content.decode()
    assert "蒋台屯村" in detail and "第10輪全員核酸" in detail


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"name": ""}, "name", ""),
        ({"name": "轮" * 10_000}, "name", "100"),
        ({"ends_at": "2020-01-01T07:00"}, "ends_at", ""),
        ({"starts_at": "not a date"}, "starts_at", ""),
        ({"starts_at": "99999-01-01T07:00"}, "starts_at", ""),
        ({"zone_region_0": "410522116299"}, "zone_region_0", "410522116299"),
        ({"zone_region_0": FUDAO_ERJIE}, "zone_region_0", FUDAO_ERJIE),
        ({"zone_region_0": "伏道二街村"}, "zone_region_0", "伏道二街村"),
        ({"zone_region_1": GAOZHUANG}, "zone_region_1", "高庄镇"),
        ({"zone_pool_0": "7"}, "zone_pool_0", "7"),
        ({"zone_region_0": "", "zone_label_0": "封控区"}, "zone_region_0", ""),
        ({"zone_region_0": "", "zone_label_0": ""}, None, ""),
        ({"zone_region_0": "x" * 5000}, "zone_region_0", "100"),
        ({"barcode_length": "3"}, "barcode_length", "4"),
        ({"barcode_prefix": "核酸"}, "barcode_prefix", ""),
        ({"default_pool_size": "7"}, "default_pool_size", "7"),
    ],
)
def test_form_bad_input(
    regions: Any,
    make_user: Any,
    client_for: Any,
    values: dict[str, str],
    field: str | None,
    message: str,
) -> None:
    """Each refused with a message on the field (checked for the value it names, where it
    names one: the messages themselves follow the user's language)."""
    officer = client_for(make_user(role="township_officer", region=GAOZHUANG))
    response = officer.post("/screening/rounds/new/", form_data(**values))
    assert response.status_code == 422
    form = response.context["form"]
    errors = form.errors.get(field or "__all__")
    assert errors, form.errors
    assert any(message in str(e) for e in errors), errors
    assert not Round.objects.exists()


def test_form_rows_follow_what_was_sent(regions: Any, make_user: Any, client_for: Any) -> None:
    officer = client_for(make_user(role="township_officer", region=GAOZHUANG))
    data = form_data(zone_region_7=JIANGTAITUN, zone_pool_7="1", zone_label_9999="x")
    response = officer.post("/screening/rounds/new/", data)
    assert response.status_code == 302
    assert Round.objects.get().zones.count() == 2


def test_edit_a_planned_round(regions: Any, make_user: Any, client_for: Any) -> None:
    officer_user = make_user(role="township_officer", region=GAOZHUANG)
    officer = client_for(officer_user)
    officer.post("/screening/rounds/new/", form_data())
    made = Round.objects.get()
    page = officer.get(f"/screening/rounds/{made.pk}/edit/")
    assert page.status_code == 200
    assert page.context["form"]["zone_region_0"].value() == GAOZHUANG
    response = officer.post(
        f"/screening/rounds/{made.pk}/edit/",
        form_data(name="第10轮(改)", zone_region_0=JIANGTAITUN, zone_pool_0="5"),
    )
    assert response.status_code == 302
    made.refresh_from_db()
    assert made.name == "第10轮(改)"
    assert list(made.zones.values_list("region_code", "pool_size")) == [(JIANGTAITUN, 5)]
    assert made.region_code == JIANGTAITUN


def test_edit_while_sampling_changes_only_name_end_notes(
    gz: Gaozhuang, make_user: Any, client_for: Any
) -> None:
    officer = client_for(make_user(role="township_officer", region=GAOZHUANG))
    later = gz.round.ends_at + dt.timedelta(hours=2)
    response = officer.post(
        f"/screening/rounds/{gz.round.pk}/edit/",
        form_data(
            name="第9轮(延长)",
            ends_at=local(later),
            zone_region_0=FUDAO,
            default_pool_size="20",
            notes="延长两小时",
        ),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    gz.round.refresh_from_db()
    assert gz.round.name == "第9轮(延长)"
    assert local(gz.round.ends_at) == local(later)
    assert gz.round.default_pool_size == 10  # disabled field: the posted value is ignored
    assert gz.round.zones.count() == 3


def test_closed_round_cannot_be_edited(gz: Gaozhuang, make_user: Any, client_for: Any) -> None:
    Round.objects.filter(pk=gz.round.pk).update(status=RoundStatus.CLOSED)
    officer = client_for(make_user(role="township_officer", region=GAOZHUANG))
    assert officer.get(f"/screening/rounds/{gz.round.pk}/edit/").status_code == 302


# --- status changes ---------------------------------------------------------------------


def test_status_buttons(gz: Gaozhuang, make_user: Any, client_for: Any) -> None:
    officer = client_for(make_user(role="township_officer", region=GAOZHUANG))
    base = f"/screening/rounds/{gz.round.pk}"
    tube = sample_into(gz.round, gz.site, "GZV001", gz.jiangtaitun[:2])
    response = officer.post(f"{base}/finish/", follow=True)
    assert "alert-danger" in response.content.decode()
    gz.round.refresh_from_db()
    assert gz.round.status == RoundStatus.SAMPLING
    officer.post(f"{base}/finish/", {"force": "on"})
    gz.round.refresh_from_db()
    tube.refresh_from_db()
    assert gz.round.status == RoundStatus.AWAITING_RESULTS
    assert tube.status == TubeStatus.CLOSED
    officer.post(f"{base}/resume/")
    gz.round.refresh_from_db()
    assert gz.round.status == RoundStatus.SAMPLING
    officer.post(f"{base}/finish/")
    officer.post(f"{base}/close/", {"force": "on"})
    gz.round.refresh_from_db()
    assert gz.round.status == RoundStatus.CLOSED
    detail = officer.get(f"{base}/").content.decode()
    assert 'data-testid="round-edit"' not in detail


def test_start_and_delete_planned(regions: Any, make_user: Any, client_for: Any) -> None:
    officer = client_for(make_user(role="township_officer", region=GAOZHUANG))
    officer.post("/screening/rounds/new/", form_data())
    made = Round.objects.get()
    assert officer.post(f"/screening/rounds/{made.pk}/start/").status_code == 302
    made.refresh_from_db()
    assert made.status == RoundStatus.SAMPLING
    response = officer.post(f"/screening/rounds/{made.pk}/delete/", follow=True)
    assert Round.objects.filter(pk=made.pk).exists()
    assert response.status_code == 200
    officer.post("/screening/rounds/new/", form_data(name="作废轮次"))
    planned = Round.objects.get(name="作废轮次")
    response = officer.post(f"/screening/rounds/{planned.pk}/delete/")
    assert response.status_code == 302 and response["Location"] == "/screening/"
    assert not Round.objects.filter(pk=planned.pk).exists()


# --- detail -----------------------------------------------------------------------------


def test_detail_shows_zones_tubes_and_links(gz: Gaozhuang, make_user: Any, client_for: Any) -> None:
    sample_into(gz.round, gz.site, "GZD001", gz.jiangtaitun[:2])
    sample_into(gz.round, gz.other_site, "GZD002", gz.dongzhengsi[:1])
    cadre = client_for(make_user(role="village_cadre", region=JIANGTAITUN))
    page = cadre.get(f"/screening/rounds/{gz.round.pk}/").content.decode()
    assert "蒋台屯村" in page and "东正寺村" in page  # zones are the round's, not personal
    assert "GZD001" in page and "GZD002" not in page  # tubes: the cadre's sites only
    assert f"/screening/rounds/{gz.round.pk}/coverage/" in page
    assert f"/screening/rounds/{gz.round.pk}/dashboard/" in page
    assert 'data-testid="round-actions"' not in page
    tubes = cadre.get(
        f"/screening/rounds/{gz.round.pk}/",
        {"part": "tubes", "status": "open"},
        HTTP_HX_REQUEST="true",
    )
    assert "GZD001" in tubes.content.decode() and "<html" not in tubes.content.decode()


def test_detail_query_count_does_not_grow(gz: Gaozhuang, make_user: Any, client_for: Any) -> None:
    hq = client_for(make_user(role="hq", region=ANYANG_COUNTY))
    sample_into(gz.round, gz.site, "GZQ000", gz.jiangtaitun[:1])
    url = f"/screening/rounds/{gz.round.pk}/"
    one = count_queries(hq, url)
    for n in range(1, 8):
        sample_into(gz.round, gz.site if n % 2 else gz.other_site, f"GZQ{n:03d}", [])
    assert count_queries(hq, url) == one
    assert count_queries(hq, url, per_page="2", page="3") == one
