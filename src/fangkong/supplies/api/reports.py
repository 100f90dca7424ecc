"""Stock reports API (under /api/v1/supplies): stock on hand, movements over a period, the
daily report, alerts, the ledger, and their exports.

Every route needs Perm.VIEW_STOCK somewhere (403 otherwise) and answers for the caller's
regions only; exports need Perm.EXPORT as well. Filters go through the same forms as the
pages, so a value is accepted or refused with the same message on both.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from ninja import Field, Query, Router, Schema
from ninja.pagination import paginate

from fangkong.accounts.roles import Perm
from fangkong.core.pagination import MAX_PAGE_SIZE, PageNumber
from fangkong.core.scoping import ensure_permission_somewhere, has_permission
from fangkong.supplies import alerts, queries
from fangkong.supplies.forms.reports import (
    DailyReportForm,
    MovementFilter,
    PeriodReportForm,
    StockFilterForm,
)
from fangkong.supplies.views.reports import (
    kind_labels,
    ledger_export_response,
    stock_export_response,
)

router = Router(tags=["supplies"])


class StockLineOut(Schema):
    location_id: int
    location_name: str
    region_code: str
    item_id: int
    item_code: str
    item_name: str
    category: str
    base_unit: str
    quantity: int = Field(description="in the item's base unit")
    display: str = Field(description='units and packs: "1500 套 (30 箱)"')
    minimum: int | None
    low: bool = Field(description="the location's total of the item is below its minimum")
    lot_id: int | None = Field(None, description="with by_lot=true")
    lot_code: str = ""
    expiry_date: dt.date | None = None
    lot_status: str = ""
    expiring: bool = False


class ItemTotalOut(Schema):
    item_id: int
    item_code: str
    item_name: str
    base_unit: str
    quantity: int
    locations: int
    display: str


class StockPageOut(Schema):
    count: int
    page: int
    page_size: int
    items: list[StockLineOut]
    totals: list[ItemTotalOut] = Field(description="per item, over every page")


class FlowLineOut(Schema):
    location_id: int | None
    location_name: str
    region_code: str
    item_id: int
    item_code: str
    item_name: str
    base_unit: str
    opening: int
    received: int
    transferred_in: int
    issued: int
    transferred_out: int
    adjusted: int = Field(description="signed")
    closing: int
    inflow: int
    outflow: int
    closing_display: str


class PeriodOut(Schema):
    start: dt.date
    end: dt.date
    opening_source: str = Field(description="snapshot or derived")
    closing_source: str = Field(description="snapshot, live (today) or derived")
    lines: list[FlowLineOut]
    totals: list[FlowLineOut]


class LowStockOut(Schema):
    location_id: int
    location_name: str
    region_code: str
    item_id: int
    item_name: str
    base_unit: str
    quantity: int
    minimum: int
    shortfall: int
    display: str


class LotAlertOut(Schema):
    location_id: int
    location_name: str
    region_code: str
    item_id: int
    item_name: str
    base_unit: str
    lot_id: int
    lot_code: str
    expiry_date: dt.date | None
    status: str
    quantity: int
    display: str
    expired: bool
    days_left: int | None


class AlertsOut(Schema):
    low_stock: list[LowStockOut]
    expiring: list[LotAlertOut]
    blocked: list[LotAlertOut]


class MovementOut(Schema):
    id: int
    effective_at: dt.datetime
    document_id: int
    document_number: str
    kind: str = Field(description="receipt, issue, transfer_in, transfer_out, adjustment, reversal")
    kind_label: str
    location_id: int
    location_name: str
    item_id: int
    item_name: str
    lot_id: int
    lot_code: str
    quantity: int = Field(description="signed, in the item's base unit")
    base_unit: str
    region_code: str

    @staticmethod
    def resolve_document_number(obj: Any) -> str:
        return str(obj.document.number)

    @staticmethod
    def resolve_kind(obj: Any) -> str:
        return queries.signed_kind(obj)

    @staticmethod
    def resolve_kind_label(obj: Any) -> str:
        return kind_labels().get(queries.signed_kind(obj), "")

    @staticmethod
    def resolve_location_name(obj: Any) -> str:
        return str(obj.location.name)

    @staticmethod
    def resolve_item_name(obj: Any) -> str:
        return str(obj.item)

    @staticmethod
    def resolve_lot_code(obj: Any) -> str:
        return str(obj.lot.code)

    @staticmethod
    def resolve_base_unit(obj: Any) -> str:
        return str(obj.item.base_unit)


def _params(**values: Any) -> dict[str, str]:
    """Query parameters as the forms expect them (booleans as on/off, None left out)."""
    out = {}
    for key, value in values.items():
        if value is None or value is False:
            continue
        out[key] = "on" if value is True else str(value)
    return out


def _require_view(request: HttpRequest) -> None:
    ensure_permission_somewhere(request.user, Perm.VIEW_STOCK)


def _require_export(request: HttpRequest) -> None:
    _require_view(request)
    if not has_permission(request.user, Perm.EXPORT):
        raise PermissionDenied


def _invalid(form: Any) -> ValidationError:
    return ValidationError({k: list(v) for k, v in form.errors.items()})


@router.get("/stock", response=StockPageOut)
def stock(
    request: HttpRequest,
    location: int | None = None,
    category: str | None = None,
    item: int | None = None,
    low_only: bool = False,
    expiring_within: int | None = None,
    by_lot: bool = False,
    page: int = Query(1, ge=1, le=1_000_000),
    page_size: int = Query(100, ge=1, le=MAX_PAGE_SIZE),
) -> dict[str, Any]:
    """Stock on hand by location and item (by lot with by_lot=true) in the caller's scope;
    ``expiring_within`` is a number of days."""
    _require_view(request)
    data = _params(
        location=location,
        category=category,
        item=item,
        low_only=low_only,
        expiring_within=expiring_within,
        by_lot=by_lot,
    )
    form = StockFilterForm(data, user=request.user, permission=Perm.VIEW_STOCK)
    if not form.is_valid():
        raise _invalid(form)
    report = queries.stock_on_hand(request.user, form.query())
    offset = (page - 1) * page_size
    return {
        "count": len(report.lines),
        "page": page,
        "page_size": page_size,
        "items": report.lines[offset : offset + page_size],
        "totals": report.totals,
    }


@router.get("/stock/movements", response=PeriodOut)
def movements(
    request: HttpRequest,
    start: dt.date | None = None,
    end: dt.date | None = None,
    location: int | None = None,
    category: str | None = None,
    item: int | None = None,
) -> queries.PeriodReport:
    """Opening, in, out, adjusted and closing per location and item over local days
    ``start``..``end`` (default: the last 7 days up to today)."""
    _require_view(request)
    data = _params(start=start, end=end, location=location, category=category, item=item)
    form = PeriodReportForm(data, user=request.user, permission=Perm.VIEW_STOCK)
    if not form.is_valid():
        raise _invalid(form)
    cleaned = form.cleaned_data
    return queries.period_report(request.user, cleaned["start"], cleaned["end"], form.query())


@router.get("/stock/daily", response=PeriodOut)
def daily(
    request: HttpRequest,
    day: dt.date | None = None,
    location: int | None = None,
    category: str | None = None,
    item: int | None = None,
) -> queries.PeriodReport:
    """The daily stock report (日报) of one local ``day`` (default: today)."""
    _require_view(request)
    data = _params(day=day, location=location, category=category, item=item)
    form = DailyReportForm(data, user=request.user, permission=Perm.VIEW_STOCK)
    if not form.is_valid():
        raise _invalid(form)
    return queries.daily_report(request.user, form.cleaned_data["day"], form.query())


@router.get("/stock/alerts", response=AlertsOut)
def stock_alerts(request: HttpRequest) -> alerts.Alerts:
    """Low stock, lots expiring within 30 days (or expired) and blocked lots with stock."""
    _require_view(request)
    return alerts.stock_alerts(request.user)


@router.get("/stock/ledger", response=list[MovementOut])
@paginate(PageNumber)
def ledger(
    request: HttpRequest,
    # Dates as text, parsed by the filter form (YYYY-MM-DD), like the page's.
    start: str | None = Query(None, max_length=32),
    end: str | None = Query(None, max_length=32),
    location: int | None = None,
    item: int | None = None,
    kind: str | None = None,
) -> Any:
    """Movements (库存流水) in the caller's scope, oldest first; ``start`` and ``end`` are
    local days (YYYY-MM-DD)."""
    _require_view(request)
    data = _params(start=start, end=end, location=location, item=item, kind=kind)
    movements = MovementFilter(
        data,
        queryset=queries.ledger(request.user),
        request=request,
        permission=Perm.VIEW_STOCK,
    )
    if not movements.is_valid():
        raise _invalid(movements.form)
    return movements.qs


@router.get("/stock/export")
def stock_export(
    request: HttpRequest,
    format: str = Query("xlsx", pattern="^(csv|xlsx)$"),
    encoding: str = Query("utf-8-sig", pattern="^(utf-8-sig|utf-8|gb18030)$"),
    location: int | None = None,
    category: str | None = None,
    item: int | None = None,
    low_only: bool = False,
    expiring_within: int | None = None,
    by_lot: bool = False,
) -> HttpResponseBase:
    """Stock on hand as xlsx or csv (needs the export permission; logged)."""
    _require_export(request)
    data = _params(
        location=location,
        category=category,
        item=item,
        low_only=low_only,
        expiring_within=expiring_within,
        by_lot=by_lot,
    )
    response = stock_export_response(request, {**data, "format": format, "encoding": encoding})
    if response is None:
        form = StockFilterForm(data, user=request.user, permission=queries.EXPORT_SCOPE)
        form.is_valid()
        raise _invalid(form)
    return response


@router.get("/stock/ledger/export")
def ledger_export(
    request: HttpRequest,
    format: str = Query("xlsx", pattern="^(csv|xlsx)$"),
    encoding: str = Query("utf-8-sig", pattern="^(utf-8-sig|utf-8|gb18030)$"),
    start: dt.date | None = None,
    end: dt.date | None = None,
    location: int | None = None,
    item: int | None = None,
    kind: str | None = None,
) -> HttpResponseBase:
    """Movements as xlsx or csv (needs the export permission; logged)."""
    _require_export(request)
    data = _params(start=start, end=end, location=location, item=item, kind=kind)
    response = ledger_export_response(request, {**data, "format": format, "encoding": encoding})
    if response is None:
        movements = MovementFilter(
            data,
            queryset=queries.ledger(request.user, queries.EXPORT_SCOPE),
            request=request,
            permission=queries.EXPORT_SCOPE,
        )
        movements.is_valid()
        raise _invalid(movements.form)
    return response
