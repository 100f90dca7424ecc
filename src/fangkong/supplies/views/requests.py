"""Pages: supply requests (需求上报): list, new, detail, approve/reject, withdraw, fulfil.

Access: seeing a request needs Perm.VIEW_STOCK over the requester's region (else 404);
submitting and withdrawing need Perm.REQUEST_SUPPLIES, deciding Perm.APPROVE_REQUESTS,
fulfilling Perm.POST_STOCK over the depot. Every write goes through
``supplies.actions.requests``.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fangkong.accounts.roles import Perm
from fangkong.core.scoping import get_scoped_or_404, has_permission
from fangkong.geo.views import require_anywhere
from fangkong.supplies.actions import requests as actions
from fangkong.supplies.filters_requests import RequestFilter, visible_requests
from fangkong.supplies.forms.requests import (
    ApproveForm,
    FulfilForm,
    RejectForm,
    RequestForm,
    error_messages,
)
from fangkong.supplies.models import (
    Pack,
    RequestStatus,
    StockDocument,
    SupplyRequest,
    SupplyRequestLine,
)
from fangkong.supplies.quantities import PackSize, format_quantity

MAX_PK = 2**63 - 1
PER_PAGE = 30


def get_request(request: HttpRequest, pk: int) -> SupplyRequest:
    if pk > MAX_PK:
        raise Http404
    return get_scoped_or_404(visible_requests(request.user), request.user, Perm.VIEW_STOCK, pk=pk)


def _require(request: HttpRequest, permission: str, region_code: str) -> None:
    if not has_permission(request.user, permission, region_code):
        raise PermissionDenied


def page_of(request: HttpRequest, queryset: Any, per_page: int = PER_PAGE) -> Any:
    """One page of a list; a page number past the end or not a number lands on a real page."""
    paginator = Paginator(queryset, per_page)
    return paginator.get_page(request.GET.get("page"))


def query_without_page(request: HttpRequest) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


def quantity_text(quantity: int | None, line: Any) -> str:
    if quantity is None:
        return "—"
    packs = [PackSize(p.name, p.size) for p in line.item.packs.all()]
    return format_quantity(quantity, line.item.base_unit, packs)


# ---------------------------------------------------------------- list and detail


@require_anywhere(Perm.VIEW_STOCK)
def request_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    queryset = (
        visible_requests(user).annotate(line_count=Count("lines")).order_by("-created_at", "-id")
    )
    request_filter = RequestFilter(request.GET or None, queryset=queryset)
    page = page_of(request, request_filter.qs)
    return render(
        request,
        "supplies/requests/request_list.html",
        {
            "tab": "requests",
            "filter": request_filter,
            "page": page,
            "query": query_without_page(request),
            "can_create": has_permission(user, Perm.REQUEST_SUPPLIES),
        },
    )


def _detail_lines(supply_request: SupplyRequest) -> list[dict[str, Any]]:
    lines = supply_request.lines.select_related("item").prefetch_related(
        Prefetch("item__packs", queryset=Pack.objects.order_by("-size"))
    )
    return [
        {
            "line": line,
            "requested": quantity_text(line.requested, line),
            "approved": quantity_text(line.approved, line),
            "issued": quantity_text(line.issued, line),
            "remaining": quantity_text(actions.remaining(line), line)
            if line.approved is not None
            else "—",
            "short": line.approved is not None and line.approved < line.requested,
        }
        for line in lines
    ]


def fulfilling_documents(supply_request: SupplyRequest) -> list[StockDocument]:
    """Transfers and issues that credited the request (runs' deliveries included)."""
    line_ids = SupplyRequestLine.objects.filter(request=supply_request).values("pk")
    return list(
        StockDocument.objects.filter(lines__request_line__in=line_ids)
        .select_related("source", "destination")
        .distinct()
        .order_by("effective_at", "id")
    )


@require_anywhere(Perm.VIEW_STOCK)
def request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    supply_request = get_request(request, pk)
    user = request.user
    submitted = supply_request.status == RequestStatus.SUBMITTED
    can_decide = submitted and has_permission(
        user, Perm.APPROVE_REQUESTS, supply_request.region_code
    )
    return render(
        request,
        "supplies/requests/request_detail.html",
        {
            "tab": "requests",
            "req": supply_request,
            "lines": _detail_lines(supply_request),
            "documents": fulfilling_documents(supply_request),
            "can_cancel": submitted
            and has_permission(user, Perm.REQUEST_SUPPLIES, supply_request.region_code),
            "approve_form": ApproveForm(request=supply_request) if can_decide else None,
            "reject_form": RejectForm() if can_decide else None,
            "can_fulfil": supply_request.status in actions.FULFILLABLE
            and has_permission(user, Perm.POST_STOCK),
        },
    )


# ---------------------------------------------------------------- writes


@require_anywhere(Perm.REQUEST_SUPPLIES)
def request_create(request: HttpRequest) -> HttpResponse:
    form = RequestForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            made = actions.submit_request(
                actor=request.user,
                site=data["site"],
                lines=data["lines"],
                needed_by=data["needed_by"],
                note=data["note"],
            )
        except ValidationError as exc:
            form.action_errors(exc)
        else:
            messages.success(request, _("Request %(number)s submitted.") % {"number": made.number})
            return redirect("supplies:request_detail", pk=made.pk)
    return render(request, "supplies/requests/request_form.html", {"tab": "requests", "form": form})


def _flash_errors(request: HttpRequest, exc: ValidationError) -> None:
    for _field, message in error_messages(exc):
        messages.error(request, message)


@require_POST
@require_anywhere(Perm.APPROVE_REQUESTS)
def request_approve(request: HttpRequest, pk: int) -> HttpResponse:
    supply_request = get_request(request, pk)
    _require(request, Perm.APPROVE_REQUESTS, supply_request.region_code)
    form = ApproveForm(request.POST, request=supply_request)
    if form.is_valid():
        try:
            actions.approve_request(
                supply_request,
                actor=request.user,
                approved=form.cleaned_data["approved"],
                note=form.cleaned_data["note"],
            )
        except ValidationError as exc:
            form.action_errors(exc)
        else:
            messages.success(request, _("Request approved."))
            return redirect("supplies:request_detail", pk=pk)
    return render(
        request,
        "supplies/requests/request_detail.html",
        {
            "tab": "requests",
            "req": supply_request,
            "lines": _detail_lines(supply_request),
            "documents": fulfilling_documents(supply_request),
            "approve_form": form,
            "reject_form": RejectForm(),
        },
        status=422,
    )


@require_POST
@require_anywhere(Perm.APPROVE_REQUESTS)
def request_reject(request: HttpRequest, pk: int) -> HttpResponse:
    supply_request = get_request(request, pk)
    _require(request, Perm.APPROVE_REQUESTS, supply_request.region_code)
    form = RejectForm(request.POST)
    if form.is_valid():
        try:
            actions.reject_request(
                supply_request, actor=request.user, note=form.cleaned_data["note"]
            )
        except ValidationError as exc:
            _flash_errors(request, exc)
        else:
            messages.success(request, _("Request rejected."))
    else:
        messages.error(request, _("Give the reason for rejecting."))
    return redirect("supplies:request_detail", pk=pk)


@require_POST
@require_anywhere(Perm.REQUEST_SUPPLIES)
def request_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    supply_request = get_request(request, pk)
    _require(request, Perm.REQUEST_SUPPLIES, supply_request.region_code)
    try:
        actions.cancel_request(supply_request, actor=request.user)
    except ValidationError as exc:
        _flash_errors(request, exc)
    else:
        messages.success(request, _("Request withdrawn."))
    return redirect("supplies:request_detail", pk=pk)


@require_anywhere(Perm.POST_STOCK)
def request_fulfil(request: HttpRequest, pk: int) -> HttpResponseBase:
    """The depot's page: remaining approved quantities pre-filled; choose depot and lots."""
    supply_request = get_request(request, pk)
    if supply_request.status not in actions.FULFILLABLE:
        messages.error(request, _("Only an approved request can be fulfilled."))
        return redirect("supplies:request_detail", pk=pk)
    form = FulfilForm(request.POST or None, user=request.user, request=supply_request)
    if request.method == "POST" and form.is_valid():
        try:
            document = actions.fulfil_request(
                supply_request,
                actor=request.user,
                source=form.cleaned_data["source"],
                lines=form.cleaned_data["lines"],
                note=form.cleaned_data["note"],
                idempotency_key=request.POST.get("idempotency_key", "")[:64] or None,
            )
        except ValidationError as exc:
            for name, message in error_messages(exc):
                form.add_error(name if name in form.fields else None, message)
        else:
            messages.success(
                request, _("Transfer %(number)s posted.") % {"number": document.number}
            )
            return redirect("supplies:request_detail", pk=pk)
    return render(
        request,
        "supplies/requests/request_fulfil.html",
        {
            "tab": "requests",
            "req": supply_request,
            "form": form,
            "idempotency_key": request.POST.get("idempotency_key") or uuid.uuid4().hex,
        },
        status=422 if form.errors else 200,
    )


urlpatterns: list[URLPattern] = [
    path("requests/", request_list, name="request_list"),
    path("requests/new/", request_create, name="request_create"),
    path("requests/<int:pk>/", request_detail, name="request_detail"),
    path("requests/<int:pk>/approve/", request_approve, name="request_approve"),
    path("requests/<int:pk>/reject/", request_reject, name="request_reject"),
    path("requests/<int:pk>/cancel/", request_cancel, name="request_cancel"),
    path("requests/<int:pk>/fulfil/", request_fulfil, name="request_fulfil"),
]
