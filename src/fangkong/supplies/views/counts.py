"""Stock-take pages (盘点): list, start, count on a phone line by line (htmx), add a found
line, close (one adjustment) or cancel, and the printable count sheet (盘点表).

Reading needs Perm.VIEW_STOCK over the count's location; every change Perm.COUNT_STOCK
(403 without it anywhere; a count outside the user's regions is a 404).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fangkong.accounts.roles import Perm
from fangkong.core.scoping import get_scoped_or_404, has_permission, restrict
from fangkong.geo.forms import apply_action_errors
from fangkong.geo.views import require_anywhere
from fangkong.supplies.actions import counts as actions
from fangkong.supplies.filters_counts import StockCountFilter
from fangkong.supplies.forms.counts import (
    AddCountLineForm,
    CancelCountForm,
    CloseCountForm,
    EnterCountForm,
    StartCountForm,
)
from fangkong.supplies.models import CountStatus, Pack, StockCount, StockCountLine
from fangkong.supplies.quantities import PackSize, format_quantity

MAX_PK = 2**63 - 1
PER_PAGE = 50
SEARCH_MAX = 64


def visible_counts(user: Any, permission: str = Perm.VIEW_STOCK) -> QuerySet[StockCount]:
    """Counts in the user's regions with their progress (counted / total lines)."""
    return restrict(
        StockCount.objects.select_related("location").annotate(
            total_lines=Count("lines"),
            counted_lines=Count("lines", filter=Q(lines__counted_quantity__isnull=False)),
        ),
        user,
        permission,
    )


def get_count(user: Any, pk: int, permission: str = Perm.VIEW_STOCK) -> StockCount:
    if not 0 < pk <= MAX_PK:
        raise Http404
    return get_scoped_or_404(visible_counts(user), user, permission, pk=pk)


def packs_by_item(item_ids: set[int]) -> dict[int, list[PackSize]]:
    found: dict[int, list[PackSize]] = {}
    for item_id, name, size in Pack.objects.filter(item_id__in=item_ids).values_list(
        "item_id", "name", "size"
    ):
        found.setdefault(item_id, []).append(PackSize(name, size))
    return found


@dataclass
class LineRow:
    """A count line with its quantities written out in units and packs."""

    line: StockCountLine
    system: str
    counted: str
    closing: str
    difference: int | None
    difference_text: str
    system_packs: str

    @property
    def pk(self) -> int:
        return self.line.pk


def line_rows(lines: list[StockCountLine]) -> list[LineRow]:
    packs = packs_by_item({line.item_id for line in lines})
    rows = []
    for line in lines:
        unit, item_packs = line.item.base_unit, packs.get(line.item_id, [])
        base = (
            line.closing_system_quantity
            if line.closing_system_quantity is not None
            else line.system_quantity
        )
        difference = None if line.counted_quantity is None else line.counted_quantity - base
        largest = max(item_packs, key=lambda p: p.size, default=None)
        rows.append(
            LineRow(
                line=line,
                system=format_quantity(line.system_quantity, unit, item_packs),
                counted=""
                if line.counted_quantity is None
                else format_quantity(line.counted_quantity, unit, item_packs),
                closing=""
                if line.closing_system_quantity is None
                else format_quantity(line.closing_system_quantity, unit, item_packs),
                difference=difference,
                difference_text=""
                if difference is None
                else (f"+{difference}" if difference > 0 else str(difference)) + f" {unit}",
                system_packs=(
                    f"{line.system_quantity // largest.size} {largest.name}"
                    + (
                        f" {line.system_quantity % largest.size} {unit}"
                        if line.system_quantity % largest.size
                        else ""
                    )
                    if largest is not None
                    else ""
                ),
            )
        )
    return rows


def count_lines(count: StockCount, search: str = "") -> list[StockCountLine]:
    lines = count.lines.select_related("item", "lot", "counted_by").order_by(
        "item__category", "item__name", "lot__code", "id"
    )
    if search:
        lines = lines.filter(
            Q(item__name__contains=search)
            | Q(item__code__iexact=search)
            | Q(lot__code__iexact=search)
        )
    return list(lines)


# ------------------------------------------------------------------- list, start


@require_anywhere(Perm.VIEW_STOCK)
def count_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    count_filter = StockCountFilter(
        request.GET or None, queryset=visible_counts(user).order_by("-started_at", "-id")
    )
    queryset = (
        count_filter.qs
        if not count_filter.is_bound or count_filter.is_valid()
        else StockCount.objects.none()
    )
    page = Paginator(queryset, PER_PAGE).get_page(request.GET.get("page"))
    can_count = has_permission(user, Perm.COUNT_STOCK)
    return render(
        request,
        "supplies/counts/count_list.html",
        {
            "tab": "counts",
            "filter": count_filter,
            "page": page,
            "start_form": StartCountForm(user=user) if can_count else None,
            "query": request.GET.urlencode(),
        },
    )


@require_POST
@require_anywhere(Perm.COUNT_STOCK)
def count_start(request: HttpRequest) -> HttpResponse:
    form = StartCountForm(request.POST, user=request.user)
    if form.is_valid():
        try:
            count = actions.start_count(
                actor=request.user,
                location=form.cleaned_data["location"],
                category=form.cleaned_data["category"],
                note=form.cleaned_data["note"],
            )
        except ValidationError as exc:
            apply_action_errors(form, exc)
        else:
            messages.success(
                request, _("Stock-take %(number)s started.") % {"number": count.number}
            )
            return redirect("supplies:count_detail", pk=count.pk)
    count_filter = StockCountFilter(None, queryset=visible_counts(request.user))
    page = Paginator(count_filter.qs.order_by("-started_at", "-id"), PER_PAGE).get_page(1)
    return render(
        request,
        "supplies/counts/count_list.html",
        {"tab": "counts", "filter": count_filter, "page": page, "start_form": form, "query": ""},
        status=422,
    )


# ------------------------------------------------------------------- detail, counting


def _detail_context(request: HttpRequest, count: StockCount, **extra: Any) -> dict[str, Any]:
    search = (request.GET.get("q") or "").strip()[:SEARCH_MAX]
    can_count = has_permission(request.user, Perm.COUNT_STOCK, count.region_code)
    is_open = count.status == CountStatus.OPEN
    context: dict[str, Any] = {
        "tab": "counts",
        "count": count,
        "rows": line_rows(count_lines(count, search)),
        "search": search,
        "can_count": can_count and is_open,
        "documents": list(count.documents.only("pk", "number", "kind", "status")),
        "add_form": AddCountLineForm() if can_count and is_open else None,
        "close_form": CloseCountForm() if can_count and is_open else None,
        "cancel_form": CancelCountForm() if can_count and is_open else None,
    }
    context.update(extra)
    return context


@require_anywhere(Perm.VIEW_STOCK)
def count_detail(request: HttpRequest, pk: int) -> HttpResponse:
    count = get_count(request.user, pk)
    return render(request, "supplies/counts/count_detail.html", _detail_context(request, count))


def _count_for_change(request: HttpRequest, pk: int) -> StockCount:
    count = get_count(request.user, pk)
    if not has_permission(request.user, Perm.COUNT_STOCK, count.region_code):
        raise PermissionDenied
    return count


@require_POST
@require_anywhere(Perm.COUNT_STOCK)
def count_enter(request: HttpRequest, pk: int, line_pk: int) -> HttpResponse:
    """Save one line's count; htmx gets the line back (and the progress out of band)."""
    count = _count_for_change(request, pk)
    if not 0 < line_pk <= MAX_PK:
        raise Http404
    line = count.lines.select_related("item", "lot", "count").filter(pk=line_pk).first()
    if line is None:
        raise Http404
    form = EnterCountForm(request.POST)
    error = ""
    if form.is_valid():
        try:
            actions.enter_count(
                actor=request.user, line=line, counted=form.cleaned_data["counted_quantity"]
            )
        except ValidationError as exc:
            error = " ".join(exc.messages)
    else:
        error = " ".join(str(m) for errors in form.errors.values() for m in errors)
    if not request.htmx:  # type: ignore[attr-defined]
        if error:
            messages.error(request, f"{line.item}: {error}")
        return redirect("supplies:count_detail", pk=count.pk)
    refreshed = get_count(request.user, pk)
    fresh = refreshed.lines.select_related("item", "lot", "counted_by").get(pk=line.pk)
    row = line_rows([fresh])[0]
    return render(
        request,
        "supplies/counts/_line.html",
        {
            "row": row,
            "count": refreshed,
            "can_count": refreshed.status == CountStatus.OPEN,
            "error": error,
            "typed": request.POST.get("counted_quantity", "")[:32] if error else "",
            "oob": True,
        },
    )


@require_POST
@require_anywhere(Perm.COUNT_STOCK)
def count_add_line(request: HttpRequest, pk: int) -> HttpResponse:
    count = _count_for_change(request, pk)
    form = AddCountLineForm(request.POST)
    if form.is_valid():
        try:
            actions.add_count_line(
                actor=request.user,
                count=count,
                item=form.cleaned_data["item"],
                lot_code=form.cleaned_data["lot"],
                counted=form.cleaned_data["counted_quantity"],
            )
        except ValidationError as exc:
            apply_action_errors(form, exc, {"counted_quantity": "counted_quantity"})
        else:
            messages.success(request, _("Line added."))
            return redirect("supplies:count_detail", pk=count.pk)
    return render(
        request,
        "supplies/counts/count_detail.html",
        _detail_context(request, count, add_form=form),
        status=422,
    )


@require_POST
@require_anywhere(Perm.COUNT_STOCK)
def count_close(request: HttpRequest, pk: int) -> HttpResponse:
    count = _count_for_change(request, pk)
    form = CloseCountForm(request.POST)
    form.is_valid()
    try:
        document = actions.close_count(
            actor=request.user,
            count=count,
            treat_uncounted_as_unchanged=bool(
                form.cleaned_data.get("treat_uncounted_as_unchanged")
            ),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("supplies:count_detail", pk=count.pk)
    if document is not None:
        messages.success(
            request,
            _("Stock-take closed; adjustment %(number)s posted the differences.")
            % {"number": document.number},
        )
    else:
        messages.success(request, _("Stock-take closed; everything matched, nothing posted."))
    return redirect("supplies:count_detail", pk=count.pk)


@require_POST
@require_anywhere(Perm.COUNT_STOCK)
def count_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    count = _count_for_change(request, pk)
    form = CancelCountForm(request.POST)
    form.is_valid()
    try:
        actions.cancel_count(
            actor=request.user, count=count, note=form.cleaned_data.get("note", "")
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Stock-take cancelled."))
    return redirect("supplies:count_detail", pk=count.pk)


@require_anywhere(Perm.VIEW_STOCK)
def count_sheet(request: HttpRequest, pk: int) -> HttpResponse:
    """The printable count sheet (盘点表): a blank column to count into, and signatures."""
    count = get_count(request.user, pk)
    return render(
        request,
        "supplies/counts/count_sheet.html",
        {"count": count, "rows": line_rows(count_lines(count))},
    )


urlpatterns = [
    path("counts/", count_list, name="count_list"),
    path("counts/start/", count_start, name="count_start"),
    path("counts/<int:pk>/", count_detail, name="count_detail"),
    path("counts/<int:pk>/sheet/", count_sheet, name="count_sheet"),
    path("counts/<int:pk>/lines/", count_add_line, name="count_add_line"),
    path("counts/<int:pk>/lines/<int:line_pk>/", count_enter, name="count_enter"),
    path("counts/<int:pk>/close/", count_close, name="count_close"),
    path("counts/<int:pk>/cancel/", count_cancel, name="count_cancel"),
]
