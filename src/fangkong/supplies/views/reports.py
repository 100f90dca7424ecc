"""Stock reports: stock on hand (the supplies home page) with its alerts, the daily report
(日报), movements over a period, the ledger, and their exports.

Access: every page needs Perm.VIEW_STOCK somewhere (else 403) and shows only the user's
regions; exports need Perm.EXPORT as well and cover only the regions where the user holds
both. All numbers come from ``supplies.queries`` (fixed number of queries per page).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from fangkong.accounts.roles import Perm
from fangkong.core.exports import Column, Export, export_region_code, export_response
from fangkong.core.scoping import has_permission
from fangkong.geo.views import require_anywhere
from fangkong.supplies import alerts, queries
from fangkong.supplies.forms.reports import (
    DailyReportForm,
    MovementFilter,
    PeriodReportForm,
    StockFilterForm,
)
from fangkong.supplies.models import DocumentKind, ItemCategory, LotStatus, Movement

STOCK_PER_PAGE = 100
LEDGER_PER_PAGE = 50


def _query_without_page(request: HttpRequest) -> str:
    params: QueryDict = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


# ---------------------------------------------------------------- stock on hand


@require_anywhere(Perm.VIEW_STOCK)
def stock_home(request: HttpRequest) -> HttpResponse:
    """Stock on hand by location and item (or lot) in the user's scope, with alerts."""
    user = request.user
    form = StockFilterForm(request.GET or None, user=user, permission=Perm.VIEW_STOCK)
    packs = queries.pack_sizes()
    report = None
    if not form.is_bound or form.is_valid():
        query = form.query() if form.is_bound else queries.StockQuery()
        report = queries.stock_on_hand(user, query, packs=packs)
    page = Paginator(report.lines if report else [], STOCK_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "supplies/reports/stock.html",
        {
            "tab": "stock",
            "form": form,
            "report": report,
            "page": page,
            "alerts": alerts.stock_alerts(user),
            "query": _query_without_page(request),
            "can_export": has_permission(user, Perm.EXPORT),
        },
    )


class _Computed:
    """A computed list posing as the queryset ``core.exports`` expects (count + iterate)."""

    def __init__(self, items: list[Any]) -> None:
        self._items = items

    def count(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._items)


def stock_columns(by_lot: bool) -> list[Column]:
    categories = {k: str(v) for k, v in ItemCategory.choices}
    statuses = {k: str(v) for k, v in LotStatus.choices}
    columns = [
        Column(_lazy("Location"), lambda line: line.location_name),
        Column(_lazy("Region code"), lambda line: line.region_code),
        Column(_lazy("Item code"), lambda line: line.item_code),
        Column(_lazy("Item"), lambda line: line.item_name),
        Column(_lazy("Category"), lambda line: categories.get(line.category, line.category)),
    ]
    if by_lot:
        columns += [
            Column(_lazy("Lot"), lambda line: line.lot_code),
            Column(_lazy("Expiry date"), lambda line: line.expiry_date),
            Column(_lazy("Lot status"), lambda line: statuses.get(line.lot_status, "")),
        ]
    return [
        *columns,
        Column(_lazy("Quantity"), lambda line: line.quantity),
        Column(_lazy("Unit"), lambda line: line.base_unit),
        Column(_lazy("In packs"), lambda line: line.display),
        Column(_lazy("Minimum"), lambda line: line.minimum),
        Column(_lazy("Low stock"), lambda line: line.low),
    ]


def stock_export_response(request: HttpRequest, data: Any) -> HttpResponseBase | None:
    """The stock-on-hand export for the page and the API; None when the filters are bad."""
    user = request.user
    form = StockFilterForm(data or None, user=user, permission=queries.EXPORT_SCOPE)
    if form.is_bound and not form.is_valid():
        return None
    query = form.query() if form.is_bound else queries.StockQuery()
    report = queries.stock_on_hand(user, query, permission=queries.EXPORT_SCOPE)
    export = Export(
        user=user,
        queryset=cast(QuerySet[Any], _Computed(report.lines)),
        columns=stock_columns(query.by_lot),
        object_type="supplies.balance",
        filename=str(_("stock-on-hand")),
        region_code=export_region_code(user, Perm.EXPORT),
        detail=data.urlencode()[:200] if hasattr(data, "urlencode") else "",
    )
    return export_response(export, data.get("format", "xlsx"), data.get("encoding", "utf-8-sig"))


@require_anywhere(Perm.EXPORT)
def stock_export(request: HttpRequest) -> HttpResponseBase:
    require_view_stock(request)
    response = stock_export_response(request, request.GET)
    if response is None:
        messages.error(request, _("The filter is invalid; fix it before exporting."))
        return redirect("supplies:home")
    return response


def require_view_stock(request: HttpRequest) -> None:
    from fangkong.core.scoping import ensure_permission_somewhere

    ensure_permission_somewhere(request.user, Perm.VIEW_STOCK)


# ---------------------------------------------------------------- daily and period reports


@require_anywhere(Perm.VIEW_STOCK)
def daily_report(request: HttpRequest) -> HttpResponse:
    """The daily stock report (日报) of one local day."""
    form = DailyReportForm(request.GET or {}, user=request.user, permission=Perm.VIEW_STOCK)
    report = None
    if form.is_valid():
        report = queries.daily_report(request.user, form.cleaned_data["day"], form.query())
    return render(
        request,
        "supplies/reports/daily.html",
        {"tab": "reports", "form": form, "report": report},
    )


@require_anywhere(Perm.VIEW_STOCK)
def movement_report(request: HttpRequest) -> HttpResponse:
    """Opening, in, out and closing per location and item over a period of local days."""
    form = PeriodReportForm(request.GET or {}, user=request.user, permission=Perm.VIEW_STOCK)
    report = None
    if form.is_valid():
        data = form.cleaned_data
        report = queries.period_report(request.user, data["start"], data["end"], form.query())
    return render(
        request,
        "supplies/reports/movements.html",
        {"tab": "reports", "form": form, "report": report},
    )


# ---------------------------------------------------------------- the ledger


def kind_labels() -> dict[str, str]:
    labels = {k: str(v) for k, v in DocumentKind.choices}
    labels["transfer_in"] = str(_("Transfer in"))
    labels["transfer_out"] = str(_("Transfer out"))
    return labels


@require_anywhere(Perm.VIEW_STOCK)
def ledger_list(request: HttpRequest) -> HttpResponse:
    """The stock ledger (库存流水), newest first, filtered by period, location, item, kind."""
    movements = MovementFilter(
        request.GET or None,
        queryset=queries.ledger(request.user).order_by("-effective_at", "-id"),
        request=request,
        permission=Perm.VIEW_STOCK,
    )
    page = Paginator(movements.qs, LEDGER_PER_PAGE).get_page(request.GET.get("page"))
    labels = kind_labels()
    rows = [(m, labels.get(queries.signed_kind(m), "")) for m in page.object_list]
    return render(
        request,
        "supplies/reports/ledger.html",
        {
            "tab": "reports",
            "filter": movements,
            "page": page,
            "rows": rows,
            "query": _query_without_page(request),
            "can_export": has_permission(request.user, Perm.EXPORT),
        },
    )


def ledger_columns() -> list[Column]:
    labels = kind_labels()
    return [
        Column(_lazy("Time"), lambda m: m.effective_at),
        Column(_lazy("Document number"), lambda m: m.document.number),
        Column(_lazy("Kind"), lambda m: labels.get(queries.signed_kind(m), "")),
        Column(_lazy("Location"), lambda m: m.location.name),
        Column(_lazy("Item code"), lambda m: m.item.code),
        Column(_lazy("Item"), lambda m: str(m.item)),
        Column(_lazy("Lot"), lambda m: m.lot.code),
        Column(_lazy("Quantity"), lambda m: m.quantity),
        Column(_lazy("Unit"), lambda m: m.item.base_unit),
        Column(_lazy("Region code"), lambda m: m.region_code),
    ]


def ledger_export_response(request: HttpRequest, data: Any) -> HttpResponseBase | None:
    """The ledger export for the page and the API; None when the filters are bad."""
    movements = MovementFilter(
        data or None,
        queryset=queries.ledger(request.user, queries.EXPORT_SCOPE),
        request=request,
        permission=queries.EXPORT_SCOPE,
    )
    if movements.is_bound and not movements.is_valid():
        return None
    export = Export(
        user=request.user,
        queryset=cast(QuerySet[Movement], movements.qs),
        columns=ledger_columns(),
        object_type="supplies.movement",
        filename=str(_("stock-ledger")),
        region_code=export_region_code(request.user, Perm.EXPORT),
        detail=data.urlencode()[:200] if hasattr(data, "urlencode") else "",
    )
    return export_response(export, data.get("format", "xlsx"), data.get("encoding", "utf-8-sig"))


@require_anywhere(Perm.EXPORT)
def ledger_export(request: HttpRequest) -> HttpResponseBase:
    require_view_stock(request)
    response = ledger_export_response(request, request.GET)
    if response is None:
        messages.error(request, _("The filter is invalid; fix it before exporting."))
        return redirect("supplies:ledger")
    return response


urlpatterns = [
    path("", stock_home, name="home"),
    path("stock/export/", stock_export, name="stock_export"),
    path("reports/daily/", daily_report, name="daily_report"),
    path("reports/movements/", movement_report, name="movement_report"),
    path("reports/ledger/", ledger_list, name="ledger"),
    path("reports/ledger/export/", ledger_export, name="ledger_export"),
]
