"""Delivery run pages and API: the flow, the access matrix, the village's view, masking,
bad input, query-count pins."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import timezone, translation

from fangkong.core.models import AccessLogEntry
from fangkong.supplies.actions import runs as actions
from fangkong.supplies.models import DeliveryRun, RunStatus, StopStatus
from tests.conftest import FUDAO, FUDAO_ERJIE, GAOZHUANG, JIANGTAITUN
from tests.supplies.requests_runs_fixtures import World, night_departure, on_hand
from tests.supplies.requests_runs_fixtures import world as world
from tests.supplies.test_runs import plan_two_villages
from tests.support.access import (
    AccessCase,
    assert_absent,
    assert_present,
    check_access_matrix,
    count_queries,
)


@pytest.fixture(autouse=True)
def _english(settings: Any) -> Iterator[None]:
    """These tests read messages in English (the catalogue test checks the Chinese)."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


API = "/api/v1/supplies"
JSON = "application/json"


def _post(client: Any, url: str, data: dict[str, Any]) -> Any:
    return client.post(url, data, content_type=JSON)


def test_pages_flow(world: World, client_for: Any) -> None:
    w = world
    s = w.stock
    keeper = client_for(w.keeper)
    assert keeper.get("/supplies/runs/new/").status_code == 200
    departure = timezone.localtime(night_departure()).strftime("%Y-%m-%dT%H:%M")
    bad = keeper.post(
        "/supplies/runs/new/",
        {
            "origin": w.depot.pk,
            "vehicle_plate": "豫EO1234",
            "driver_name": "王师傅",
            "departure_at": departure,
        },
    )
    assert bad.status_code == 200 and "invalid-feedback" in bad.content.decode()
    made = keeper.post(
        "/supplies/runs/new/",
        {
            "origin": w.depot.pk,
            "vehicle_plate": "豫e·12345",
            "driver_name": "王师傅",
            "driver_phone": "13800138000",
            "departure_at": departure,
        },
    )
    assert made.status_code == 302
    run = DeliveryRun.objects.get()
    detail = f"/supplies/runs/{run.pk}/"
    page = keeper.get(detail).content.decode()
    assert "豫E·12345" in page and "138****8000" in page and "13800138000" not in page

    stop = keeper.post(
        f"{detail}stops/",
        {
            "destination": w.village.pk,
            "item_0": s.suits.pk,
            "quantity_0": "4 箱",
            "item_1": s.masks.pk,
            "quantity_1": "400",
        },
    )
    assert stop.status_code == 302
    over = keeper.post(
        f"{detail}stops/",
        {"destination": w.village2.pk, "item_0": s.flour.pk, "quantity_0": "-1"},
    )
    assert over.status_code == 422
    keeper.post(
        f"{detail}stops/", {"destination": w.village2.pk, "item_0": s.flour.pk, "quantity_0": "100"}
    )
    assert run.stops.count() == 2
    assert keeper.post(f"{detail}dispatch/").status_code == 302
    run.refresh_from_db()
    assert run.status == RunStatus.DISPATCHED
    assert on_hand(w.depot, s.suits) == 1300

    cadre = client_for(w.cadre)
    stop1 = run.stops.get(sequence=1)
    confirm_url = f"{detail}stops/{stop1.pk}/confirm/"
    form = cadre.get(confirm_url)
    assert form.status_code == 200 and 'value="200"' in form.content.decode()
    masks_line = stop1.lines.get(item=s.masks)
    suits_line = stop1.lines.get(item=s.suits)
    too_many = cadre.post(
        confirm_url,
        {
            f"delivered_{suits_line.pk}": "201",
            f"delivered_{masks_line.pk}": "400",
            "receiver_name": "李支书",
        },
    )
    assert too_many.status_code == 422 and "200" in too_many.content.decode()
    ok = cadre.post(
        confirm_url,
        {
            f"delivered_{suits_line.pk}": "4箱",
            f"delivered_{masks_line.pk}": "３５０",
            "receiver_name": "李支书",
        },
    )
    assert ok.status_code == 302
    twice = cadre.post(
        confirm_url,
        {
            f"delivered_{suits_line.pk}": "200",
            f"delivered_{masks_line.pk}": "350",
            "receiver_name": "李支书",
        },
    )
    assert twice.status_code == 422 and "cannot be confirmed" in twice.content.decode()
    assert on_hand(w.village, s.masks) == 350

    # The village sees its own stop, not 侯庄's.
    village_view = cadre.get(detail).content.decode()
    assert "伏道二街村物资点" in village_view and "侯庄村物资点" not in village_view

    complete = keeper.get(f"{detail}complete/")
    assert complete.status_code == 200
    assert keeper.post(f"{detail}complete/", {"disposition": "lost", "note": ""}).status_code == 422
    assert keeper.post(f"{detail}complete/", {"disposition": "return"}).status_code == 302
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED
    assert run.stops.get(sequence=2).status == StopStatus.SKIPPED
    assert on_hand(w.depot, s.masks) == 1650 and on_hand(w.depot, s.flour) == 500

    sheet = keeper.get(f"{detail}sheet/").content.decode()
    assert "李支书" in sheet and "豫E·12345" in sheet and "13800138000" not in sheet


def test_reveal_driver_phone_is_logged(world: World, client_for: Any) -> None:
    w = world
    run = plan_two_villages(w)
    officer = client_for(w.officer)
    shown = officer.post(f"/supplies/runs/{run.pk}/reveal/")
    assert shown.status_code == 200 and "13800138000" in shown.content.decode()
    api = _post(officer, f"{API}/runs/{run.pk}/reveal", {})
    assert api.json()["driver_phone"] == "13800138000"
    assert AccessLogEntry.objects.filter(object_type="supplies.deliveryrun").count() == 2
    keeper = client_for(w.keeper)  # warehouse keepers reveal nothing
    assert keeper.post(f"/supplies/runs/{run.pk}/reveal/").status_code == 403
    assert _post(keeper, f"{API}/runs/{run.pk}/reveal", {}).status_code == 403
    assert keeper.get(f"{API}/runs/{run.pk}").json()["driver_phone"] == "138****8000"


def test_cancel_from_page(world: World, client_for: Any) -> None:
    w = world
    run = plan_two_villages(w)
    keeper = client_for(w.keeper)
    assert keeper.post(f"/supplies/runs/{run.pk}/cancel/", {"note": "改期"}).status_code == 302
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED
    assert on_hand(w.depot, w.stock.suits) == 1500


def test_page_access_matrix(world: World, make_user: Any, client_for: Any) -> None:
    w = world
    run = plan_two_villages(w)
    dispatched = actions.dispatch_run(plan_two_villages(w), actor=w.keeper)
    stop1 = dispatched.stops.get(sequence=1)
    for url in (f"/supplies/runs/{run.pk}/", f"/supplies/runs/{run.pk}/sheet/"):
        # A village cadre of the stop sees the run; another county's does not.
        check_access_matrix(
            AccessCase(url, "village_cadre", FUDAO_ERJIE, JIANGTAITUN, None), make_user, client_for
        )
    check_access_matrix(
        AccessCase(
            f"/supplies/runs/{run.pk}/dispatch/",
            "warehouse_keeper",
            FUDAO,
            GAOZHUANG,
            "village_cadre",
            method="post",
            allowed_status=(302,),
        ),
        make_user,
        client_for,
    )
    run.refresh_from_db()
    assert run.status == RunStatus.DISPATCHED
    check_access_matrix(
        AccessCase(
            f"/supplies/runs/{dispatched.pk}/stops/{stop1.pk}/confirm/",
            "village_cadre",
            FUDAO_ERJIE,
            JIANGTAITUN,
            "inspector",
        ),
        make_user,
        client_for,
    )
    check_access_matrix(
        AccessCase(
            f"/supplies/runs/{dispatched.pk}/complete/",
            "township_officer",
            FUDAO,
            GAOZHUANG,
            "village_cadre",
        ),
        make_user,
        client_for,
    )
    # The plan form: a role that never plans gets 403 (a form has no record to hide).
    assert (
        client_for(make_user(role="village_cadre", region=FUDAO_ERJIE))
        .get("/supplies/runs/new/")
        .status_code
        == 403
    )
    # The neighbouring village cannot confirm 伏道二街's stop (it cannot even see it).
    cadre2 = client_for(w.cadre2)
    assert cadre2.get(f"/supplies/runs/{dispatched.pk}/stops/{stop1.pk}/confirm/").status_code in (
        403,
        404,
    )
    assert_absent(client_for(w.outsider), "/supplies/runs/", dispatched.number)
    assert_present(client_for(w.cadre), "/supplies/runs/", dispatched.number)


def test_village_sees_only_runs_stopping_there(world: World, client_for: Any) -> None:
    w = world
    s = w.stock
    to_houzhuang = plan_two_villages(
        w,
        stops=[
            actions.StopInput(
                destination=w.village2,
                lines=[actions.StopLineInput(item=s.flour, lot=s.lot(s.flour), quantity=5)],
            )
        ],
    )
    both = plan_two_villages(w)
    cadre = client_for(w.cadre)
    assert_absent(cadre, "/supplies/runs/", to_houzhuang.number)
    assert_present(cadre, "/supplies/runs/", both.number)
    assert_absent(cadre, f"{API}/runs", to_houzhuang.number)
    listed = cadre.get(f"{API}/runs").json()["items"]
    assert [len(r["stops"]) for r in listed] == [1]  # only its own stop of the shared run
    assert cadre.get(f"{API}/runs/{to_houzhuang.pk}").status_code == 404
    assert cadre.get(f"/supplies/runs/{to_houzhuang.pk}/").status_code == 404


def test_api_flow_and_bad_inputs(world: World, client_for: Any) -> None:
    w = world
    s = w.stock
    keeper = client_for(w.keeper)
    payload = {
        "origin_id": w.depot.pk,
        "vehicle_plate": "豫E12345D",
        "driver_name": "王师傅",
        "driver_phone": "13800138000",
        "departure_at": night_departure().isoformat(),
        "stops": [
            {
                "destination_id": w.village.pk,
                "lines": [{"item_id": s.suits.pk, "quantity": "4 箱"}],
            },
        ],
    }
    for change in (
        {"vehicle_plate": "豫E1234O"},
        {"vehicle_plate": "=cmd|' /C calc'!A0"},
        {"driver_name": ""},
        {"departure_at": "2021-01-01T02:30:00+08:00"},
        {"departure_at": "not a time"},
        {"origin_id": 10**20},
        {"origin_id": w.stock.testing_site.pk},
        {
            "stops": [
                {
                    "destination_id": w.village.pk,
                    "lines": [{"item_id": s.suits.pk, "quantity": 2.5}],
                }
            ]
        },
        {
            "stops": [
                {"destination_id": w.village.pk, "lines": [{"item_id": s.suits.pk, "quantity": -2}]}
            ]
        },
        {
            "stops": [
                {"destination_id": w.village.pk, "lines": [{"item_id": s.tubes.pk, "quantity": 2}]}
            ]
        },
        {"stops": [{"destination_id": 10**20, "lines": [{"item_id": s.suits.pk, "quantity": 2}]}]},
        {
            "stops": [
                {
                    "destination_id": w.village.pk,
                    "lines": [{"item_id": s.suits.pk, "quantity": 2, "request_line_id": 10**20}],
                }
            ]
        },
    ):
        response = _post(keeper, f"{API}/runs", {**payload, **change})
        assert response.status_code in (404, 422), (change, response.status_code, response.content)
    assert DeliveryRun.objects.count() == 0
    made = _post(keeper, f"{API}/runs", payload)
    assert made.status_code == 201, made.content
    run = made.json()
    assert run["vehicle_plate"] == "豫E12345D" and run["driver_phone"] == "138****8000"
    added = _post(
        keeper,
        f"{API}/runs/{run['id']}/stops",
        {"destination_id": w.village2.pk, "lines": [{"item_id": s.flour.pk, "quantity": 100}]},
    )
    assert added.status_code == 201 and len(added.json()["stops"]) == 2
    dispatched = _post(keeper, f"{API}/runs/{run['id']}/dispatch", {})
    assert dispatched.json()["status"] == "dispatched"
    assert _post(keeper, f"{API}/runs/{run['id']}/dispatch", {}).status_code == 422
    stops = dispatched.json()["stops"]
    cadre = client_for(w.cadre)
    line_id = stops[0]["lines"][0]["id"]
    for delivered in (
        [{"line_id": line_id, "quantity": 201}],
        [{"line_id": line_id, "quantity": -1}],
        [{"line_id": line_id, "quantity": 1}, {"line_id": line_id, "quantity": 1}],
    ):
        bad = _post(
            cadre,
            f"{API}/runs/{run['id']}/stops/{stops[0]['id']}/confirm",
            {"receiver_name": "李支书", "delivered": delivered},
        )
        assert bad.status_code == 422, delivered
    confirmed = _post(
        cadre,
        f"{API}/runs/{run['id']}/stops/{stops[0]['id']}/confirm",
        {"receiver_name": "李支书", "delivered": [{"line_id": line_id, "quantity": 180}]},
    )
    assert confirmed.status_code == 200, confirmed.content
    line = confirmed.json()["stops"][0]["lines"][0]
    assert (line["delivered"], line["shortfall"]) == (180, 20)
    again = _post(
        cadre, f"{API}/runs/{run['id']}/stops/{stops[0]['id']}/confirm", {"receiver_name": "李支书"}
    )
    assert again.status_code == 422
    assert _post(keeper, f"{API}/runs/{run['id']}/cancel", {}).status_code == 422
    done = _post(keeper, f"{API}/runs/{run['id']}/complete", {"disposition": "return"})
    assert done.json()["status"] == "completed"
    assert on_hand(w.depot, s.suits) == 1320 and on_hand(w.depot, s.flour) == 500


def test_api_access_matrix(world: World, make_user: Any, client_for: Any) -> None:
    w = world
    planned = plan_two_villages(w)
    planned2 = plan_two_villages(w)
    dispatched = actions.dispatch_run(plan_two_villages(w), actor=w.keeper)
    stop1 = dispatched.stops.get(sequence=1)
    cases = [
        AccessCase(
            f"{API}/runs/{planned.pk}", "village_cadre", FUDAO_ERJIE, JIANGTAITUN, None, api=True
        ),
        AccessCase(
            f"{API}/runs/{planned.pk}/dispatch",
            "warehouse_keeper",
            FUDAO,
            GAOZHUANG,
            "village_cadre",
            method="post",
            content_type=JSON,
            api=True,
        ),
        AccessCase(
            f"{API}/runs/{planned2.pk}/cancel",
            "township_officer",
            FUDAO,
            GAOZHUANG,
            "village_cadre",
            method="post",
            content_type=JSON,
            api=True,
        ),
        AccessCase(
            f"{API}/runs/{dispatched.pk}/stops/{stop1.pk}/confirm",
            "village_cadre",
            FUDAO_ERJIE,
            JIANGTAITUN,
            "inspector",
            method="post",
            data={"receiver_name": "李支书"},
            content_type=JSON,
            api=True,
        ),
        AccessCase(
            f"{API}/runs/{dispatched.pk}/complete",
            "warehouse_keeper",
            FUDAO,
            GAOZHUANG,
            "village_cadre",
            method="post",
            data={},
            content_type=JSON,
            api=True,
        ),
        AccessCase(
            f"{API}/runs",
            "warehouse_keeper",
            FUDAO,
            GAOZHUANG,
            "village_cadre",
            method="post",
            data={
                "origin_id": w.depot.pk,
                "vehicle_plate": "豫E12345",
                "driver_name": "王",
                "departure_at": night_departure().isoformat(),
            },
            content_type=JSON,
            api=True,
            allowed_status=(201,),
        ),
    ]
    for case in cases:
        check_access_matrix(case, make_user, client_for, wrong_role_statuses=(403, 404, 422))
    assert_absent(client_for(w.outsider), f"{API}/runs", planned.number)


def test_list_query_counts_are_fixed(world: World, client_for: Any) -> None:
    w = world
    keeper = client_for(w.keeper)
    cadre = client_for(w.cadre)
    plan_two_villages(w)
    pins = {
        (client, url): count_queries(client, url)
        for client in (keeper, cadre)
        for url in ("/supplies/runs/", f"{API}/runs")
    }
    for _ in range(4):
        actions.dispatch_run(plan_two_villages(w), actor=w.keeper)
    for (client, url), queries in pins.items():
        assert count_queries(client, url) == queries, url
    assert count_queries(keeper, f"{API}/runs", page_size=2) == pins[(keeper, f"{API}/runs")]
    filtered = keeper.get("/supplies/runs/", {"status": "dispatched", "q": "豫e·d"})
    assert filtered.status_code == 200 and filtered.content.decode().count("PC") >= 4
    for params in ({"date_from": "x"}, {"status": "bogus"}, {"page": "99999"}):
        assert keeper.get("/supplies/runs/", params).status_code == 200
    assert keeper.get(f"{API}/runs", {"status": "bogus"}).status_code == 422
