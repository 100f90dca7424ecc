"""Delivery runs: plan, dispatch, confirm stops (with shortfall), complete (return or lost),
cancel; ledger balances at each step; request crediting at confirmation; audit."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from fangkong.core.models import AuditEntry
from fangkong.supplies.actions import runs as actions
from fangkong.supplies.keys import default_lot
from fangkong.supplies.ledger import InsufficientStock
from fangkong.supplies.models import (
    AdjustmentReason,
    DeliveryRun,
    DeliveryStopLine,
    DocumentKind,
    Location,
    LocationKind,
    Movement,
    RequestStatus,
    RunStatus,
    StockDocument,
    StopStatus,
)
from tests.supplies.requests_runs_fixtures import World, approved_request, night_departure, on_hand
from tests.supplies.requests_runs_fixtures import world as world


def _line(w: World, item: Any, quantity: int, request_line: Any = None) -> actions.StopLineInput:
    return actions.StopLineInput(
        item=item, lot=default_lot(item), quantity=quantity, request_line=request_line
    )


def plan_two_villages(w: World, **overrides: Any) -> DeliveryRun:
    """The night run: 伏道二街 gets suits and masks (for its request), 侯庄 gets flour."""
    s = w.stock
    request = overrides.pop("request", None)
    suits_line = request.lines.get(item=s.suits) if request else None
    masks_line = request.lines.get(item=s.masks) if request else None
    values: dict[str, Any] = {
        "actor": w.keeper,
        "origin": w.depot,
        "vehicle_plate": "豫E·D1234５",
        "driver_name": "王师傅",
        "driver_phone": "138 0013 8000",
        "departure_at": night_departure(),
        "stops": [
            actions.StopInput(
                destination=w.village,
                lines=[_line(w, s.suits, 200, suits_line), _line(w, s.masks, 400, masks_line)],
            ),
            actions.StopInput(destination=w.village2, lines=[_line(w, s.flour, 100)]),
        ],
    }
    values.update(overrides)
    return actions.plan_run(**values)


def test_night_run_over_two_villages_with_a_shortfall(world: World) -> None:
    w = world
    s = w.stock
    request = approved_request(w, suits=200, masks=400)
    run = plan_two_villages(w, request=request)
    assert run.status == RunStatus.PLANNED and run.number.startswith("PC")
    assert run.vehicle_plate == "豫ED12345" and run.driver_phone == "13800138000"
    assert timezone.localtime(run.departure_at).strftime("%H:%M") == "02:30"
    assert on_hand(w.depot, s.suits) == 1500  # planning moves nothing
    assert Movement.objects.filter(document__delivery_run=run).count() == 0

    run = actions.dispatch_run(run, actor=w.keeper)
    assert run.status == RunStatus.DISPATCHED
    transit = run.transit
    assert transit is not None and transit.kind == LocationKind.TRANSIT
    assert transit.region_code == w.depot.region_code
    assert transit.name == f"在途 {run.number} 豫ED12345"
    dispatch_docs = StockDocument.objects.filter(delivery_run=run)
    assert dispatch_docs.count() == 1
    assert (on_hand(w.depot, s.suits), on_hand(transit, s.suits)) == (1300, 200)
    assert (on_hand(w.depot, s.masks), on_hand(transit, s.masks)) == (1600, 400)
    assert (on_hand(w.depot, s.flour), on_hand(transit, s.flour)) == (400, 100)
    # Dispatch credits no request: only what arrives fulfils it.
    request.refresh_from_db()
    assert request.status == RequestStatus.APPROVED
    with pytest.raises(ValidationError):
        actions.dispatch_run(run, actor=w.keeper)
    assert StockDocument.objects.filter(delivery_run=run).count() == 1

    stop1, stop2 = list(run.stops.order_by("sequence"))
    suits_stop_line = stop1.lines.get(item=s.suits)
    # Two masks boxes fell off: 350 of 400 masks arrive.
    masks_stop_line = stop1.lines.get(item=s.masks)
    confirmed = actions.confirm_stop(
        stop1,
        actor=w.cadre,
        delivered={masks_stop_line.pk: 350},
        receiver_name="李支书",
    )
    assert confirmed.status == StopStatus.DELIVERED
    assert on_hand(w.village, s.suits) == 200 and on_hand(w.village, s.masks) == 350
    assert on_hand(transit, s.masks) == 50 and on_hand(transit, s.suits) == 0
    masks_stop_line.refresh_from_db()
    suits_stop_line.refresh_from_db()
    assert (masks_stop_line.delivered, masks_stop_line.shortfall) == (350, 50)
    assert (suits_stop_line.delivered, suits_stop_line.shortfall) == (200, 0)
    request.refresh_from_db()
    assert request.status == RequestStatus.PARTLY_FULFILLED
    assert request.lines.get(item=s.masks).issued == 350
    assert request.lines.get(item=s.suits).issued == 200
    confirm_doc = StockDocument.objects.get(delivery_run=run, destination=w.village)
    assert confirm_doc.created_by == w.cadre and confirm_doc.recipient_name == "李支书"
    with pytest.raises(ValidationError):  # confirming twice
        actions.confirm_stop(stop1, actor=w.cadre, receiver_name="李支书")

    actions.confirm_stop(stop2, actor=w.cadre2, receiver_name="侯庄村 张会计")
    assert on_hand(w.village2, s.flour) == 100 and on_hand(transit, s.flour) == 0

    run = actions.complete_run(run, actor=w.keeper)  # the 50 masks go back
    assert run.status == RunStatus.COMPLETED
    assert on_hand(transit, s.masks) == 0 and on_hand(w.depot, s.masks) == 1650
    assert on_hand(w.depot, s.suits) == 1300 and on_hand(w.depot, s.flour) == 400
    assert not Location.objects.get(pk=transit.pk).active
    assert StockDocument.objects.filter(delivery_run=run).count() == 4
    for action in ("plan_run", "dispatch_run", "confirm_stop", "complete_run"):
        assert AuditEntry.objects.filter(action=f"supplies.{action}").exists(), action
    with pytest.raises(ValidationError):
        actions.complete_run(run, actor=w.keeper)
    with pytest.raises(ValidationError):
        actions.cancel_run(run, actor=w.keeper)


def test_completing_with_lost_goods_writes_a_shortfall_adjustment(world: World) -> None:
    w = world
    s = w.stock
    run = actions.dispatch_run(plan_two_villages(w), actor=w.keeper)
    stop1, _stop2 = list(run.stops.order_by("sequence"))
    actions.confirm_stop(
        stop1,
        actor=w.keeper,
        delivered={stop1.lines.get(item=s.suits).pk: 190},
        receiver_name="李支书",
    )
    with pytest.raises(ValidationError):  # lost needs a note
        actions.complete_run(run, actor=w.keeper, disposition="lost")
    with pytest.raises(ValidationError):
        actions.complete_run(run, actor=w.keeper, disposition="burnt", note="x")
    run = actions.complete_run(run, actor=w.keeper, disposition="lost", note="夜间路上丢失")
    assert run.transit is not None
    assert on_hand(run.transit, s.suits) == 0 and on_hand(run.transit, s.flour) == 0
    assert on_hand(w.depot, s.suits) == 1300  # nothing came back
    adjustment = StockDocument.objects.get(delivery_run=run, kind=DocumentKind.ADJUSTMENT)
    assert adjustment.reason == AdjustmentReason.SHORTFALL
    # The stop never confirmed is marked not delivered, its flour written off.
    stop2 = run.stops.get(sequence=2)
    assert stop2.status == StopStatus.SKIPPED
    assert stop2.lines.get().delivered == 0
    assert on_hand(w.village2, s.flour) == 0


def test_dispatch_without_enough_stock_changes_nothing(world: World) -> None:
    w = world
    s = w.stock
    run = plan_two_villages(
        w,
        stops=[actions.StopInput(destination=w.village, lines=[_line(w, s.suits, 1501)])],
    )
    with pytest.raises(InsufficientStock) as caught:
        actions.dispatch_run(run, actor=w.keeper)
    assert "1" in caught.value.messages[0] and "医用防护服" in caught.value.messages[0]
    run.refresh_from_db()
    assert run.status == RunStatus.PLANNED and run.transit is None
    assert not Location.objects.filter(kind=LocationKind.TRANSIT).exists()
    assert on_hand(w.depot, s.suits) == 1500
    assert not StockDocument.objects.filter(delivery_run=run).exists()


def test_delivered_over_planned_negative_or_unknown_lines(world: World) -> None:
    w = world
    run = actions.dispatch_run(plan_two_villages(w), actor=w.keeper)
    stop1 = run.stops.get(sequence=1)
    line = stop1.lines.get(item=w.stock.suits)
    for delivered in ({line.pk: 201}, {line.pk: -1}, {line.pk + 10**6: 1}, {line.pk: True}):
        with pytest.raises(ValidationError):
            actions.confirm_stop(stop1, actor=w.cadre, delivered=delivered, receiver_name="李")
    with pytest.raises(ValidationError):  # a receiver is needed
        actions.confirm_stop(stop1, actor=w.cadre, receiver_name=" ")
    stop1.refresh_from_db()
    assert stop1.status == StopStatus.PENDING
    assert on_hand(w.village, w.stock.suits) == 0


def test_confirming_nothing_marks_the_stop_skipped(world: World) -> None:
    w = world
    run = actions.dispatch_run(plan_two_villages(w), actor=w.keeper)
    stop2 = run.stops.get(sequence=2)
    line = stop2.lines.get()
    stop2 = actions.confirm_stop(
        stop2, actor=w.cadre2, delivered={line.pk: 0}, receiver_name="无人接收"
    )
    assert stop2.status == StopStatus.SKIPPED
    assert on_hand(run.transit, w.stock.flour) == 100  # type: ignore[arg-type]


def test_cancel_planned_run_only(world: World) -> None:
    w = world
    run = plan_two_villages(w)
    cancelled = actions.cancel_run(run, actor=w.keeper, note="车辆故障")
    assert cancelled.status == RunStatus.CANCELLED
    with pytest.raises(ValidationError):
        actions.dispatch_run(run, actor=w.keeper)
    dispatched = actions.dispatch_run(plan_two_villages(w), actor=w.keeper)
    with pytest.raises(ValidationError):
        actions.cancel_run(dispatched, actor=w.keeper)
    with pytest.raises(ValidationError):  # stops are fixed after dispatch
        actions.add_stop(
            dispatched,
            actor=w.keeper,
            stop=actions.StopInput(
                destination=w.stock.testing_site, lines=[_line(w, w.stock.suits, 1)]
            ),
        )


def test_bad_plans(world: World) -> None:
    w = world
    s = w.stock
    now = timezone.now()
    bad: list[dict[str, Any]] = [
        {"vehicle_plate": "豫I12345"},
        {"vehicle_plate": ""},
        {"driver_name": " "},
        {"driver_phone": "12345"},
        {"departure_at": now - dt.timedelta(days=2)},
        {"departure_at": now + dt.timedelta(days=30)},
        {"departure_at": None},
        {
            "origin": w.village2,
            "stops": [actions.StopInput(destination=w.village2, lines=[_line(w, s.suits, 1)])],
        },
        {"stops": [actions.StopInput(destination=w.village, lines=[])]},
        {"stops": [actions.StopInput(destination=w.village, lines=[_line(w, s.suits, 0)])]},
        {"stops": [actions.StopInput(destination=w.village, lines=[_line(w, s.suits, -3)])]},
        {"stops": [actions.StopInput(destination=w.village, lines=[_line(w, s.suits, 10**13)])]},
        {
            "stops": [
                actions.StopInput(
                    destination=w.village, lines=[_line(w, s.suits, 1), _line(w, s.suits, 2)]
                )
            ]
        },
        {
            "stops": [
                actions.StopInput(destination=w.village, lines=[_line(w, s.suits, 1)]),
                actions.StopInput(destination=w.village, lines=[_line(w, s.masks, 1)]),
            ]
        },
        # Another county's testing site is outside the keeper's regions.
        {
            "stops": [
                actions.StopInput(destination=w.stock.testing_site, lines=[_line(w, s.suits, 1)])
            ]
        },
    ]
    for overrides in bad:
        with pytest.raises(ValidationError):
            plan_two_villages(w, **overrides)
    assert DeliveryRun.objects.count() == 0


def test_request_lines_on_a_run_are_checked(world: World) -> None:
    w = world
    s = w.stock
    request = approved_request(w, suits=100, masks=10)
    suits_line = request.lines.get(item=s.suits)
    for stop in (
        actions.StopInput(destination=w.village, lines=[_line(w, s.suits, 101, suits_line)]),
        actions.StopInput(destination=w.village2, lines=[_line(w, s.suits, 10, suits_line)]),
        actions.StopInput(destination=w.village, lines=[_line(w, s.masks, 10, suits_line)]),
    ):
        with pytest.raises(ValidationError):
            plan_two_villages(w, stops=[stop])


def test_goods_beyond_the_remaining_approval_are_delivered_uncredited(world: World) -> None:
    """The request was fulfilled by another transfer while the run was on the road."""
    w = world
    s = w.stock
    request = approved_request(w, suits=200, masks=400)
    run = actions.dispatch_run(plan_two_villages(w, request=request), actor=w.keeper)
    from tests.supplies.test_requests import _fulfil

    _fulfil(w, request, {s.suits: 150})
    actions.confirm_stop(run.stops.get(sequence=1), actor=w.cadre, receiver_name="李支书")
    request.refresh_from_db()
    assert request.lines.get(item=s.suits).issued == 200
    assert on_hand(w.village, s.suits) == 350


def test_permissions(world: World, make_user: Any) -> None:
    w = world
    with pytest.raises(PermissionDenied):
        plan_two_villages(w, actor=w.cadre)
    with pytest.raises(PermissionDenied):
        plan_two_villages(w, actor=w.outsider)
    run = plan_two_villages(w)
    with pytest.raises(PermissionDenied):
        actions.dispatch_run(run, actor=w.cadre)
    run = actions.dispatch_run(run, actor=w.officer)
    stop1 = run.stops.get(sequence=1)
    with pytest.raises(PermissionDenied):  # the neighbouring village cannot sign for it
        actions.confirm_stop(stop1, actor=w.cadre2, receiver_name="x")
    with pytest.raises(PermissionDenied):
        actions.complete_run(run, actor=w.cadre)
    assert DeliveryStopLine.objects.filter(delivered__isnull=False).count() == 0
