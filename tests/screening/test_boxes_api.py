"""API: transport boxes and handovers under /api/v1/screening."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from fangkong.accounts.roles import Role
from fangkong.core.models import AccessLogEntry
from fangkong.screening.actions import boxes as actions
from fangkong.screening.models import Box, Handover, Tube
from tests.conftest import DONGZHENGSI, JIANGTAITUN
from tests.screening.conftest import Gaozhuang
from tests.screening.station_support import packed_box, sampled_tube
from tests.support.access import AccessCase, check_access_matrix

pytestmark = pytest.mark.django_db

API = "/api/v1/screening"
JSON = "application/json"


@pytest.fixture
def tubes(gz: Gaozhuang) -> list[Tube]:
    people = gz.jiangtaitun
    return [
        sampled_tube(gz.round, gz.site, "GZA001", people[0:3]),
        sampled_tube(gz.round, gz.site, "GZA002", people[3:6]),
    ]


@pytest.fixture
def api(make_user: Any, client_for: Any) -> Any:
    client = client_for(make_user("sampler", role=Role.SAMPLER, region=JIANGTAITUN))

    def call(method: str, path: str, body: Any = None, **params: Any) -> Any:
        function = getattr(client, method)
        if method == "get":
            return function(f"{API}{path}", params)
        data = json.dumps(body) if body is not None else "{}"
        return function(f"{API}{path}", data, content_type=JSON)

    return call


def matrix(make_user: Any, client_for: Any, url: str, method: str, data: Any = None) -> Any:
    return check_access_matrix(
        AccessCase(
            url=url,
            role=Role.SAMPLER,
            region=JIANGTAITUN,
            other_region=DONGZHENGSI,
            wrong_role=Role.INSPECTOR,
            method=method,
            data=data or {},
            api=True,
            content_type=JSON if method != "get" else None,
            allowed_status=(200, 201),
        ),
        make_user,
        client_for,
        wrong_role_statuses=(403,),
    )


# ----------------------------------------------------------------------------- access


def test_create_box_access(gz: Gaozhuang, make_user: Any, client_for: Any) -> None:
    results = matrix(
        make_user,
        client_for,
        f"{API}/boxes",
        "post",
        {"round_id": gz.round.pk, "site_id": gz.site.pk, "barcode": "]C1box-01"},
    )
    body = results["allowed"].json()
    assert results["allowed"].status_code == 201
    assert body["barcode"] == "BOX-01" and body["status"] == "packing" and body["tubes"] == []


def test_box_tube_routes_access(
    gz: Gaozhuang, tubes: list[Tube], make_user: Any, client_for: Any
) -> None:
    box = actions.create_box(actor=None, round_=gz.round, site=gz.site, barcode="BOX-02")
    results = matrix(
        make_user, client_for, f"{API}/boxes/{box.pk}/tubes", "post", {"tube": "GZA001"}
    )
    assert results["allowed"].json()["tube_count"] == 1
    assert [t["barcode"] for t in results["allowed"].json()["tubes"]] == ["GZA001"]
    results = matrix(
        make_user, client_for, f"{API}/boxes/{box.pk}/remove", "post", {"tube": "GZA001"}
    )
    assert results["allowed"].json()["tube_count"] == 0
    actions.add_tube(actor=None, box=box, tube_barcode="GZA002")
    results = matrix(make_user, client_for, f"{API}/boxes/{box.pk}/tubes/GZA002", "delete")
    assert results["allowed"].json()["tubes"] == []


def test_get_box_reads_for_inspectors(
    gz: Gaozhuang, tubes: list[Tube], make_user: Any, client_for: Any
) -> None:
    box = packed_box(gz.round, gz.site, "BOX-03", tubes)
    results = check_access_matrix(
        AccessCase(
            url=f"{API}/boxes/{box.pk}",
            role=Role.INSPECTOR,
            region=JIANGTAITUN,
            other_region=DONGZHENGSI,
            wrong_role=Role.WAREHOUSE_KEEPER,
            api=True,
        ),
        make_user,
        client_for,
        wrong_role_statuses=(403,),
    )
    assert results["allowed"].json()["tube_count"] == 2


def test_create_handover_access(
    gz: Gaozhuang, tubes: list[Tube], make_user: Any, client_for: Any
) -> None:
    box = packed_box(gz.round, gz.site, "BOX-04", tubes)
    results = matrix(
        make_user,
        client_for,
        f"{API}/handovers",
        "post",
        {
            "boxes": [box.pk],
            "lab_name": "县医院检验科",
            "courier_name": "李师傅",
            "courier_phone": "13800138000",
        },
    )
    body = results["allowed"].json()
    assert body["box_count"] == 1 and body["tube_count"] == 2
    assert body["courier_phone"] == "138****8000"
    assert body["site_name"] == gz.site.name and body["round_name"] == gz.round.name
    assert [b["barcode"] for b in body["boxes"]] == ["BOX-04"]
    assert set(Tube.objects.values_list("status", flat=True)) == {"transit"}


@pytest.fixture
def handover(gz: Gaozhuang, tubes: list[Tube]) -> Handover:
    box = packed_box(gz.round, gz.site, "BOX-05", tubes)
    return actions.hand_over(
        actor=None,
        boxes=[box],
        lab_name="安阳县人民医院",
        courier_name="李师傅",
        courier_phone="13800138000",
    )


def test_handover_reads_access(handover: Handover, make_user: Any, client_for: Any) -> None:
    results = check_access_matrix(
        AccessCase(
            url=f"{API}/handovers/{handover.pk}",
            role=Role.INSPECTOR,
            region=JIANGTAITUN,
            other_region=DONGZHENGSI,
            wrong_role=Role.WAREHOUSE_KEEPER,
            api=True,
        ),
        make_user,
        client_for,
        wrong_role_statuses=(403,),
    )
    body = results["allowed"].json()
    assert body["courier_phone"] == "138****8000"
    assert body["boxes"][0]["tubes"][0]["barcode"] == "GZA001"


def test_handover_list_is_scoped_and_pinned(
    gz: Gaozhuang, handover: Handover, make_user: Any, client_for: Any
) -> None:
    assert client_for(None).get(f"{API}/handovers").status_code == 401
    keeper = client_for(make_user(role=Role.WAREHOUSE_KEEPER, region=JIANGTAITUN))
    assert keeper.get(f"{API}/handovers").status_code == 403
    outsider = client_for(make_user(role=Role.SAMPLER, region=DONGZHENGSI))
    body = outsider.get(f"{API}/handovers").json()
    assert body["count"] == 0 and body["items"] == []
    inspector = client_for(make_user(role=Role.INSPECTOR, region=JIANGTAITUN))
    body = inspector.get(f"{API}/handovers").json()
    assert body["count"] == 1 and body["items"][0]["lab_name"] == "安阳县人民医院"
    assert body["items"][0]["courier_phone"] == "138****8000"

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert inspector.get(f"{API}/handovers", {"page_size": 100}).status_code == 200
        return len(ctx.captured_queries)

    before = queries()
    people = [gz.jiangtaitun[6], gz.jiangtaitun[7], *gz.dongzhengsi]
    for n, person in enumerate(people):
        box = packed_box(
            gz.round, gz.site, f"BOX-L{n}", [sampled_tube(gz.round, gz.site, f"GZL{n}", [person])]
        )
        actions.hand_over(
            actor=None,
            boxes=[box],
            lab_name=f"实验室{n}",
            courier_name="王",
            courier_phone="13900139000",
        )
    assert queries() == before
    body = inspector.get(f"{API}/handovers", {"round_id": gz.round.pk}).json()
    assert body["count"] == 5
    assert inspector.get(f"{API}/handovers", {"round_id": 2**70}).status_code in (200, 422)
    assert inspector.get(f"{API}/handovers", {"round_id": "abc"}).status_code == 422
    assert inspector.get(f"{API}/handovers", {"page_size": 10_000}).status_code == 422


def test_reveal_courier_phone(handover: Handover, make_user: Any, client_for: Any) -> None:
    url = f"{API}/handovers/{handover.pk}/reveal"
    assert client_for(None).post(url).status_code == 401
    inspector = client_for(make_user(role=Role.INSPECTOR, region=JIANGTAITUN))
    assert inspector.post(url).status_code == 403
    outsider = client_for(make_user(role=Role.VILLAGE_CADRE, region=DONGZHENGSI))
    assert outsider.post(url).status_code == 404
    cadre = client_for(make_user(role=Role.VILLAGE_CADRE, region=JIANGTAITUN))
    assert cadre.post(url).json() == {"courier_phone": "13800138000"}
    assert AccessLogEntry.objects.get().detail == "api"


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"round_id": "1"}, 422),
        ({"round_id": 1.5}, 422),
        ({"round_id": None}, 422),
        ({"site_id": True}, 422),
        ({"barcode": 12}, 422),
        ({"barcode": None}, 422),
        ({"round_id": 2**70}, 404),
        ({"round_id": -1}, 404),
        ({"site_id": 0}, 404),
    ],
)
def test_create_box_wrong_types(
    gz: Gaozhuang, api: Any, change: dict[str, Any], status: int
) -> None:
    payload = {"round_id": gz.round.pk, "site_id": gz.site.pk, "barcode": "B1", **change}
    response = api("post", "/boxes", payload)
    assert response.status_code == status, response.content
    assert api("post", "/boxes", {}).status_code == 422
    assert not Box.objects.exists()


@pytest.mark.parametrize(
    ("barcode", "code"),
    [("", "required"), ("箱" * 3, "invalid"), ("B" * 33, "max_length"), ("\x00\x1d", "required")],
)
def test_create_box_bad_codes(gz: Gaozhuang, api: Any, barcode: str, code: str) -> None:
    response = api(
        "post", "/boxes", {"round_id": gz.round.pk, "site_id": gz.site.pk, "barcode": barcode}
    )
    assert response.status_code == 422
    assert list(response.json()["fields"]) == ["barcode"]


def test_duplicate_box_code_and_full_width(gz: Gaozhuang, api: Any) -> None:
    body = {"round_id": gz.round.pk, "site_id": gz.site.pk, "barcode": "ＢＯＸ０１"}
    assert api("post", "/boxes", body).json()["barcode"] == "BOX01"
    response = api("post", "/boxes", {**body, "barcode": "box01"})
    assert response.status_code == 422
    assert "barcode" in response.json()["fields"]
    response = api("post", "/boxes", {**body, "site_id": gz.other_site.pk})
    assert response.status_code == 404  # not their site


def test_add_tube_bad_input(gz: Gaozhuang, tubes: list[Tube], api: Any) -> None:
    box = actions.create_box(actor=None, round_=gz.round, site=gz.site, barcode="BOX-06")
    open_tube = sampled_tube(gz.round, gz.site, "GZA003", gz.jiangtaitun[6:7], close=False)
    for body in ({}, {"tube": 12}, {"tube": None}, {"tube": ["GZA001"]}):
        assert api("post", f"/boxes/{box.pk}/tubes", body).status_code == 422
    for tube in ("", "NOSUCH", open_tube.barcode, "Ｇ" * 40, "GZA-00:1"):
        response = api("post", f"/boxes/{box.pk}/tubes", {"tube": tube})
        assert response.status_code == 422, tube
        assert "tube" in response.json()["fields"]
    # Scanner noise (control characters, AIM prefix, full width) is dropped.
    assert (
        api("post", f"/boxes/{box.pk}/tubes", {"tube": "]C1ｇｚａ\x00００１\r"}).status_code == 200
    )
    assert api("post", f"/boxes/{box.pk}/tubes", {"tube": "GZA001"}).status_code == 422
    assert api("post", f"/boxes/{2**70}/tubes", {"tube": "GZA002"}).status_code == 404
    assert api("post", "/boxes/abc/tubes", {"tube": "GZA002"}).status_code == 422
    assert api("post", f"/boxes/{box.pk}/remove", {"tube": "GZA002"}).status_code == 422
    assert api("delete", f"/boxes/{box.pk}/tubes/NOSUCH").status_code == 422


def test_handover_bad_input(gz: Gaozhuang, tubes: list[Tube], api: Any) -> None:
    box = packed_box(gz.round, gz.site, "BOX-07", tubes[:1])
    empty = actions.create_box(actor=None, round_=gz.round, site=gz.site, barcode="BOX-08")
    good = {
        "boxes": [box.pk],
        "lab_name": "县医院",
        "courier_name": "李师傅",
        "courier_phone": "13800138000",
    }
    cases: list[tuple[dict[str, Any], int]] = [
        ({"boxes": []}, 422),
        ({"boxes": [empty.pk]}, 422),
        ({"boxes": [box.pk, empty.pk]}, 422),
        ({"boxes": ["1"]}, 422),
        ({"boxes": "1"}, 422),
        ({"boxes": [2**70]}, 404),
        ({"boxes": [box.pk + 1000]}, 404),
        ({"lab_name": ""}, 422),
        ({"lab_name": 5}, 422),
        ({"courier_name": "李" * 65}, 422),
        ({"courier_phone": "１２３"}, 422),
        ({"courier_phone": ""}, 422),
        ({"handed_at": "not a time"}, 422),
        ({"handed_at": "2099-01-01T08:00:00+08:00"}, 422),
        ({"lab_name": "县\x00医院"}, 422),
    ]
    for change, status in cases:
        response = api("post", "/handovers", {**good, **change})
        assert response.status_code == status, (change, response.content)
    assert not Handover.objects.exists()
    response = api("post", "/handovers", {**good, "courier_phone": "１３８ ００１３ ８０００"})
    assert response.status_code == 201
    assert Handover.objects.get().courier_phone == "13800138000"
    # Handed over already: a second handover of the same box is refused.
    assert api("post", "/handovers", good).status_code == 422


def test_tube_from_another_round(gz: Gaozhuang, tubes: list[Tube], api: Any) -> None:
    import datetime as dt

    from django.utils import timezone

    from fangkong.screening.actions.rounds import ZoneInput, create_round, start_sampling
    from tests.conftest import GAOZHUANG

    other = start_sampling(
        actor=None,
        round_=create_round(
            actor=None,
            name="第10轮",
            starts_at=timezone.now(),
            ends_at=timezone.now() + dt.timedelta(hours=4),
            zones=[ZoneInput(GAOZHUANG, 10)],
        ),
    )
    response = api("post", "/boxes", {"round_id": other.pk, "site_id": gz.site.pk, "barcode": "B9"})
    box_id = response.json()["id"]
    response = api("post", f"/boxes/{box_id}/tubes", {"tube": "GZA001"})
    assert response.status_code == 422
    assert (
        "another round" in response.json()["fields"]["tube"][0]
        or "第9轮" in response.json()["fields"]["tube"][0]
    )
