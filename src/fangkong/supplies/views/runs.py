"""Pages: delivery runs (配送车次): list, plan, stops, dispatch, confirm, complete, run sheet.

Access: a run is visible with Perm.VIEW_STOCK over its origin's region, or over the
region of one of its stops (a village cadre sees the runs stopping in the village, and
of those only the village's own stops). Planning, dispatching, completing and cancelling
need Perm.RUN_DELIVERIES over the origin; confirming a stop Perm.CONFIRM_DELIVERIES over
the stop. Out of scope is 404. The driver's phone is masked; revealing it is logged.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Prefetch, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fangkong.accounts.roles import Perm
from fangkong.core.audit import log_access
from fangkong.core.masking import mask_phone
from fangkong.core.scoping import has_permission
from fangkong.geo.views import require_anywhere
from fangkong.supplies.actions import runs as actions
from fangkong.supplies.filters_requests import RunFilter, visible_runs, visible_stops
from fangkong.supplies.forms.requests import error_messages
from fangkong.supplies.forms.runs import (
    CancelRunForm,
    CompleteRunForm,
    ConfirmStopForm,
    RunForm,
    StopForm,
)
from fangkong.supplies.models import (
    DeliveryRun,
    DeliveryStop,
    DeliveryStopLine,
    Pack,
    RunStatus,
    StopStatus,
)
from fangkong.supplies.plates import display_plate
from fangkong.supplies.views.requests import page_of, quantity_text, query_without_page

MAX_PK = 2**63 - 1


def get_run(request: HttpRequest, pk: int) -> DeliveryRun:
    if pk > MAX_PK:
        raise Http404
    run = visible_runs(request.user).filter(pk=pk).first()
    if run is None:
        raise Http404
    return run


def stops_shown(user: Any, run: DeliveryRun) -> QuerySet[DeliveryStop]:
    """All stops for the depot's side; a village sees only its own stops."""
    return (
        visible_stops(user)
        .filter(run=run)
        .select_related("destination", "confirmed_by")
        .prefetch_related(
            Prefetch(
                "lines",
                queryset=DeliveryStopLine.objects.select_related(
                    "item", "lot", "request_line__request"
                ).prefetch_related(
                    Prefetch("item__packs", queryset=Pack.objects.order_by("-size"))
                ),
            )
        )
        .order_by("sequence")
    )


def _stop_rows(user: Any, run: DeliveryRun) -> list[dict[str, Any]]:
    rows = []
    for stop in stops_shown(user, run):
        lines = [
            {
                "line": line,
                "planned": quantity_text(line.planned, line),
                "delivered": quantity_text(line.delivered, line),
                "shortfall": quantity_text(line.shortfall, line) if line.shortfall else "",
            }
            for line in stop.lines.all()
        ]
        rows.append(
            {
                "stop": stop,
                "lines": lines,
                "can_confirm": run.status == RunStatus.DISPATCHED
                and stop.status == StopStatus.PENDING
                and has_permission(user, Perm.CONFIRM_DELIVERIES, stop.region_code),
            }
        )
    return rows


def _run_context(request: HttpRequest, run: DeliveryRun, **extra: Any) -> dict[str, Any]:
    user = request.user
    can_plan = has_permission(user, Perm.RUN_DELIVERIES, run.region_code)
    planned = run.status == RunStatus.PLANNED
    return {
        "tab": "runs",
        "run": run,
        "plate": display_plate(run.vehicle_plate),
        "driver_phone": mask_phone(run.driver_phone) if run.driver_phone else "",
        "can_reveal": bool(run.driver_phone)
        and has_permission(user, Perm.REVEAL_IDENTITY, run.region_code),
        "stops": _stop_rows(user, run),
        "can_plan": can_plan and planned,
        "can_dispatch": can_plan and planned,
        "can_complete": can_plan and run.status == RunStatus.DISPATCHED,
        "in_transit": actions.in_transit(run) if run.status == RunStatus.DISPATCHED else [],
        "stop_form": extra.pop("stop_form", None)
        or (StopForm(user=user, run=run) if can_plan and planned else None),
        "cancel_form": CancelRunForm() if can_plan and planned else None,
        **extra,
    }


# ---------------------------------------------------------------- list and detail


@require_anywhere(Perm.VIEW_STOCK)
def run_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    queryset = (
        visible_runs(user).annotate(stop_count=Count("stops")).order_by("-departure_at", "-id")
    )
    run_filter = RunFilter(request.GET or None, queryset=queryset)
    page = page_of(request, run_filter.qs)
    for run in page:
        run.plate_display = display_plate(run.vehicle_plate)  # type: ignore[attr-defined]
    return render(
        request,
        "supplies/runs/run_list.html",
        {
            "tab": "runs",
            "filter": run_filter,
            "page": page,
            "query": query_without_page(request),
            "can_create": has_permission(user, Perm.RUN_DELIVERIES),
        },
    )


@require_anywhere(Perm.VIEW_STOCK)
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_run(request, pk)
    return render(request, "supplies/runs/run_detail.html", _run_context(request, run))


@require_anywhere(Perm.VIEW_STOCK)
def run_sheet(request: HttpRequest, pk: int) -> HttpResponse:
    """The printable run sheet (派车单): stops, goods and signature lines."""
    run = get_run(request, pk)
    return render(request, "supplies/runs/run_sheet.html", _run_context(request, run))


@require_POST
@require_anywhere(Perm.VIEW_STOCK)
def run_reveal_phone(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_run(request, pk)
    if not has_permission(request.user, Perm.REVEAL_IDENTITY, run.region_code):
        raise PermissionDenied
    log_access(
        request.user,
        "reveal",
        object_type="supplies.deliveryrun",
        object_id=str(run.pk),
        region_code=run.region_code,
        fields=["driver_phone"],
        unmasked=True,
    )
    return HttpResponse(
        format_html(
            '<span data-testid="driver-phone">{}</span> <span class="small text-danger">{}</span>',
            run.driver_phone,
            _("Shown in full; this view is logged."),
        )
    )


# ---------------------------------------------------------------- planning


def _require_plan(request: HttpRequest, run: DeliveryRun) -> None:
    if not has_permission(request.user, Perm.RUN_DELIVERIES, run.region_code):
        raise PermissionDenied


@require_anywhere(Perm.RUN_DELIVERIES)
def run_create(request: HttpRequest) -> HttpResponse:
    form = RunForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            run = actions.plan_run(
                actor=request.user,
                origin=data["origin"],
                vehicle_plate=data["vehicle_plate"],
                driver_name=data["driver_name"],
                driver_phone=data["driver_phone"],
                departure_at=data["departure_at"],
                note=data["note"],
            )
        except ValidationError as exc:
            form.action_errors(exc)
        else:
            messages.success(
                request, _("Run %(number)s planned; now add its stops.") % {"number": run.number}
            )
            return redirect("supplies:run_detail", pk=run.pk)
    return render(request, "supplies/runs/run_form.html", {"tab": "runs", "form": form})


@require_POST
@require_anywhere(Perm.RUN_DELIVERIES)
def run_add_stop(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_run(request, pk)
    _require_plan(request, run)
    form = StopForm(request.POST, user=request.user, run=run)
    if form.is_valid():
        try:
            actions.add_stop(
                run,
                actor=request.user,
                stop=actions.StopInput(
                    destination=form.cleaned_data["destination"],
                    lines=form.cleaned_data["lines"],
                    note=form.cleaned_data["note"],
                ),
            )
        except ValidationError as exc:
            form.action_errors(exc)
        else:
            messages.success(request, _("Stop added."))
            return redirect("supplies:run_detail", pk=pk)
    return render(
        request,
        "supplies/runs/run_detail.html",
        _run_context(request, run, stop_form=form),
        status=422,
    )


def _stop(run: DeliveryRun, stop_pk: int) -> DeliveryStop:
    if stop_pk > MAX_PK:
        raise Http404
    stop = DeliveryStop.objects.filter(pk=stop_pk, run=run).select_related("run").first()
    if stop is None:
        raise Http404
    return stop


@require_POST
@require_anywhere(Perm.RUN_DELIVERIES)
def run_remove_stop(request: HttpRequest, pk: int, stop_pk: int) -> HttpResponse:
    run = get_run(request, pk)
    _require_plan(request, run)
    try:
        actions.remove_stop(_stop(run, stop_pk), actor=request.user)
    except ValidationError as exc:
        _flash(request, exc)
    else:
        messages.success(request, _("Stop removed."))
    return redirect("supplies:run_detail", pk=pk)


def _flash(request: HttpRequest, exc: ValidationError) -> None:
    for _field, message in error_messages(exc):
        messages.error(request, message)


@require_POST
@require_anywhere(Perm.RUN_DELIVERIES)
def run_dispatch(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_run(request, pk)
    _require_plan(request, run)
    try:
        actions.dispatch_run(run, actor=request.user)
    except ValidationError as exc:
        _flash(request, exc)
    else:
        messages.success(request, _("Run dispatched: the goods are in transit."))
    return redirect("supplies:run_detail", pk=pk)


@require_POST
@require_anywhere(Perm.RUN_DELIVERIES)
def run_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_run(request, pk)
    _require_plan(request, run)
    form = CancelRunForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    try:
        actions.cancel_run(run, actor=request.user, note=note)
    except ValidationError as exc:
        _flash(request, exc)
    else:
        messages.success(request, _("Run cancelled."))
    return redirect("supplies:run_detail", pk=pk)


# ---------------------------------------------------------------- on the road


@require_anywhere(Perm.CONFIRM_DELIVERIES)
def stop_confirm(request: HttpRequest, pk: int, stop_pk: int) -> HttpResponse:
    run = get_run(request, pk)
    stop = _stop(run, stop_pk)
    if not (
        has_permission(request.user, Perm.VIEW_STOCK, run.region_code)
        or has_permission(request.user, Perm.VIEW_STOCK, stop.region_code)
    ):
        raise Http404
    if not has_permission(request.user, Perm.CONFIRM_DELIVERIES, stop.region_code):
        raise PermissionDenied
    form = ConfirmStopForm(request.POST or None, stop=stop)
    if request.method == "POST" and form.is_valid():
        try:
            actions.confirm_stop(
                stop,
                actor=request.user,
                delivered=form.cleaned_data["delivered"],
                receiver_name=form.cleaned_data["receiver_name"],
                note=form.cleaned_data["note"],
            )
        except ValidationError as exc:
            form.action_errors(exc)
        else:
            messages.success(request, _("Delivery confirmed."))
            return redirect("supplies:run_detail", pk=pk)
    return render(
        request,
        "supplies/runs/stop_confirm.html",
        {
            "tab": "runs",
            "run": run,
            "stop": stop,
            "form": form,
            "open": run.status == RunStatus.DISPATCHED and stop.status == StopStatus.PENDING,
        },
        status=422 if form.errors else 200,
    )


@require_anywhere(Perm.RUN_DELIVERIES)
def run_complete(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_run(request, pk)
    _require_plan(request, run)
    form = CompleteRunForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            actions.complete_run(
                run,
                actor=request.user,
                disposition=form.cleaned_data["disposition"],
                note=form.cleaned_data["note"],
            )
        except ValidationError as exc:
            for name, message in error_messages(exc):
                form.add_error(name if name in form.fields else None, message)
        else:
            messages.success(request, _("Run completed."))
            return redirect("supplies:run_detail", pk=pk)
    return render(
        request,
        "supplies/runs/run_complete.html",
        {
            "tab": "runs",
            "run": run,
            "form": form,
            "in_transit": actions.in_transit(run),
            "pending": run.stops.filter(status=StopStatus.PENDING).count(),
        },
        status=422 if form.errors else 200,
    )


urlpatterns: list[URLPattern] = [
    path("runs/", run_list, name="run_list"),
    path("runs/new/", run_create, name="run_create"),
    path("runs/<int:pk>/", run_detail, name="run_detail"),
    path("runs/<int:pk>/sheet/", run_sheet, name="run_sheet"),
    path("runs/<int:pk>/reveal/", run_reveal_phone, name="run_reveal_phone"),
    path("runs/<int:pk>/stops/", run_add_stop, name="run_add_stop"),
    path("runs/<int:pk>/stops/<int:stop_pk>/remove/", run_remove_stop, name="run_remove_stop"),
    path("runs/<int:pk>/stops/<int:stop_pk>/confirm/", stop_confirm, name="stop_confirm"),
    path("runs/<int:pk>/dispatch/", run_dispatch, name="run_dispatch"),
    path("runs/<int:pk>/complete/", run_complete, name="run_complete"),
    path("runs/<int:pk>/cancel/", run_cancel, name="run_cancel"),
]
