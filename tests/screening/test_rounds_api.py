"""Rounds API: list, create, read, patch, delete, start/finish/resume/close, tubes;
access matrix, bad input, query counts."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from fangkong.screening.actions.rounds import ZoneInput, create_round
from fangkong.screening.models import Round, RoundStatus, TubeStatus
from tests.conftest import ANYANG_COUNTY, DONGZHENGSI, FUDAO, FUDAO_ERJIE, GAOZHUANG, JIANGTAITUN
from tests.screening.conftest import Gaozhuang
from tests.screening.rounds_support import API, JSON, patch_json, post_json, sample_into
from tests.support.access import AccessCase, assert_absent, check_access_matrix, count_queries


def payload(**values: Any) -> dict[str, Any]:
    start = timezone.now() + dt.timedelta(days=1)
    data: dict[str, Any] = {
        "name": "第10轮全员核酸",
        "starts_at": start.isoformat(),
        "ends_at": (start + dt.timedelta(hours=5)).isoformat(),
        "zones": [
            {"region_code": GAOZHUANG, "pool_size": 10, "label": "防范区"},
            {"region_code": JIANGTAITUN, "pool_size": 1, "label": "封控区"},
        ],
    }
    data.update(values)
    return data


def fudao_round() -> Round:
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
    "path", ["", "/coverage", "/dashboard", "/tubes", f"/coverage/{JIANGTAITUN}/missing"]
)
def test_read_routes_access_matrix(
    gz: Gaozhuang, make_user: Any, client_for: Any, path: str
) -> None:
    case = AccessCase(
        url=f"{API}/rounds/{gz.round.pk}{path}",
        role="village_cadre",
        region=JIANGTAITUN,
        other_region=FUDAO_ERJIE,
        wrong_role="warehouse_keeper",
        api=True,
    )
    check_access_matrix(case, make_user, client_for, wrong_role_statuses=(404,))


@pytest.mark.parametrize("verb", ["start", "finish", "resume", "close"])
def test_status_routes_access_matrix(
    gz: Gaozhuang, make_user: Any, client_for: Any, verb: str
) -> None:
    case = AccessCase(
        url=f"{API}/rounds/{gz.round.pk}/{verb}",
        role="township_officer",
        region=GAOZHUANG,
        other_region=FUDAO,
        wrong_role="village_cadre",
        method="post",
        data={},
        content_type=JSON,
        api=True,
        allowed_status=(200, 422),
    )
    check_access_matrix(case, make_user, client_for, wrong_role_statuses=(403,))


def test_patch_and_delete_access(gz: Gaozhuang, make_user: Any, client_for: Any) -> None:
    url = f"{API}/rounds/{gz.round.pk}"
    assert client_for(None).patch(url, {}, content_type=JSON).status_code == 401
    cadre = client_for(make_user(role="village_cadre", region=JIANGTAITUN))
    assert patch_json(cadre, url, {"name": "x"}).status_code == 403
    assert cadre.delete(url).status_code == 403
    other = client_for(make_user(role="township_officer", region=FUDAO))
    assert patch_json(other, url, {"name": "x"}).status_code == 404
    assert other.delete(url).status_code == 404
    gz.round.refresh_from_db()
    assert gz.round.name == "第9轮全员核酸"


def test_list_is_scoped_and_filtered(gz: Gaozhuang, make_user: Any, client_for: Any) -> None:
    other = fudao_round()
    cadre = client_for(make_user(role="village_cadre", region=JIANGTAITUN))
    assert_absent(cadre, f"{API}/rounds", other.name)
    body = cadre.get(f"{API}/rounds").json()
    assert [r["id"] for r in body["items"]] == [gz.round.pk]
    hq = client_for(make_user(role="hq", region="4105"))
    assert hq.get(f"{API}/rounds").json()["count"] == 2
    assert [r["id"] for r in hq.get(f"{API}/rounds", {"status": "planned"}).json()["items"]] == [
        other.pk
    ]
    assert [r["id"] for r in hq.get(f"{API}/rounds", {"region": GAOZHUANG}).json()["items"]] == [
        gz.round.pk
    ]
    assert hq.get(f"{API}/rounds", {"status": "nope"}).status_code == 422
    assert hq.get(f"{API}/rounds", {"region": "１２３"}).json()["count"] == 0
    wrong = client_for(make_user(role="warehouse_keeper", region=GAOZHUANG))
    assert wrong.get(f"{API}/rounds").status_code == 403
    assert client_for(None).get(f"{API}/rounds").status_code == 401


def test_list_query_count_does_not_grow(gz: Gaozhuang, make_user: Any, client_for: Any) -> None:
    hq = client_for(make_user(role="hq", region="4105"))
    one = count_queries(hq, f"{API}/rounds")
    for _ in range(5):
        fudao_round()
    assert count_queries(hq, f"{API}/rounds") == one
    assert count_queries(hq, f"{API}/rounds", page_size="2") == one


# --- create and edit --------------------------------------------------------------------


def test_create_read_patch_delete(regions: Any, make_user: Any, client_for: Any) -> None:
    officer = client_for(make_user(role="township_officer", region=GAOZHUANG))
    made = post_json(officer, f"{API}/rounds", payload(barcode_prefix="ay", barcode_length=12))
    assert made.status_code == 201, made.content
    body = made.json()
    assert body["status"] == "planned" and body["region_code"] == GAOZHUANG
    assert body["region_name"] == "高庄镇"
    assert body["barcode_prefix"] == "AY"
    assert {(z["region_code"], z["pool_size"], z["region_name"]) for z in body["zones"]} == {
        (GAOZHUANG, 10, "高庄镇"),
        (JIANGTAITUN, 1, "蒋台屯村"),
    }
    url = f"{API}/rounds/{body['id']}"
    patched = patch_json(
        officer,
        url,
        {"name": "第10轮（改）", "zones": [{"region_code": DONGZHENGSI, "pool_size": 0}]},
    )
    assert patched.status_code == 200, patched.content
    assert patched.json()["name"] == "第10轮(改)"
    assert patched.json()["region_code"] == DONGZHENGSI
    assert officer.get(url).json()["zones"] == [
        {"region_code": DONGZHENGSI, "region_name": "东正寺村", "pool_size": 0, "label": ""}
    ]
    assert officer.delete(url).status_code == 204
    assert officer.get(url).status_code == 404


def test_life_through_the_api(gz: Gaozhuang, make_user: Any, client_for: Any) -> None:
    officer = client_for(make_user(role="township_officer", region=GAOZHUANG))
    url = f"{API}/rounds/{gz.round.pk}"
    sample_into(gz.round, gz.site, "GZA001", gz.jiangtaitun[:3])
    refused = post_json(officer, f"{url}/finish", {})
    assert refused.status_code == 422
    assert refused.json()["code"] == "invalid"
    assert post_json(officer, f"{url}/finish?force=true", {}).json()["status"] == "awaiting"
    assert post_json(officer, f"{url}/resume", {}).json()["status"] == "sampling"
    nobody = officer.post(f"{url}/finish")  # no body at all
    assert nobody.status_code == 200, nobody.content
    assert nobody.json()["status"] == "awaiting"
    assert post_json(officer, f"{url}/close", {}).status_code == 422
    closed = post_json(officer, f"{url}/close?force=true", {}).json()
    assert closed["status"] == "closed" and closed["closed_at"]
    assert post_json(officer, f"{url}/start", {}).status_code == 422
    assert patch_json(officer, url, {"name": "x"}).status_code == 422
    assert officer.delete(url).status_code == 422
    gz.round.refresh_from_db()
    assert gz.round.status == RoundStatus.CLOSED


def test_patch_running_round(gz: Gaozhuang, make_user: Any, client_for: Any) -> None:
    officer = client_for(make_user(role="township_officer", region=GAOZHUANG))
    url = f"{API}/rounds/{gz.round.pk}"
    later = gz.round.ends_at + dt.timedelta(hours=1)
    ok = patch_json(officer, url, {"ends_at": later.isoformat(), "notes": "延长"})
    assert ok.status_code == 200, ok.content
    frozen = patch_json(officer, url, {"default_pool_size": 20})
    assert frozen.status_code == 422
    assert "default_pool_size" in frozen.json()["fields"]
    assert patch_json(officer, url, {"name": None}).status_code == 422


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "轮" * 5000}, "name"),
        ({"name": 123}, "name"),
        ({"ends_at": "2020-01-01T00:00:00+08:00"}, "ends_at"),
        ({"starts_at": "yesterday"}, "starts_at"),
        ({"zones": []}, "zones"),
        ({"zones": [{"region_code": JIANGTAITUN, "pool_size": 7}]}, "zones.0.pool_size"),
        ({"zones": [{"region_code": JIANGTAITUN, "pool_size": "10"}]}, "zones.0.pool_size"),
        ({"zones": [{"region_code": "410522116299", "pool_size": 10}]}, "zones.0.region_code"),
        ({"zones": [{"region_code": FUDAO_ERJIE, "pool_size": 10}]}, "zones.0.region_code"),
        ({"zones": [{"region_code": "高庄镇", "pool_size": 10}]}, "zones.0.region_code"),
        (
            {
                "zones": [
                    {"region_code": JIANGTAITUN, "pool_size": 10},
                    {"region_code": "４１０５２２１１６２１５", "pool_size": 1},
                ]
            },
            "zones.1.region_code",
        ),
        ({"zones": [{"region_code": JIANGTAITUN}]}, "zones.0.pool_size"),
        ({"zones": "410522116"}, "zones"),
        ({"default_pool_size": 7}, "default_pool_size"),
        ({"barcode_length": 100}, "barcode_length"),
        ({"barcode_length": "12"}, "barcode_length"),
    ],
)
def test_create_bad_input(
    regions: Any, make_user: Any, client_for: Any, values: dict[str, Any], field: str
) -> None:
    officer = client_for(make_user(role="township_officer", region=GAOZHUANG))
    response = post_json(officer, f"{API}/rounds", payload(**values))
    assert response.status_code == 422, response.content
    assert field in response.json()["fields"], response.json()
    assert not Round.objects.exists()


def test_create_accepts_full_width_and_traditional(
    regions: Any, make_user: Any, client_for: Any
) -> None:
    officer = client_for(make_user(role="township_officer", region=GAOZHUANG))
    response = post_json(
        officer,
        f"{API}/rounds",
        payload(
            name="第１０輪全員核酸",
            zones=[{"region_code": "４１０５２２１１６２１５", "pool_size": 1, "label": "封控區"}],
        ),
    )
    assert response.status_code == 201, response.content
    assert response.json()["name"] == "第10輪全員核酸"
    assert response.json()["zones"][0]["region_code"] == JIANGTAITUN


def test_create_needs_the_role(regions: Any, make_user: Any, client_for: Any) -> None:
    cadre = client_for(make_user(role="village_cadre", region=JIANGTAITUN))
    assert post_json(cadre, f"{API}/rounds", payload()).status_code == 403
    assert post_json(client_for(None), f"{API}/rounds", payload()).status_code == 401
    assert client_for(make_user(role="hq", region=ANYANG_COUNTY)).post(
        f"{API}/rounds", "not json", content_type=JSON
    ).status_code in (400, 422)


def test_unknown_ids(gz: Gaozhuang, make_user: Any, client_for: Any) -> None:
    hq = client_for(make_user(role="hq", region=ANYANG_COUNTY))
    for rid in ("0", "-1", "999999", str(2**64)):
        assert hq.get(f"{API}/rounds/{rid}").status_code in (404, 422), rid


# --- tubes ------------------------------------------------------------------------------


def test_tubes_scoped_filtered_and_pinned(gz: Gaozhuang, make_user: Any, client_for: Any) -> None:
    sample_into(gz.round, gz.site, "GZT001", gz.jiangtaitun[:2])
    sample_into(gz.round, gz.other_site, "GZT002", gz.dongzhengsi[:1])
    cadre = client_for(make_user(role="village_cadre", region=JIANGTAITUN))
    url = f"{API}/rounds/{gz.round.pk}/tubes"
    body = cadre.get(url).json()
    assert [(t["barcode"], t["member_count"], t["site_name"]) for t in body["items"]] == [
        ("GZT001", 2, "蒋台屯村核酸采样点")
    ]
    hq = client_for(make_user(role="hq", region=ANYANG_COUNTY))
    assert hq.get(url).json()["count"] == 2
    assert hq.get(url, {"barcode": "ｇｚｔ００２"}).json()["items"][0]["barcode"] == "GZT002"
    # 东正寺村 is sealed (1 per tube): its tube closed itself when full.
    assert hq.get(url, {"status": TubeStatus.CLOSED}).json()["count"] == 1
    assert hq.get(url, {"status": TubeStatus.RESULTED}).json()["count"] == 0
    assert hq.get(url, {"status": "bogus"}).status_code == 422
    one = count_queries(hq, url)
    for n in range(3, 9):
        sample_into(gz.round, gz.site, f"GZT{n:03d}", [])
    assert count_queries(hq, url) == one
