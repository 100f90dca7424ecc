"""API: delivery runs (配送车次) under /api/v1/supplies/runs.

A run is visible with Perm.VIEW_STOCK over its origin's region or over one of its stops
(a village sees the runs that stop there, and only its own stops). Planning, dispatch,
completion and cancelling need Perm.RUN_DELIVERIES over the origin; confirming a stop
Perm.CONFIRM_DELIVERIES over the stop. The driver's phone is masked; ``POST .../reveal``
returns it to holders of Perm.REVEAL_IDENTITY and is logged.

No ``from __future__ import annotations``: ninja reads the schemas from the signatures.
"""

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch, QuerySet
from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import StrictInt

from fangkong.accounts.roles import Perm
from fangkong.core.audit import log_access
from fangkong.core.masking import mask_phone
from fangkong.core.pagination import PageNumber
from fangkong.core.scoping import has_permission
from fangkong.supplies.actions import runs as actions
from fangkong.supplies.filters_requests import RunFilter, scope_q, visible_runs, visible_stops
from fangkong.supplies.forms.requests import find_lot, parse_amount
from fangkong.supplies.models import (
    DeliveryRun,
    DeliveryStop,
    DeliveryStopLine,
    Item,
    Location,
    SupplyRequestLine,
)

router = Router(tags=["supplies"])

MAX_ID = 2**63 - 1


class StopLineOut(Schema):
    id: int
    item_id: int
    item_name: str
    unit: str
    lot: str
    planned: int
    delivered: int | None
    shortfall: int
    request_line_id: int | None

    @staticmethod
    def resolve_item_name(obj: DeliveryStopLine) -> str:
        return str(obj.item)

    @staticmethod
    def resolve_unit(obj: DeliveryStopLine) -> str:
        return obj.item.base_unit

    @staticmethod
    def resolve_lot(obj: DeliveryStopLine) -> str:
        return obj.lot.code


class StopOut(Schema):
    id: int
    sequence: int
    destination_id: int
    destination_name: str
    region_code: str
    status: str
    receiver_name: str
    confirmed_at: dt.datetime | None
    note: str
    lines: list[StopLineOut]

    @staticmethod
    def resolve_destination_name(obj: DeliveryStop) -> str:
        return obj.destination.name

    @staticmethod
    def resolve_lines(obj: DeliveryStop) -> list[DeliveryStopLine]:
        return list(obj.lines.all())


class RunOut(Schema):
    id: int
    number: str
    status: str
    status_label: str
    region_code: str
    origin_id: int
    origin_name: str
    transit_id: int | None
    vehicle_plate: str
    driver_name: str
    driver_phone: str = Field(description="masked: 138****5678")
    departure_at: dt.datetime
    dispatched_at: dt.datetime | None
    completed_at: dt.datetime | None
    note: str
    stops: list[StopOut]

    @staticmethod
    def resolve_status_label(obj: DeliveryRun) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_origin_name(obj: DeliveryRun) -> str:
        return obj.origin.name

    @staticmethod
    def resolve_driver_phone(obj: DeliveryRun) -> str:
        return mask_phone(obj.driver_phone) if obj.driver_phone else ""

    @staticmethod
    def resolve_stops(obj: DeliveryRun) -> list[DeliveryStop]:
        return list(getattr(obj, "shown_stops", []))


class StopLineIn(Schema):
    item_id: int
    lot: str = Field("", description='lot code; "" for items without lots')
    quantity: StrictInt | str = Field(description='base units, or text such as "30 箱"')
    request_line_id: int | None = Field(None, description="an approved request line it serves")


class StopIn(Schema):
    destination_id: int
    note: str = ""
    lines: list[StopLineIn] = Field(..., max_length=actions.MAX_LINES_PER_STOP)


class RunIn(Schema):
    origin_id: int = Field(description="the depot's stock location")
    vehicle_plate: str = Field(..., max_length=32)
    driver_name: str = Field(..., max_length=200)
    driver_phone: str = Field("", max_length=64)
    departure_at: dt.datetime
    note: str = ""
    stops: list[StopIn] = Field([], max_length=actions.MAX_STOPS)


class DeliveredIn(Schema):
    line_id: int
    quantity: int = Field(description="base units that arrived (0 to planned)")


class ConfirmIn(Schema):
    receiver_name: str = Field(..., max_length=200)
    delivered: list[DeliveredIn] = Field(
        [], description="lines not listed are confirmed as planned"
    )
    note: str = ""


class CompleteIn(Schema):
    disposition: str = Field(
        actions.Disposition.RETURN,
        description='"return": what is left in transit goes back to the depot; '
        '"lost": written off as a delivery shortfall (a note is required)',
    )
    note: str = ""


class CancelIn(Schema):
    note: str = ""


class PhoneOut(Schema):
    driver_phone: str


class RunQuery(Schema):
    q: str | None = Field(None, max_length=64)
    status: str | None = Field(None, max_length=16)
    date_from: str | None = Field(None, max_length=20, description="departure day from (local)")
    date_to: str | None = Field(None, max_length=20, description="departure day until (local)")


def _with_stops(user: Any, queryset: QuerySet[DeliveryRun]) -> QuerySet[DeliveryRun]:
    lines = DeliveryStopLine.objects.select_related("item", "lot")
    stops = (
        visible_stops(user)
        .select_related("destination")
        .prefetch_related(Prefetch("lines", queryset=lines))
        .order_by("sequence")
    )
    return queryset.prefetch_related(Prefetch("stops", queryset=stops, to_attr="shown_stops"))


def _run(request: HttpRequest, run_id: int) -> DeliveryRun:
    if not 0 < run_id <= MAX_ID:
        raise Http404
    run = _with_stops(request.user, visible_runs(request.user)).filter(pk=run_id).first()
    if run is None:
        raise Http404
    return run


def _require(request: HttpRequest, permission: str, region_code: str) -> None:
    if not has_permission(request.user, permission, region_code):
        raise PermissionDenied


def _location(user: Any, location_id: int, field: str) -> Location:
    queryset = Location.objects.all()
    condition = scope_q(user, Perm.VIEW_STOCK)
    if condition is not None:
        queryset = queryset.filter(condition)
    found = queryset.filter(pk=location_id).first() if 0 < location_id <= MAX_ID else None
    if found is None:
        raise ValidationError({field: [_("Unknown location.")]})
    return found


def _stop_input(user: Any, stop: StopIn, prefix: str) -> actions.StopInput:
    errors: dict[str, list[str]] = {}
    destination = None
    try:
        destination = _location(user, stop.destination_id, f"{prefix}destination_id")
    except ValidationError as exc:
        errors.update(exc.message_dict)
    lines = []
    for index, line in enumerate(stop.lines):
        where = f"{prefix}lines.{index}"
        item = Item.objects.filter(pk=line.item_id).first() if 0 < line.item_id <= MAX_ID else None
        if item is None:
            errors.setdefault(f"{where}.item_id", []).append(_("Unknown item."))
            continue
        request_line = None
        if line.request_line_id is not None:
            queryset = SupplyRequestLine.objects.select_related("request")
            condition = scope_q(user, Perm.VIEW_STOCK, "request__region_code")
            if condition is not None:
                queryset = queryset.filter(condition)
            request_line = (
                queryset.filter(pk=line.request_line_id).first()
                if 0 < line.request_line_id <= MAX_ID
                else None
            )
            if request_line is None:
                errors.setdefault(f"{where}.request_line_id", []).append(_("Unknown request line."))
                continue
        try:
            quantity = parse_amount(line.quantity, item, field=f"{where}.quantity")
            lot = find_lot(item, line.lot, field=f"{where}.lot")
        except ValidationError as exc:
            for key, messages in exc.message_dict.items():
                errors.setdefault(key, []).extend(messages)
            continue
        lines.append(
            actions.StopLineInput(item=item, lot=lot, quantity=quantity, request_line=request_line)
        )
    if errors or destination is None:
        raise ValidationError(errors)
    return actions.StopInput(destination=destination, lines=lines, note=stop.note)


@router.get("/runs", response=list[RunOut])
@paginate(PageNumber)
def list_runs(request: HttpRequest, filters: Query[RunQuery]) -> Any:
    """Runs from the caller's depots and runs stopping in the caller's regions."""
    if not has_permission(request.user, Perm.VIEW_STOCK):
        raise PermissionDenied
    data = {k: v for k, v in filters.dict().items() if v not in (None, "")}
    queryset = _with_stops(request.user, visible_runs(request.user)).order_by(
        "-departure_at", "-id"
    )
    filterset = RunFilter(data, queryset=queryset)
    if not filterset.is_valid():
        raise ValidationError({k: list(v) for k, v in filterset.errors.items()})
    return filterset.qs


@router.get("/runs/{run_id}", response=RunOut)
def get_run(request: HttpRequest, run_id: int) -> DeliveryRun:
    return _run(request, run_id)


@router.post("/runs", response={201: RunOut})
def create_run(request: HttpRequest, payload: RunIn) -> Status[DeliveryRun]:
    """Plan a run, with its stops now or added later (``POST /runs/{id}/stops``)."""
    if not has_permission(request.user, Perm.RUN_DELIVERIES):
        raise PermissionDenied
    try:
        origin = _location(request.user, payload.origin_id, "origin_id")
    except ValidationError:
        raise Http404 from None  # a depot outside the caller's regions does not exist
    _require(request, Perm.RUN_DELIVERIES, origin.region_code)
    errors: dict[str, list[str]] = {}
    stops = []
    for index, stop in enumerate(payload.stops):
        try:
            stops.append(_stop_input(request.user, stop, f"stops.{index}."))
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    run = actions.plan_run(
        actor=request.user,
        origin=origin,
        vehicle_plate=payload.vehicle_plate,
        driver_name=payload.driver_name,
        driver_phone=payload.driver_phone,
        departure_at=payload.departure_at,
        note=payload.note,
        stops=stops,
    )
    return Status(201, _run(request, run.pk))


@router.post("/runs/{run_id}/stops", response={201: RunOut})
def add_stop(request: HttpRequest, run_id: int, payload: StopIn) -> Status[DeliveryRun]:
    run = _run(request, run_id)
    _require(request, Perm.RUN_DELIVERIES, run.region_code)
    actions.add_stop(run, actor=request.user, stop=_stop_input(request.user, payload, ""))
    return Status(201, _run(request, run_id))


@router.post("/runs/{run_id}/dispatch", response=RunOut)
def dispatch_run(request: HttpRequest, run_id: int) -> DeliveryRun:
    run = _run(request, run_id)
    _require(request, Perm.RUN_DELIVERIES, run.region_code)
    actions.dispatch_run(run, actor=request.user)
    return _run(request, run_id)


@router.post("/runs/{run_id}/stops/{stop_id}/confirm", response=RunOut)
def confirm_stop(
    request: HttpRequest, run_id: int, stop_id: int, payload: ConfirmIn
) -> DeliveryRun:
    run = _run(request, run_id)
    stop = next((s for s in getattr(run, "shown_stops", []) if s.pk == stop_id), None)
    if stop is None:
        raise Http404
    _require(request, Perm.CONFIRM_DELIVERIES, stop.region_code)
    delivered: dict[int, int] = {}
    for index, line in enumerate(payload.delivered):
        if line.line_id in delivered:
            raise ValidationError({f"delivered.{index}.line_id": [_("Line listed twice.")]})
        delivered[line.line_id] = line.quantity
    stop.run = run
    actions.confirm_stop(
        stop,
        actor=request.user,
        delivered=delivered,
        receiver_name=payload.receiver_name,
        note=payload.note,
    )
    return _run(request, run_id)


@router.post("/runs/{run_id}/complete", response=RunOut)
def complete_run(request: HttpRequest, run_id: int, payload: CompleteIn) -> DeliveryRun:
    run = _run(request, run_id)
    _require(request, Perm.RUN_DELIVERIES, run.region_code)
    actions.complete_run(
        run, actor=request.user, disposition=payload.disposition, note=payload.note
    )
    return _run(request, run_id)


@router.post("/runs/{run_id}/cancel", response=RunOut)
def cancel_run(request: HttpRequest, run_id: int, payload: CancelIn) -> DeliveryRun:
    run = _run(request, run_id)
    _require(request, Perm.RUN_DELIVERIES, run.region_code)
    actions.cancel_run(run, actor=request.user, note=payload.note)
    return _run(request, run_id)


@router.post("/runs/{run_id}/reveal", response=PhoneOut)
def reveal_driver_phone(request: HttpRequest, run_id: int) -> dict[str, str]:
    run = _run(request, run_id)
    _require(request, Perm.REVEAL_IDENTITY, run.region_code)
    log_access(
        request.user,
        "reveal",
        object_type="supplies.deliveryrun",
        object_id=str(run.pk),
        region_code=run.region_code,
        fields=["driver_phone"],
        unmasked=True,
        detail="api",
    )
    return {"driver_phone": run.driver_phone}
