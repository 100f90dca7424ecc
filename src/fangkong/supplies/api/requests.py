"""API: supply requests (需求上报) under /api/v1/supplies/requests.

Visible with Perm.VIEW_STOCK over the requester's region (else 404). Submitting and
withdrawing need Perm.REQUEST_SUPPLIES, approving and rejecting Perm.APPROVE_REQUESTS,
fulfilling Perm.POST_STOCK over the depot (403 when the role does not allow it).
Quantities are base units, or text such as "30 箱" (packs of the item).

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
from fangkong.core.pagination import PageNumber
from fangkong.core.scoping import has_permission, restrict
from fangkong.geo.models import Site
from fangkong.supplies.actions import requests as actions
from fangkong.supplies.filters_requests import RequestFilter, visible_requests
from fangkong.supplies.forms.requests import find_lot, parse_amount
from fangkong.supplies.models import Item, Location, SupplyRequest, SupplyRequestLine

router = Router(tags=["supplies"])

MAX_ID = 2**63 - 1


class RequestLineOut(Schema):
    id: int
    item_id: int
    item_name: str
    unit: str
    requested: int
    approved: int | None
    issued: int
    remaining: int
    note: str

    @staticmethod
    def resolve_item_name(obj: SupplyRequestLine) -> str:
        return str(obj.item)

    @staticmethod
    def resolve_unit(obj: SupplyRequestLine) -> str:
        return obj.item.base_unit

    @staticmethod
    def resolve_remaining(obj: SupplyRequestLine) -> int:
        return actions.remaining(obj)


class RequestOut(Schema):
    id: int
    number: str
    status: str
    status_label: str
    region_code: str
    site_id: int | None
    destination_id: int | None
    destination_name: str
    needed_by: dt.date | None
    note: str
    submitted_at: dt.datetime | None
    decided_at: dt.datetime | None
    decision_note: str
    lines: list[RequestLineOut]

    @staticmethod
    def resolve_status_label(obj: SupplyRequest) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_destination_name(obj: SupplyRequest) -> str:
        return obj.destination.name if obj.destination else ""

    @staticmethod
    def resolve_lines(obj: SupplyRequest) -> list[SupplyRequestLine]:
        return list(obj.lines.all())


class RequestLineIn(Schema):
    item_id: int
    quantity: StrictInt | str = Field(description='base units, or text such as "30 箱"')
    note: str = ""


class RequestIn(Schema):
    site_id: int = Field(description="the requesting site (village point, testing site...)")
    needed_by: dt.date | None = None
    note: str = ""
    lines: list[RequestLineIn] = Field(..., max_length=actions.MAX_LINES)


class ApproveIn(Schema):
    approved: dict[int, int] | None = Field(
        None,
        description="approved base units per request line id; a line not listed is "
        "approved as requested, 0 approves none of it",
    )
    note: str = ""


class RejectIn(Schema):
    note: str = Field(..., description="why (the requester reads it)")


class FulfilLineIn(Schema):
    line_id: int
    quantity: StrictInt | str
    lot: str = Field("", description='lot code; "" for items without lots')


class FulfilIn(Schema):
    source_id: int = Field(description="the depot's stock location")
    lines: list[FulfilLineIn] = Field(..., max_length=actions.MAX_LINES)
    note: str = ""
    idempotency_key: str | None = Field(None, max_length=64)


class DocumentRef(Schema):
    id: int
    number: str
    kind: str


class RequestQuery(Schema):
    q: str | None = Field(None, max_length=64)
    status: str | None = Field(None, max_length=20)
    date_from: str | None = Field(None, max_length=20, description="YYYY-MM-DD (local)")
    date_to: str | None = Field(None, max_length=20)


def _with_lines(queryset: QuerySet[SupplyRequest]) -> QuerySet[SupplyRequest]:
    return queryset.prefetch_related(
        Prefetch("lines", queryset=SupplyRequestLine.objects.select_related("item"))
    )


def _request(request: HttpRequest, request_id: int) -> SupplyRequest:
    if not 0 < request_id <= MAX_ID:
        raise Http404
    found = _with_lines(visible_requests(request.user)).filter(pk=request_id).first()
    if found is None:
        raise Http404
    return found


def _require(request: HttpRequest, permission: str, region_code: str) -> None:
    if not has_permission(request.user, permission, region_code):
        raise PermissionDenied


def _item(item_id: int, field: str) -> Item:
    item = Item.objects.filter(pk=item_id).first() if 0 < item_id <= MAX_ID else None
    if item is None:
        raise ValidationError({field: [_("Unknown item.")]})
    return item


@router.get("/requests", response=list[RequestOut])
@paginate(PageNumber)
def list_requests(request: HttpRequest, filters: Query[RequestQuery]) -> Any:
    """Requests in the caller's regions, newest first."""
    if not has_permission(request.user, Perm.VIEW_STOCK):
        raise PermissionDenied
    data = {k: v for k, v in filters.dict().items() if v not in (None, "")}
    filterset = RequestFilter(
        data, queryset=_with_lines(visible_requests(request.user)).order_by("-created_at", "-id")
    )
    if not filterset.is_valid():
        raise ValidationError({k: list(v) for k, v in filterset.errors.items()})
    return filterset.qs


@router.get("/requests/{request_id}", response=RequestOut)
def get_request(request: HttpRequest, request_id: int) -> SupplyRequest:
    return _request(request, request_id)


@router.post("/requests", response={201: RequestOut})
def create_request(request: HttpRequest, payload: RequestIn) -> Status[SupplyRequest]:
    if not has_permission(request.user, Perm.REQUEST_SUPPLIES):
        raise PermissionDenied
    site = (
        restrict(Site.objects.filter(active=True), request.user, Perm.REQUEST_SUPPLIES)
        .filter(pk=payload.site_id)
        .first()
        if 0 < payload.site_id <= MAX_ID
        else None
    )
    if site is None:
        raise Http404
    lines = []
    errors: dict[str, list[str]] = {}
    for index, line in enumerate(payload.lines):
        try:
            item = _item(line.item_id, f"lines.{index}.item_id")
            quantity = parse_amount(line.quantity, item, field=f"lines.{index}.quantity")
        except ValidationError as exc:
            for key, messages in exc.message_dict.items():
                errors.setdefault(key, []).extend(messages)
            continue
        lines.append(actions.RequestLineInput(item=item, quantity=quantity, note=line.note))
    if errors:
        raise ValidationError(errors)
    made = actions.submit_request(
        actor=request.user,
        site=site,
        lines=lines,
        needed_by=payload.needed_by,
        note=payload.note,
    )
    return Status(201, _request(request, made.pk))


@router.post("/requests/{request_id}/approve", response=RequestOut)
def approve_request(request: HttpRequest, request_id: int, payload: ApproveIn) -> SupplyRequest:
    found = _request(request, request_id)
    _require(request, Perm.APPROVE_REQUESTS, found.region_code)
    actions.approve_request(found, actor=request.user, approved=payload.approved, note=payload.note)
    return _request(request, request_id)


@router.post("/requests/{request_id}/reject", response=RequestOut)
def reject_request(request: HttpRequest, request_id: int, payload: RejectIn) -> SupplyRequest:
    found = _request(request, request_id)
    _require(request, Perm.APPROVE_REQUESTS, found.region_code)
    actions.reject_request(found, actor=request.user, note=payload.note)
    return _request(request, request_id)


@router.post("/requests/{request_id}/cancel", response=RequestOut)
def cancel_request(request: HttpRequest, request_id: int) -> SupplyRequest:
    found = _request(request, request_id)
    _require(request, Perm.REQUEST_SUPPLIES, found.region_code)
    actions.cancel_request(found, actor=request.user)
    return _request(request, request_id)


@router.post("/requests/{request_id}/fulfil", response={201: DocumentRef})
def fulfil_request(request: HttpRequest, request_id: int, payload: FulfilIn) -> Status[Any]:
    """Post a transfer depot → the request's destination for approved lines."""
    if not has_permission(request.user, Perm.POST_STOCK):
        raise PermissionDenied
    found = _request(request, request_id)
    source = (
        restrict(Location.objects.all(), request.user, Perm.VIEW_STOCK)
        .filter(pk=payload.source_id)
        .first()
        if 0 < payload.source_id <= MAX_ID
        else None
    )
    if source is None:
        raise ValidationError({"source_id": [_("Unknown location.")]})
    by_id = {line.pk: line for line in found.lines.all()}
    picked = []
    errors: dict[str, list[str]] = {}
    seen: set[int] = set()
    for index, line in enumerate(payload.lines):
        request_line = by_id.get(line.line_id)
        if request_line is None:
            errors.setdefault(f"lines.{index}.line_id", []).append(
                _("This line belongs to another request.")
            )
            continue
        if line.line_id in seen:
            errors.setdefault(f"lines.{index}.line_id", []).append(_("Line listed twice."))
            continue
        seen.add(line.line_id)
        try:
            quantity = parse_amount(
                line.quantity, request_line.item, field=f"lines.{index}.quantity"
            )
            lot = find_lot(request_line.item, line.lot, field=f"lines.{index}.lot")
        except ValidationError as exc:
            for key, messages in exc.message_dict.items():
                errors.setdefault(key, []).extend(messages)
            continue
        picked.append(actions.FulfilLine(request_line=request_line, lot=lot, quantity=quantity))
    if errors:
        raise ValidationError(errors)
    document = actions.fulfil_request(
        found,
        actor=request.user,
        source=source,
        lines=picked,
        note=payload.note,
        idempotency_key=payload.idempotency_key,
    )
    return Status(201, {"id": document.pk, "number": document.number, "kind": document.kind})
