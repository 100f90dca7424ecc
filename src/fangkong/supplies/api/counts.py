"""API: stock-takes (盘点) under /api/v1/supplies/counts.

Reading needs Perm.VIEW_STOCK over the count's location; starting, counting, closing and
cancelling need Perm.COUNT_STOCK there. A count outside the caller's regions is a 404.
Counted quantities are whole numbers in the item's base unit (strings with full-width
digits are accepted); a closed or cancelled count refuses every change with 422.
"""

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import StrictInt, StrictStr

from fangkong.accounts.roles import Perm
from fangkong.core.pagination import PageNumber
from fangkong.core.scoping import ensure_permission_somewhere, has_permission
from fangkong.supplies.actions import counts as actions
from fangkong.supplies.filters_counts import StockCountFilter
from fangkong.supplies.forms.counts import count_locations
from fangkong.supplies.models import Item, StockCount, StockCountLine
from fangkong.supplies.views.counts import MAX_PK, count_lines, get_count, visible_counts

router = Router(tags=["supplies"])


class CountOut(Schema):
    id: int
    number: str
    status: str
    location_id: int
    location: str
    region_code: str
    started_at: dt.datetime
    closed_at: dt.datetime | None
    note: str
    total_lines: int = 0
    counted_lines: int = 0

    @staticmethod
    def resolve_location(obj: StockCount) -> str:
        return obj.location.name


class CountLineOut(Schema):
    id: int
    item_id: int
    item: str
    unit: str
    lot: str
    system_quantity: int = Field(description="balance when the count started")
    closing_system_quantity: int | None = Field(description="balance when the count closed")
    counted_quantity: int | None
    difference: int | None = Field(description="counted − balance at close (or now if open)")
    counted_at: dt.datetime | None

    @staticmethod
    def resolve_item(obj: StockCountLine) -> str:
        return str(obj.item)

    @staticmethod
    def resolve_unit(obj: StockCountLine) -> str:
        return obj.item.base_unit

    @staticmethod
    def resolve_lot(obj: StockCountLine) -> str:
        return obj.lot.code

    @staticmethod
    def resolve_difference(obj: StockCountLine) -> int | None:
        if obj.counted_quantity is None:
            return None
        base = (
            obj.closing_system_quantity
            if obj.closing_system_quantity is not None
            else obj.system_quantity
        )
        return obj.counted_quantity - base


class CountDetailOut(CountOut):
    lines: list[CountLineOut] = []
    adjustment: str | None = None

    @staticmethod
    def resolve_lines(obj: StockCount) -> list[StockCountLine]:
        return getattr(obj, "line_list", [])

    @staticmethod
    def resolve_adjustment(obj: StockCount) -> str | None:
        return getattr(obj, "adjustment_number", None)


class StartCountIn(Schema):
    location_id: int
    category: str = ""
    note: str = ""


class EnterCountIn(Schema):
    counted_quantity: StrictInt | StrictStr = Field(description='whole units; "１２０" is accepted')


class AddLineIn(Schema):
    item_id: int
    lot: str = ""
    counted_quantity: StrictInt | StrictStr | None = None


class CloseCountIn(Schema):
    treat_uncounted_as_unchanged: bool = False


class CancelCountIn(Schema):
    note: str = ""


def _detail(request: HttpRequest, pk: int) -> StockCount:
    count = get_count(request.user, pk)
    count.line_list = count_lines(count)  # type: ignore[attr-defined]
    document = count.documents.order_by("id").first()
    count.adjustment_number = document.number if document else None  # type: ignore[attr-defined]
    return count


def _for_change(request: HttpRequest, pk: int) -> StockCount:
    count = get_count(request.user, pk)
    if not has_permission(request.user, Perm.COUNT_STOCK, count.region_code):
        raise PermissionDenied
    return count


@router.get("/counts", response=list[CountOut])
@paginate(PageNumber)
def list_counts(
    request: HttpRequest,
    status: str | None = None,
    location: str | None = None,
    started_from: str | None = None,
    started_to: str | None = None,
) -> Any:
    """Stock-takes in the caller's regions, newest first, with their progress."""
    ensure_permission_somewhere(request.user, Perm.VIEW_STOCK)
    data = {
        k: v
        for k, v in {
            "status": status,
            "location": location,
            "started_from": started_from,
            "started_to": started_to,
        }.items()
        if v not in (None, "")
    }
    filterset = StockCountFilter(
        data, queryset=visible_counts(request.user).order_by("-started_at", "-id")
    )
    if not filterset.is_valid():
        raise ValidationError({k: list(v) for k, v in filterset.errors.items()})
    return filterset.qs


@router.get("/counts/{count_id}", response=CountDetailOut)
def get_count_detail(request: HttpRequest, count_id: int) -> StockCount:
    ensure_permission_somewhere(request.user, Perm.VIEW_STOCK)
    return _detail(request, count_id)


@router.post("/counts", response={201: CountDetailOut})
def start_count(request: HttpRequest, payload: StartCountIn) -> Status[StockCount]:
    """Start a count at a location: its lines are the balances on hand now."""
    ensure_permission_somewhere(request.user, Perm.COUNT_STOCK)
    if not 0 < payload.location_id <= MAX_PK:
        raise Http404
    location = count_locations(request.user).filter(pk=payload.location_id).first()
    if location is None:
        raise Http404
    count = actions.start_count(
        actor=request.user, location=location, category=payload.category, note=payload.note
    )
    return Status(201, _detail(request, count.pk))


@router.post("/counts/{count_id}/lines/{line_id}", response=CountLineOut)
def enter_count(
    request: HttpRequest, count_id: int, line_id: int, payload: EnterCountIn
) -> StockCountLine:
    """Enter (or correct) what was counted on one line."""
    ensure_permission_somewhere(request.user, Perm.COUNT_STOCK)
    count = _for_change(request, count_id)
    if not 0 < line_id <= MAX_PK:
        raise Http404
    line = count.lines.select_related("item", "lot", "count").filter(pk=line_id).first()
    if line is None:
        raise Http404
    actions.enter_count(actor=request.user, line=line, counted=payload.counted_quantity)
    return StockCountLine.objects.select_related("item", "lot").get(pk=line.pk)


@router.post("/counts/{count_id}/lines", response={201: CountLineOut})
def add_line(request: HttpRequest, count_id: int, payload: AddLineIn) -> Status[StockCountLine]:
    """Add a line for goods found that the sheet does not list."""
    ensure_permission_somewhere(request.user, Perm.COUNT_STOCK)
    count = _for_change(request, count_id)
    item = (
        Item.objects.filter(pk=payload.item_id, active=True).first()
        if 0 < payload.item_id <= MAX_PK
        else None
    )
    if item is None:
        raise ValidationError({"item_id": [_("No such item in the catalogue.")]})
    line = actions.add_count_line(
        actor=request.user,
        count=count,
        item=item,
        lot_code=payload.lot,
        counted=payload.counted_quantity,
    )
    return Status(201, StockCountLine.objects.select_related("item", "lot").get(pk=line.pk))


@router.post("/counts/{count_id}/close", response=CountDetailOut)
def close_count(request: HttpRequest, count_id: int, payload: CloseCountIn) -> StockCount:
    """Close the count and post one adjustment: counted − the balance at closing."""
    ensure_permission_somewhere(request.user, Perm.COUNT_STOCK)
    count = _for_change(request, count_id)
    actions.close_count(
        actor=request.user,
        count=count,
        treat_uncounted_as_unchanged=payload.treat_uncounted_as_unchanged,
    )
    return _detail(request, count_id)


@router.post("/counts/{count_id}/cancel", response=CountDetailOut)
def cancel_count(request: HttpRequest, count_id: int, payload: CancelCountIn) -> StockCount:
    ensure_permission_somewhere(request.user, Perm.COUNT_STOCK)
    count = _for_change(request, count_id)
    actions.cancel_count(actor=request.user, count=count, note=payload.note)
    return _detail(request, count_id)
