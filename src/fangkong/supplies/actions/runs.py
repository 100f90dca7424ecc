"""Delivery runs (配送车次): plan → dispatch → confirm each stop → complete (or cancel).

- Planning (Perm.RUN_DELIVERIES over the origin's region) records the vehicle, the driver,
  the departure (night runs are ordinary) and the ordered stops with their lines. No
  stock moves.
- Dispatch creates the run's transit location (在途) and posts ONE transfer origin →
  transit with every stop line: the goods leave the depot, or nothing changes.
- Confirming a stop (Perm.CONFIRM_DELIVERIES over the stop's region: the village cadre
  there, or the depot) posts a transfer transit → stop for what arrived and credits the
  linked request lines then, never at dispatch: only what arrived fulfils a request.
  What did not arrive (the shortfall) stays in transit.
- Completing returns whatever is still in transit to the origin, or writes it off as a
  delivery shortfall (adjustment) when the user says it is lost.

Lock order: the run row first, then (inside ``post_stock_document``) the document
sequence, request lines and balances. Nothing locks a run after the sequence, so no cycle.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fangkong.accounts.roles import Perm
from fangkong.core import audit
from fangkong.core.cleaning import clean_phone, clean_text
from fangkong.core.scoping import has_permission, require_permission
from fangkong.supplies.actions.documents import LineInput, post_stock_document
from fangkong.supplies.actions.requests import FULFILLABLE, remaining
from fangkong.supplies.models import (
    AdjustmentReason,
    Balance,
    DeliveryRun,
    DeliveryStop,
    DeliveryStopLine,
    DocumentKind,
    Item,
    Location,
    LocationKind,
    Lot,
    RunStatus,
    StockDocument,
    StopStatus,
    SupplyRequestLine,
)
from fangkong.supplies.numbering import next_number
from fangkong.supplies.plates import clean_plate
from fangkong.supplies.quantities import MAX_QUANTITY
from fangkong.supplies.retry import with_retry

RUN_PREFIX = "PC"  # 派车
DRIVER_NAME_MAX = 64
RECEIVER_NAME_MAX = 64
NOTE_MAX = 2000
STOP_NOTE_MAX = 200
MAX_STOPS = 30
MAX_LINES_PER_STOP = 50
# A run is planned for tonight or the coming days; one entered after the fact may
# have left up to a day ago. Anything outside is a typo (a wrong year, a wrong month).
DEPARTURE_PAST = dt.timedelta(hours=24)
DEPARTURE_FUTURE = dt.timedelta(days=14)


@dataclass(frozen=True)
class StopLineInput:
    item: Item
    lot: Lot
    quantity: int  # base units
    request_line: SupplyRequestLine | None = None


@dataclass(frozen=True)
class StopInput:
    destination: Location
    lines: Sequence[StopLineInput] = field(default_factory=tuple)
    note: str = ""


# --------------------------------------------------------------------------- checks


def _require(actor: Any, permission: str, region_code: str) -> None:
    require_permission(actor, permission, region_code)


def _check_departure(departure_at: dt.datetime | None, errors: dict[str, list[str]]) -> None:
    if departure_at is None:
        errors.setdefault("departure_at", []).append(_("Enter the departure time."))
        return
    if timezone.is_naive(departure_at):
        departure_at = timezone.make_aware(departure_at)
    now = timezone.now()
    if departure_at < now - DEPARTURE_PAST:
        errors.setdefault("departure_at", []).append(
            _("The departure is more than %(hours)d hours ago; check the date.")
            % {"hours": DEPARTURE_PAST.total_seconds() // 3600}
        )
    elif departure_at > now + DEPARTURE_FUTURE:
        errors.setdefault("departure_at", []).append(
            _("Plan runs at most %(days)d days ahead; check the date.")
            % {"days": DEPARTURE_FUTURE.days}
        )


def _check_stop(
    actor: Any,
    origin: Location,
    stop: StopInput,
    prefix: str,
    errors: dict[str, list[str]],
) -> None:
    destination = stop.destination
    if actor is not None and not has_permission(actor, Perm.VIEW_STOCK, destination.region_code):
        # Not in the planner's regions: as if it did not exist.
        errors.setdefault(f"{prefix}.destination", []).append(_("Unknown location."))
        return
    if destination.kind != LocationKind.SITE or not destination.active:
        errors.setdefault(f"{prefix}.destination", []).append(
            _("%(location)s does not receive stock.") % {"location": destination}
        )
    if destination.pk == origin.pk:
        errors.setdefault(f"{prefix}.destination", []).append(
            _("A stop cannot be the depot the run leaves from.")
        )
    if not stop.lines:
        errors.setdefault(f"{prefix}.lines", []).append(_("Add at least one line to the stop."))
    elif len(stop.lines) > MAX_LINES_PER_STOP:
        errors.setdefault(f"{prefix}.lines", []).append(
            _("At most %(max)d lines per stop.") % {"max": MAX_LINES_PER_STOP}
        )
    seen: set[tuple[int, int]] = set()
    for index, line in enumerate(stop.lines):
        where = f"{prefix}.lines.{index}"
        if line.lot.item_id != line.item.pk:
            errors.setdefault(f"{where}.lot", []).append(_("The lot belongs to another item."))
        if (line.item.pk, line.lot.pk) in seen:
            errors.setdefault(f"{where}.item", []).append(
                _("%(item)s is listed twice for this stop; put it on one line.")
                % {"item": line.item}
            )
        seen.add((line.item.pk, line.lot.pk))
        if isinstance(line.quantity, bool) or not isinstance(line.quantity, int):
            errors.setdefault(f"{where}.quantity", []).append(_("Enter a whole number."))
        elif line.quantity <= 0:
            errors.setdefault(f"{where}.quantity", []).append(
                _("The quantity must be more than zero.")
            )
        elif line.quantity > MAX_QUANTITY:
            errors.setdefault(f"{where}.quantity", []).append(_("The quantity is too large."))
        request_line = line.request_line
        if request_line is not None:
            request = request_line.request
            if request.destination_id != destination.pk:
                errors.setdefault(f"{where}.request_line", []).append(
                    _("Request %(number)s is for another location.") % {"number": request.number}
                )
            elif request.status not in FULFILLABLE:
                errors.setdefault(f"{where}.request_line", []).append(
                    _("Request %(number)s is not approved or already fulfilled.")
                    % {"number": request.number}
                )
            elif request_line.item_id != line.item.pk:
                errors.setdefault(f"{where}.request_line", []).append(
                    _("Request line is for another item.")
                )
            elif isinstance(line.quantity, int) and line.quantity > remaining(request_line):
                errors.setdefault(f"{where}.quantity", []).append(
                    _(
                        "%(item)s: request %(number)s has %(left)s %(unit)s left to issue; "
                        "plan at most that for it."
                    )
                    % {
                        "item": line.item,
                        "number": request.number,
                        "left": remaining(request_line),
                        "unit": line.item.base_unit,
                    }
                )


def _create_stops(run: DeliveryRun, stops: Sequence[StopInput], first_sequence: int) -> None:
    for offset, stop in enumerate(stops):
        made = DeliveryStop.objects.create(
            run=run,
            sequence=first_sequence + offset,
            destination=stop.destination,
            region_code=stop.destination.region_code,
            note=clean_text(stop.note, max_length=STOP_NOTE_MAX),
        )
        DeliveryStopLine.objects.bulk_create(
            [
                DeliveryStopLine(
                    stop=made,
                    item=line.item,
                    lot=line.lot,
                    planned=line.quantity,
                    request_line=line.request_line,
                )
                for line in stop.lines
            ]
        )


def _locked(run: DeliveryRun) -> DeliveryRun:
    return DeliveryRun.objects.select_for_update().select_related("origin").get(pk=run.pk)


def run_summary(run: DeliveryRun) -> dict[str, Any]:
    return {
        "number": run.number,
        "status": run.status,
        "origin": run.origin_id,
        "vehicle_plate": run.vehicle_plate,
        "driver_name": run.driver_name,
        "driver_phone": run.driver_phone,  # masked when the audit entry is shown
        "departure_at": run.departure_at,
        "stops": [
            {
                "sequence": stop.sequence,
                "destination": stop.destination_id,
                "status": stop.status,
                "lines": [
                    {
                        "item": line.item_id,
                        "lot": line.lot_id,
                        "planned": line.planned,
                        "delivered": line.delivered,
                        "request_line": line.request_line_id,
                    }
                    for line in stop.lines.all()
                ],
            }
            for stop in run.stops.prefetch_related("lines")
        ],
    }


# --------------------------------------------------------------------------- planning


@with_retry
def plan_run(
    *,
    actor: Any,
    origin: Location,
    vehicle_plate: str,
    driver_name: str,
    departure_at: dt.datetime | None,
    driver_phone: str = "",
    note: str = "",
    stops: Sequence[StopInput] = (),
) -> DeliveryRun:
    """A planned run from ``origin``; stops may be given now or added before dispatch."""
    _require(actor, Perm.RUN_DELIVERIES, origin.region_code)
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    for name, clean in (
        ("vehicle_plate", lambda: clean_plate(vehicle_plate)),
        (
            "driver_name",
            lambda: clean_text(
                driver_name, max_length=DRIVER_NAME_MAX, field="driver_name", required=True
            ),
        ),
        ("driver_phone", lambda: clean_phone(driver_phone, field="driver_phone")),
        ("note", lambda: clean_text(note, max_length=NOTE_MAX, field="note", multiline=True)),
    ):
        try:
            values[name] = clean()
        except ValidationError as exc:
            for key, messages in exc.message_dict.items():
                errors.setdefault(key, []).extend(messages)
    _check_departure(departure_at, errors)
    if origin.kind != LocationKind.SITE or not origin.active:
        errors.setdefault("origin", []).append(_("Choose a depot the run leaves from."))
    if len(stops) > MAX_STOPS:
        errors.setdefault("stops", []).append(
            _("At most %(max)d stops per run.") % {"max": MAX_STOPS}
        )
    destinations = [stop.destination.pk for stop in stops]
    if len(set(destinations)) != len(destinations):
        errors.setdefault("stops", []).append(
            _("A location appears twice; put its goods on one stop.")
        )
    for index, stop in enumerate(stops):
        _check_stop(actor, origin, stop, f"stops.{index}", errors)
    if errors:
        raise ValidationError(errors)
    assert departure_at is not None  # _check_departure said so otherwise
    with transaction.atomic():
        number = next_number(RUN_PREFIX)
        run = DeliveryRun.objects.create(
            number=number,
            status=RunStatus.PLANNED,
            region_code=origin.region_code,
            origin=origin,
            departure_at=departure_at,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
            **values,
        )
        _create_stops(run, stops, 1)
        audit.record(actor, "supplies.plan_run", run, after=run_summary(run))
    return run


@with_retry
def add_stop(run: DeliveryRun, *, actor: Any, stop: StopInput) -> DeliveryStop:
    """Append a stop to a planned run."""
    _require(actor, Perm.RUN_DELIVERIES, run.region_code)
    with transaction.atomic():
        locked = _locked(run)
        if locked.status != RunStatus.PLANNED:
            raise ValidationError(
                _("Stops can only be changed before dispatch."), code="not_planned"
            )
        errors: dict[str, list[str]] = {}
        if locked.stops.filter(destination=stop.destination).exists():
            errors.setdefault("destination", []).append(
                _("This location is already a stop of the run.")
            )
        count = locked.stops.count()
        if count >= MAX_STOPS:
            errors.setdefault("destination", []).append(
                _("At most %(max)d stops per run.") % {"max": MAX_STOPS}
            )
        _check_stop(actor, locked.origin, stop, "stop", errors)
        if errors:
            # "stop.lines.0.quantity" → "lines.0.quantity": the form is the stop.
            raise ValidationError(
                {key.removeprefix("stop."): value for key, value in errors.items()}
            )
        last = locked.stops.order_by("-sequence").values_list("sequence", flat=True).first()
        _create_stops(locked, [stop], (last or 0) + 1)
        made = locked.stops.order_by("-sequence").first()
        assert made is not None
        audit.record(
            actor,
            "supplies.add_stop",
            locked,
            after={
                "sequence": made.sequence,
                "destination": stop.destination.pk,
                "lines": [
                    {"item": line.item.pk, "lot": line.lot.pk, "planned": line.quantity}
                    for line in stop.lines
                ],
            },
        )
    return made


@with_retry
def remove_stop(stop: DeliveryStop, *, actor: Any) -> None:
    """Drop a stop from a planned run (its lines go with it)."""
    _require(actor, Perm.RUN_DELIVERIES, stop.run.region_code)
    with transaction.atomic():
        locked = _locked(stop.run)
        if locked.status != RunStatus.PLANNED:
            raise ValidationError(
                _("Stops can only be changed before dispatch."), code="not_planned"
            )
        before = {"sequence": stop.sequence, "destination": stop.destination_id}
        DeliveryStop.objects.filter(pk=stop.pk, run=locked).delete()
        audit.record(actor, "supplies.remove_stop", locked, before=before)


@with_retry
def cancel_run(run: DeliveryRun, *, actor: Any, note: str = "") -> DeliveryRun:
    """Call off a planned run (no stock has moved). A dispatched run can only be completed."""
    _require(actor, Perm.RUN_DELIVERIES, run.region_code)
    note = clean_text(note, max_length=STOP_NOTE_MAX, field="note")
    with transaction.atomic():
        locked = _locked(run)
        if locked.status != RunStatus.PLANNED:
            raise ValidationError(
                _("Only a planned run can be cancelled; a dispatched run is completed instead."),
                code="not_planned",
            )
        DeliveryRun.objects.filter(pk=locked.pk).update(
            status=RunStatus.CANCELLED,
            note=(f"{locked.note}\n{note}".strip() if note else locked.note)[:NOTE_MAX],
        )
        audit.record(
            actor,
            "supplies.cancel_run",
            locked,
            before={"status": RunStatus.PLANNED},
            after={"status": RunStatus.CANCELLED, "note": note},
        )
        locked.refresh_from_db()
    return locked


# --------------------------------------------------------------------------- moving stock


def _transit_name(run: DeliveryRun) -> str:
    return f"在途 {run.number} {run.vehicle_plate}"[:120]


@with_retry
def dispatch_run(run: DeliveryRun, *, actor: Any) -> DeliveryRun:
    """The vehicle leaves: every stop line moves origin → the run's transit location in one
    transfer. Not enough stock anywhere: ``InsufficientStock``, and nothing changes."""
    _require(actor, Perm.RUN_DELIVERIES, run.region_code)
    with transaction.atomic():
        locked = _locked(run)
        if locked.status != RunStatus.PLANNED:
            raise ValidationError(
                _("This run has already been dispatched, completed or cancelled."),
                code="not_planned",
            )
        stop_lines = list(
            DeliveryStopLine.objects.filter(stop__run=locked)
            .select_related("item", "lot")
            .order_by("stop__sequence", "pk")
        )
        if not stop_lines:
            raise ValidationError(
                _("Add at least one stop with goods before dispatch."), code="no_lines"
            )
        transit = Location.objects.create(
            kind=LocationKind.TRANSIT,
            name=_transit_name(locked),
            region_code=locked.origin.region_code,
        )
        now = timezone.now()
        document = post_stock_document(
            kind=DocumentKind.TRANSFER,
            actor=actor,
            source=locked.origin,
            destination=transit,
            delivery_run=locked,
            permission=Perm.RUN_DELIVERIES,
            note=_("Dispatch of run %(number)s") % {"number": locked.number},
            lines=[
                LineInput(item=line.item, lot=line.lot, quantity=line.planned)
                for line in stop_lines
            ],
        )
        DeliveryRun.objects.filter(pk=locked.pk).update(
            status=RunStatus.DISPATCHED, transit=transit, dispatched_at=now
        )
        audit.record(
            actor,
            "supplies.dispatch_run",
            locked,
            before={"status": RunStatus.PLANNED},
            after={
                "status": RunStatus.DISPATCHED,
                "transit": transit.pk,
                "document": document.number,
            },
        )
        locked.refresh_from_db()
    return locked


def _credit_split(line: DeliveryStopLine, delivered: int, credited: dict[int, int]) -> list[int]:
    """[credited part, uncredited part] of a delivered quantity linked to a request line.

    Goods that arrived must be confirmed even when the request was meanwhile fulfilled by
    another document: what exceeds the request's remaining approval is delivered without
    crediting it (the documents action still re-checks under its lock).
    """
    request_line = line.request_line
    if request_line is None:
        return [0, delivered]
    left = max(remaining(request_line) - credited.get(request_line.pk, 0), 0)
    if request_line.request.status not in FULFILLABLE:
        left = 0
    part = min(left, delivered)
    credited[request_line.pk] = credited.get(request_line.pk, 0) + part
    return [part, delivered - part]


def _as_actor(document: StockDocument, actor: Any) -> None:
    """Name the real user on a document posted as the system (see ``confirm_stop``)."""
    if getattr(actor, "is_authenticated", False):
        StockDocument.objects.filter(pk=document.pk).update(created_by=actor, posted_by=actor)


@with_retry
def confirm_stop(
    stop: DeliveryStop,
    *,
    actor: Any,
    delivered: Mapping[int, int] | None = None,
    receiver_name: str = "",
    note: str = "",
) -> DeliveryStop:
    """The goods arrived at a stop: ``delivered`` per stop line id (missing: as planned).

    Posts a transfer transit → stop for the delivered quantities, crediting linked request
    lines; the shortfall (planned − delivered) stays in transit until the run completes.
    Nothing delivered at all marks the stop skipped (未送达).
    """
    _require(actor, Perm.CONFIRM_DELIVERIES, stop.region_code)
    receiver = clean_text(
        receiver_name, max_length=RECEIVER_NAME_MAX, field="receiver_name", required=True
    )
    note = clean_text(note, max_length=STOP_NOTE_MAX, field="note")
    delivered = dict(delivered or {})
    with transaction.atomic():
        run = _locked(stop.run)
        if run.status != RunStatus.DISPATCHED:
            raise ValidationError(
                _("Stops are confirmed while the run is on the road (dispatched)."),
                code="not_dispatched",
            )
        current = DeliveryStop.objects.select_related("destination").get(pk=stop.pk, run=run)
        if current.status != StopStatus.PENDING:
            raise ValidationError(
                _("This stop has already been confirmed."), code="already_confirmed"
            )
        lines = list(
            current.lines.select_related("item", "lot", "request_line__request").order_by("pk")
        )
        errors: dict[str, list[str]] = {}
        known = {line.pk for line in lines}
        for line_id in delivered:
            if line_id not in known:
                errors.setdefault("delivered", []).append(
                    _("Line %(line)s is not part of this stop.") % {"line": line_id}
                )
        quantities: dict[int, int] = {}
        for line in lines:
            quantity = delivered.get(line.pk, line.planned)
            field_name = f"delivered.{line.pk}"
            if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
                errors.setdefault(field_name, []).append(_("Enter a whole number, zero or more."))
            elif quantity > line.planned:
                errors.setdefault(field_name, []).append(
                    _(
                        "%(item)s: %(planned)s %(unit)s were loaded for this stop; "
                        "at most that can be delivered."
                    )
                    % {"item": line.item, "planned": line.planned, "unit": line.item.base_unit}
                )
            else:
                quantities[line.pk] = quantity
        if errors:
            raise ValidationError(errors)
        credited: dict[int, int] = {}
        inputs: list[LineInput] = []
        requests: dict[int, Any] = {}
        for line in lines:
            credited_part, plain_part = _credit_split(line, quantities[line.pk], credited)
            if credited_part:
                assert line.request_line is not None
                requests[line.request_line.request_id] = line.request_line.request
                inputs.append(
                    LineInput(
                        item=line.item,
                        lot=line.lot,
                        quantity=credited_part,
                        request_line=line.request_line,
                    )
                )
            if plain_part:
                inputs.append(LineInput(item=line.item, lot=line.lot, quantity=plain_part))
        document = None
        if inputs:
            assert run.transit is not None
            # The transit location belongs to the origin's region, where a village
            # cadre holds no permission; the stop's permission was checked above, so the
            # transfer is posted as the system and then attributed to the actor.
            document = post_stock_document(
                kind=DocumentKind.TRANSFER,
                actor=None,
                source=run.transit,
                destination=current.destination,
                delivery_run=run,
                # The document names the request when all its credited lines share one.
                request=next(iter(requests.values())) if len(requests) == 1 else None,
                recipient_name=receiver,
                note=_("Run %(number)s, stop %(sequence)s")
                % {"number": run.number, "sequence": current.sequence},
                lines=inputs,
            )
            _as_actor(document, actor)
        for line in lines:
            DeliveryStopLine.objects.filter(pk=line.pk).update(delivered=quantities[line.pk])
        status = StopStatus.DELIVERED if inputs else StopStatus.SKIPPED
        DeliveryStop.objects.filter(pk=current.pk).update(
            status=status,
            confirmed_at=timezone.now(),
            confirmed_by=actor if getattr(actor, "is_authenticated", False) else None,
            receiver_name=receiver,
            note=note or current.note,
        )
        audit.record(
            actor,
            "supplies.confirm_stop",
            current,
            before={"status": StopStatus.PENDING},
            after={
                "status": status,
                "run": run.number,
                "receiver_name": receiver,
                "document": document.number if document else None,
                "lines": [
                    {
                        "item": line.item_id,
                        "planned": line.planned,
                        "delivered": quantities[line.pk],
                        "shortfall": line.planned - quantities[line.pk],
                    }
                    for line in lines
                ],
            },
        )
        current.refresh_from_db()
    return current


class Disposition:
    RETURN = "return"  # back to the origin (退回仓库)
    LOST = "lost"  # written off as a delivery shortfall (配送短少)


def in_transit(run: DeliveryRun) -> list[Balance]:
    if run.transit_id is None:
        return []
    return list(
        Balance.objects.filter(location_id=run.transit_id, quantity__gt=0)
        .select_related("item", "lot")
        .order_by("item_id", "lot_id")
    )


@with_retry
def complete_run(
    run: DeliveryRun, *, actor: Any, disposition: str = Disposition.RETURN, note: str = ""
) -> DeliveryRun:
    """End a dispatched run. Stops not confirmed are marked skipped; what remains in
    transit goes back to the origin, or is written off as lost (then a note is needed)."""
    _require(actor, Perm.RUN_DELIVERIES, run.region_code)
    if disposition not in (Disposition.RETURN, Disposition.LOST):
        raise ValidationError({"disposition": [_("Choose return to depot or lost.")]})
    note = clean_text(
        note, max_length=STOP_NOTE_MAX, field="note", required=disposition == Disposition.LOST
    )
    with transaction.atomic():
        locked = _locked(run)
        if locked.status != RunStatus.DISPATCHED:
            raise ValidationError(
                _("Only a dispatched run can be completed."), code="not_dispatched"
            )
        assert locked.transit is not None
        pending = list(locked.stops.filter(status=StopStatus.PENDING))
        DeliveryStopLine.objects.filter(stop__in=pending).update(delivered=0)
        DeliveryStop.objects.filter(pk__in=[s.pk for s in pending]).update(
            status=StopStatus.SKIPPED
        )
        left = in_transit(locked)
        document = None
        if left:
            lines = [LineInput(item=b.item, lot=b.lot, quantity=b.quantity) for b in left]
            if disposition == Disposition.RETURN:
                document = post_stock_document(
                    kind=DocumentKind.TRANSFER,
                    actor=actor,
                    source=locked.transit,
                    destination=locked.origin,
                    delivery_run=locked,
                    permission=Perm.RUN_DELIVERIES,
                    note=note or _("Return of run %(number)s") % {"number": locked.number},
                    lines=lines,
                )
            else:
                document = post_stock_document(
                    kind=DocumentKind.ADJUSTMENT,
                    actor=actor,
                    source=locked.transit,
                    reason=AdjustmentReason.SHORTFALL,
                    delivery_run=locked,
                    permission=Perm.RUN_DELIVERIES,
                    note=note,
                    lines=[
                        LineInput(item=line.item, lot=line.lot, quantity=-line.quantity)
                        for line in lines
                    ],
                )
        Location.objects.filter(pk=locked.transit.pk).update(active=False)
        DeliveryRun.objects.filter(pk=locked.pk).update(
            status=RunStatus.COMPLETED, completed_at=timezone.now()
        )
        audit.record(
            actor,
            "supplies.complete_run",
            locked,
            before={"status": RunStatus.DISPATCHED},
            after={
                "status": RunStatus.COMPLETED,
                "disposition": disposition if left else None,
                "document": document.number if document else None,
                "skipped_stops": [s.sequence for s in pending],
                "left_in_transit": [
                    {"item": b.item_id, "lot": b.lot_id, "quantity": b.quantity} for b in left
                ],
                "note": note,
            },
        )
        locked.refresh_from_db()
    return locked
