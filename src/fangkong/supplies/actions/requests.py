"""Supply requests (需求上报): submit → approve (possibly less) → fulfilled by transfers.

A village or site (Perm.REQUEST_SUPPLIES over its region) lists what it needs; the
township or HQ (Perm.APPROVE_REQUESTS over the request's region) approves each line, up
to what was asked, or rejects with a note; a depot (Perm.POST_STOCK over the depot)
fulfils in one or more transfers to the request's destination. The documents action
credits each request line and calls ``refresh_request_status``; a reversal takes the
credit back. Every step is audited.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fangkong.accounts.roles import Perm
from fangkong.core import audit
from fangkong.core.cleaning import clean_text
from fangkong.core.scoping import require_permission
from fangkong.geo.models import Site
from fangkong.supplies.actions.documents import LineInput, post_stock_document
from fangkong.supplies.keys import location_for_site
from fangkong.supplies.models import (
    DocumentKind,
    Item,
    Location,
    LocationKind,
    Lot,
    RequestStatus,
    StockDocument,
    SupplyRequest,
    SupplyRequestLine,
)
from fangkong.supplies.numbering import next_number
from fangkong.supplies.quantities import MAX_QUANTITY
from fangkong.supplies.retry import with_retry

REQUEST_PREFIX = "XQ"  # 需求
NOTE_MAX = 2000
LINE_NOTE_MAX = 200
DECISION_NOTE_MAX = 200
MAX_LINES = 100
# A request for goods needed more than a quarter ahead is a plan, not a request.
NEEDED_BY_HORIZON = dt.timedelta(days=90)

FULFILLABLE = (RequestStatus.APPROVED, RequestStatus.PARTLY_FULFILLED)


@dataclass(frozen=True)
class RequestLineInput:
    item: Item
    quantity: int  # base units
    note: str = ""


@dataclass(frozen=True)
class FulfilLine:
    request_line: SupplyRequestLine
    lot: Lot
    quantity: int  # base units


def refresh_request_status(request: SupplyRequest) -> None:
    """Set partly fulfilled / fulfilled from what the lines have issued against approval."""
    if request.status in (RequestStatus.REJECTED, RequestStatus.CANCELLED, RequestStatus.SUBMITTED):
        return
    lines = list(
        SupplyRequestLine.objects.filter(request=request).values_list("approved", "issued")
    )
    approved_lines = [(a or 0, i) for a, i in lines]
    if approved_lines and all(issued >= approved for approved, issued in approved_lines):
        status = RequestStatus.FULFILLED
    elif any(issued for _a, issued in approved_lines):
        status = RequestStatus.PARTLY_FULFILLED
    else:
        status = RequestStatus.APPROVED
    if status != request.status:
        SupplyRequest.objects.filter(pk=request.pk).update(status=status)
        request.status = status


def _summary(request: SupplyRequest) -> dict[str, Any]:
    return {
        "number": request.number,
        "status": request.status,
        "destination": request.destination_id,
        "needed_by": request.needed_by,
        "lines": [
            {
                "item": line.item_id,
                "requested": line.requested,
                "approved": line.approved,
                "issued": line.issued,
            }
            for line in request.lines.all()
        ],
    }


def _locked(request: SupplyRequest) -> SupplyRequest:
    return SupplyRequest.objects.select_for_update().get(pk=request.pk)


@with_retry
def submit_request(
    *,
    actor: Any,
    site: Site,
    lines: Sequence[RequestLineInput],
    needed_by: dt.date | None = None,
    note: str = "",
) -> SupplyRequest:
    """A new request from ``site`` (a village point, a testing site...), status submitted."""
    require_permission(actor, Perm.REQUEST_SUPPLIES, site.region_code)
    errors: dict[str, list[str]] = {}
    note = clean_text(note, max_length=NOTE_MAX, field="note", multiline=True)
    today = timezone.localdate()
    if needed_by is not None:
        if needed_by < today:
            errors.setdefault("needed_by", []).append(_("The date has already passed."))
        elif needed_by > today + NEEDED_BY_HORIZON:
            errors.setdefault("needed_by", []).append(
                _("Choose a date within %(days)d days.") % {"days": NEEDED_BY_HORIZON.days}
            )
    if not lines:
        errors.setdefault("lines", []).append(_("Add at least one line."))
    elif len(lines) > MAX_LINES:
        errors.setdefault("lines", []).append(
            _("At most %(max)d lines per request.") % {"max": MAX_LINES}
        )
    seen: set[int] = set()
    for index, line in enumerate(lines):
        if line.item.pk in seen:
            errors.setdefault(f"lines.{index}.item", []).append(
                _("%(item)s is listed twice; put it on one line.") % {"item": line.item}
            )
        seen.add(line.item.pk)
        if not line.item.active:
            errors.setdefault(f"lines.{index}.item", []).append(
                _("%(item)s is no longer in the catalogue.") % {"item": line.item}
            )
        if not 0 < line.quantity <= MAX_QUANTITY:
            errors.setdefault(f"lines.{index}.quantity", []).append(
                _("The quantity must be more than zero.")
                if line.quantity <= 0
                else _("The quantity is too large.")
            )
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        destination = location_for_site(site)
        now = timezone.now()
        request = SupplyRequest.objects.create(
            number=next_number(REQUEST_PREFIX),
            status=RequestStatus.SUBMITTED,
            region_code=site.region_code,
            site=site,
            destination=destination,
            needed_by=needed_by,
            note=note,
            submitted_by=actor if getattr(actor, "is_authenticated", False) else None,
            submitted_at=now,
        )
        SupplyRequestLine.objects.bulk_create(
            [
                SupplyRequestLine(
                    request=request,
                    item=line.item,
                    requested=line.quantity,
                    note=clean_text(line.note, max_length=LINE_NOTE_MAX),
                )
                for line in lines
            ]
        )
        audit.record(actor, "supplies.submit_request", request, after=_summary(request))
    return request


@with_retry
def cancel_request(request: SupplyRequest, *, actor: Any) -> SupplyRequest:
    """The requester withdraws a request nobody has decided yet (已撤回)."""
    require_permission(actor, Perm.REQUEST_SUPPLIES, request.region_code)
    with transaction.atomic():
        locked = _locked(request)
        if locked.status != RequestStatus.SUBMITTED:
            raise ValidationError(
                _("Only a request that has not been decided can be withdrawn."),
                code="not_submitted",
            )
        SupplyRequest.objects.filter(pk=locked.pk).update(status=RequestStatus.CANCELLED)
        audit.record(
            actor,
            "supplies.cancel_request",
            locked,
            before={"status": RequestStatus.SUBMITTED},
            after={"status": RequestStatus.CANCELLED},
        )
    locked.status = RequestStatus.CANCELLED
    return locked


@with_retry
def approve_request(
    request: SupplyRequest,
    *,
    actor: Any,
    approved: Mapping[int, int] | None = None,
    note: str = "",
) -> SupplyRequest:
    """Approve each line, up to what was requested (a line missing from ``approved`` is
    approved as requested; 0 approves none of it). More than requested is an error."""
    require_permission(actor, Perm.APPROVE_REQUESTS, request.region_code)
    note = clean_text(note, max_length=DECISION_NOTE_MAX, field="decision_note")
    approved = dict(approved or {})
    with transaction.atomic():
        locked = _locked(request)
        if locked.status != RequestStatus.SUBMITTED:
            raise ValidationError(
                _("This request has already been decided or withdrawn."), code="not_submitted"
            )
        lines = list(locked.lines.select_related("item").order_by("pk"))
        known = {line.pk for line in lines}
        errors: dict[str, list[str]] = {}
        for line_id in approved:
            if line_id not in known:
                errors.setdefault("approved", []).append(
                    _("Line %(line)s is not part of this request.") % {"line": line_id}
                )
        decided: dict[int, int] = {}
        for line in lines:
            quantity = approved.get(line.pk, line.requested)
            field = f"approved.{line.pk}"
            if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
                errors.setdefault(field, []).append(_("Enter a whole number, zero or more."))
            elif quantity > line.requested:
                errors.setdefault(field, []).append(
                    _(
                        "%(item)s: %(requested)s %(unit)s requested; approve at most that "
                        "(%(approved)s %(unit)s entered)."
                    )
                    % {
                        "item": line.item,
                        "requested": line.requested,
                        "approved": quantity,
                        "unit": line.item.base_unit,
                    }
                )
            else:
                decided[line.pk] = quantity
        if not errors and not any(decided.values()):
            errors.setdefault("approved", []).append(
                _("Nothing is approved: approve at least one line, or reject the request.")
            )
        if errors:
            raise ValidationError(errors)
        before = _summary(locked)
        for line in lines:
            SupplyRequestLine.objects.filter(pk=line.pk).update(approved=decided[line.pk])
        SupplyRequest.objects.filter(pk=locked.pk).update(
            status=RequestStatus.APPROVED,
            decided_by=actor if getattr(actor, "is_authenticated", False) else None,
            decided_at=timezone.now(),
            decision_note=note,
        )
        locked.refresh_from_db()
        audit.record(
            actor,
            "supplies.approve_request",
            locked,
            before=before,
            after={**_summary(locked), "note": note},
        )
    return locked


@with_retry
def reject_request(request: SupplyRequest, *, actor: Any, note: str) -> SupplyRequest:
    """Refuse a request, saying why (the requester reads the note)."""
    require_permission(actor, Perm.APPROVE_REQUESTS, request.region_code)
    note = clean_text(note, max_length=DECISION_NOTE_MAX, field="decision_note", required=True)
    with transaction.atomic():
        locked = _locked(request)
        if locked.status != RequestStatus.SUBMITTED:
            raise ValidationError(
                _("This request has already been decided or withdrawn."), code="not_submitted"
            )
        SupplyRequest.objects.filter(pk=locked.pk).update(
            status=RequestStatus.REJECTED,
            decided_by=actor if getattr(actor, "is_authenticated", False) else None,
            decided_at=timezone.now(),
            decision_note=note,
        )
        locked.refresh_from_db()
        audit.record(
            actor,
            "supplies.reject_request",
            locked,
            before={"status": RequestStatus.SUBMITTED},
            after={"status": RequestStatus.REJECTED, "note": note},
        )
    return locked


def remaining(line: SupplyRequestLine) -> int:
    """What is still to be issued on an approved line."""
    return max((line.approved or 0) - line.issued, 0)


def fulfil_request(
    request: SupplyRequest,
    *,
    actor: Any,
    source: Location,
    lines: Sequence[FulfilLine],
    note: str = "",
    idempotency_key: str | None = None,
) -> StockDocument:
    """Send approved goods from a depot to the request's destination: one transfer whose
    lines credit the request lines (the documents action locks them, refuses more than
    approved and refreshes the request's status)."""
    require_permission(actor, Perm.POST_STOCK, source.region_code)
    if idempotency_key:
        # A repeated submission returns the first transfer, whatever has happened since.
        existing = StockDocument.objects.filter(
            idempotency_key=idempotency_key.strip()[:64], request=request
        ).first()
        if existing is not None:
            return existing
    errors: dict[str, list[str]] = {}
    # The caller's copy may be stale (approved since it was read): decide on the row.
    request.refresh_from_db(fields=["status"])
    if request.status not in FULFILLABLE:
        raise ValidationError(
            _("Only an approved request can be fulfilled (this one is %(status)s).")
            % {"status": request.get_status_display()},
            code="not_approved",
        )
    if request.destination is None:
        raise ValidationError(_("This request has no destination."), code="no_destination")
    if source.kind != LocationKind.SITE:
        errors.setdefault("source", []).append(_("Choose a depot."))
    elif source.pk == request.destination_id:
        errors.setdefault("source", []).append(
            _("The goods are already at the requesting location; choose a depot.")
        )
    picked = [line for line in lines if line.quantity]
    if not picked:
        errors.setdefault("lines", []).append(_("Enter at least one quantity to send."))
    for index, line in enumerate(picked):
        if line.request_line.request_id != request.pk:
            errors.setdefault(f"lines.{index}", []).append(
                _("This line belongs to another request.")
            )
    if errors:
        raise ValidationError(errors)
    return post_stock_document(
        kind=DocumentKind.TRANSFER,
        actor=actor,
        source=source,
        destination=request.destination,
        request=request,
        note=note,
        idempotency_key=idempotency_key,
        lines=[
            LineInput(
                item=line.request_line.item,
                lot=line.lot,
                quantity=line.quantity,
                request_line=line.request_line,
            )
            for line in picked
        ],
    )
