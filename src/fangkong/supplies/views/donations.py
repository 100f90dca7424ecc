"""Donation pages (捐赠登记): list with filters and export, register, detail (donor phone
masked; reveal logged), receive into stock / issue from a depot, acknowledge, and the
printable acknowledgement (捐赠证明 / 接收捐赠证明).

Everything needs Perm.MANAGE_DONATIONS over the region of the unit keeping the record;
posting to stock also Perm.POST_STOCK at the depot, exports Perm.EXPORT.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_POST

from fangkong.accounts.roles import Perm
from fangkong.core.audit import log_access
from fangkong.core.exports import Column, Export, export_region_code, export_response
from fangkong.core.masking import mask
from fangkong.core.scoping import get_scoped_or_404, has_permission, restrict
from fangkong.geo.forms import apply_action_errors
from fangkong.geo.views import require_anywhere
from fangkong.supplies.actions import donations as actions
from fangkong.supplies.filters_counts import DonationFilter
from fangkong.supplies.forms.donations import DonationForm, DonationLineFormSet, PostStockForm
from fangkong.supplies.models import (
    Donation,
    DonationDirection,
    DonationLine,
    DonationStatus,
    PartyType,
)
from fangkong.supplies.quantities import format_quantity
from fangkong.supplies.views.counts import packs_by_item

MAX_PK = 2**63 - 1
PER_PAGE = 50


def visible_donations(user: Any, permission: str = Perm.MANAGE_DONATIONS) -> QuerySet[Donation]:
    return restrict(Donation.objects.all(), user, permission)


def get_donation(user: Any, pk: int) -> Donation:
    if not 0 < pk <= MAX_PK:
        raise Http404
    return get_scoped_or_404(Donation.objects.all(), user, Perm.MANAGE_DONATIONS, pk=pk)


@dataclass
class LineText:
    line: DonationLine
    name: str
    quantity: str  # "210 瓶 (7 箱)"


def line_texts(lines: list[DonationLine]) -> list[LineText]:
    packs = packs_by_item({line.item_id for line in lines if line.item_id})
    shown = []
    for line in lines:
        if line.item is not None:
            name = str(line.item) + (f" ({line.description})" if line.description else "")
            text = format_quantity(line.quantity, line.unit, packs.get(line.item.pk, []))
        else:
            name, text = line.description, f"{line.quantity} {line.unit}"
        shown.append(LineText(line=line, name=name, quantity=text))
    return shown


def donation_lines(donation: Donation) -> list[DonationLine]:
    return list(donation.lines.select_related("item", "pack").order_by("id"))


# ------------------------------------------------------------------- list, export


@require_anywhere(Perm.MANAGE_DONATIONS)
def donation_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    donation_filter = DonationFilter(
        request.GET or None, queryset=visible_donations(user).order_by("-donated_on", "-id")
    )
    queryset = (
        donation_filter.qs
        if not donation_filter.is_bound or donation_filter.is_valid()
        else Donation.objects.none()
    )
    page = Paginator(queryset, PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "supplies/donations/donation_list.html",
        {
            "tab": "donations",
            "filter": donation_filter,
            "page": page,
            "can_export": has_permission(user, Perm.EXPORT),
            "query": request.GET.urlencode(),
        },
    )


def export_columns(line_summary: dict[int, str]) -> list[Column]:
    directions = {k: str(v) for k, v in DonationDirection.choices}
    parties = {k: str(v) for k, v in PartyType.choices}
    statuses = {k: str(v) for k, v in DonationStatus.choices}
    return [
        Column(_lazy("Number"), lambda d: d.number),
        Column(_lazy("Direction"), lambda d: directions.get(d.direction, d.direction)),
        Column(_lazy("Date"), lambda d: d.donated_on),
        Column(_lazy("Donor"), lambda d: d.donor_name),
        Column(_lazy("Donor type"), lambda d: parties.get(d.donor_type, d.donor_type)),
        Column(_lazy("Unified social credit code"), lambda d: d.donor_credit_code),
        Column(_lazy("Donor contact"), lambda d: d.donor_contact),
        # Always masked: an export is a list, not a reveal of one record.
        Column(_lazy("Donor phone"), lambda d: mask("phone", d.donor_phone)),
        Column(_lazy("Recipient"), lambda d: d.recipient_name),
        Column(_lazy("Recipient type"), lambda d: parties.get(d.recipient_type, d.recipient_type)),
        Column(_lazy("Goods"), lambda d: line_summary.get(d.pk, "")),
        Column(_lazy("Status"), lambda d: statuses.get(d.status, d.status)),
        Column(_lazy("Acknowledged"), lambda d: d.acknowledged_at),
        Column(_lazy("Note"), lambda d: d.note),
    ]


def goods_summary(donation_ids: list[int]) -> dict[int, str]:
    """Each donation's goods on one line ("N95口罩 2000 个 (5 箱)；84消毒液 210 瓶 (7 箱)")."""
    lines = list(
        DonationLine.objects.filter(donation_id__in=donation_ids)
        .select_related("item")
        .order_by("donation_id", "id")
    )
    summary: dict[int, list[str]] = {}
    for shown in line_texts(lines):
        summary.setdefault(shown.line.donation_id, []).append(f"{shown.name} {shown.quantity}")
    return {pk: "；".join(parts) for pk, parts in summary.items()}


def build_export(request: HttpRequest, data: Any) -> HttpResponseBase | None:
    """The filtered register as csv/xlsx (None when the filter is invalid). Logged."""
    user = request.user
    donation_filter = DonationFilter(
        data, queryset=visible_donations(user).order_by("-donated_on", "-id")
    )
    if donation_filter.is_bound and not donation_filter.is_valid():
        return None
    queryset = restrict(donation_filter.qs, user, Perm.EXPORT)
    # Goods summaries are read in one query for the export (registers are small: a
    # township records tens to hundreds of donations in an outbreak).
    summary = goods_summary(list(queryset.values_list("pk", flat=True)))
    export = Export(
        user=user,
        queryset=queryset,
        columns=export_columns(summary),
        object_type="supplies.donation",
        filename=str(_("donations")),
        region_code=export_region_code(user, Perm.EXPORT),
        unmasked=False,
        detail=str(data.urlencode() if hasattr(data, "urlencode") else data)[:200],
    )
    return export_response(export, data.get("format", "xlsx"), data.get("encoding", "utf-8-sig"))


@require_anywhere(Perm.EXPORT)
def donation_export(request: HttpRequest) -> HttpResponseBase:
    if not has_permission(request.user, Perm.MANAGE_DONATIONS):
        raise PermissionDenied
    response = build_export(request, request.GET)
    if response is None:
        messages.error(request, _("The filter is invalid; fix it before exporting."))
        return redirect("supplies:donation_list")
    return response


# ------------------------------------------------------------------- register


def _line_inputs(formset: Any) -> list[actions.DonationLineInput]:
    return [
        actions.DonationLineInput(
            item=form.cleaned_data.get("item"),
            description=form.cleaned_data.get("description", ""),
            quantity=form.cleaned_data.get("quantity"),
            pack_count=form.cleaned_data.get("pack_count"),
            unit=form.cleaned_data.get("unit", ""),
        )
        for form in formset.forms
        if form.is_valid() and not form.is_blank()
    ]


def _apply_line_errors(formset: Any, exc: ValidationError, filled: list[int]) -> list[str]:
    """Put ``lines.<n>.<field>`` errors on the n-th filled line form; return the rest."""
    rest: list[str] = []
    if not hasattr(exc, "error_dict"):
        return list(exc.messages)
    for key, errors in exc.message_dict.items():
        parts = key.split(".")
        if len(parts) == 3 and parts[0] == "lines" and parts[1].isdigit():
            index = int(parts[1])
            if index < len(filled):
                form = formset.forms[filled[index]]
                field = parts[2] if parts[2] in form.fields else None
                for message in errors:
                    form.add_error(field, message)
                continue
        if key == "lines":
            rest.extend(errors)
    return rest


@require_anywhere(Perm.MANAGE_DONATIONS)
def donation_create(request: HttpRequest) -> HttpResponse:
    user = request.user
    line_errors: list[str] = []
    if request.method == "POST":
        form = DonationForm(request.POST, user=user)
        formset = DonationLineFormSet(request.POST, prefix="lines")
        if form.is_valid() and formset.is_valid():
            filled = [i for i, f in enumerate(formset.forms) if not f.is_blank()]
            try:
                donation = actions.record_donation(
                    actor=user,
                    region_code=form.cleaned_data["region"].code,
                    direction=form.cleaned_data["direction"],
                    donated_on=form.cleaned_data["donated_on"],
                    donor_name=form.cleaned_data["donor_name"],
                    donor_type=form.cleaned_data["donor_type"],
                    donor_credit_code=form.cleaned_data["donor_credit_code"],
                    donor_contact=form.cleaned_data["donor_contact"],
                    donor_phone=form.cleaned_data["donor_phone"],
                    recipient_name=form.cleaned_data["recipient_name"],
                    recipient_type=form.cleaned_data["recipient_type"],
                    note=form.cleaned_data["note"],
                    lines=_line_inputs(formset),
                )
            except ValidationError as exc:
                apply_action_errors(
                    form,
                    ValidationError(
                        {k: v for k, v in exc.message_dict.items() if not k.startswith("lines")}
                    )
                    if hasattr(exc, "error_dict")
                    else exc,
                    DonationForm.FIELD_MAP,
                )
                line_errors = _apply_line_errors(formset, exc, filled)
            else:
                messages.success(
                    request, _("Donation %(number)s recorded.") % {"number": donation.number}
                )
                return redirect("supplies:donation_detail", pk=donation.pk)
        status = 422
    else:
        initial: dict[str, Any] = {"direction": request.GET.get("direction", "inbound")}
        from fangkong.core.scoping import scope_codes

        codes = scope_codes(user, Perm.MANAGE_DONATIONS)
        if codes and len(codes) == 1:
            initial["region"] = codes[0]
        form = DonationForm(initial=initial, user=user)
        formset = DonationLineFormSet(prefix="lines")
        status = 200
    return render(
        request,
        "supplies/donations/donation_form.html",
        {"tab": "donations", "form": form, "formset": formset, "line_errors": line_errors},
        status=status,
    )


# ------------------------------------------------------------------- detail and actions


def _tracked_lines(lines: list[DonationLine]) -> list[DonationLine]:
    return [line for line in lines if line.item is not None and line.item.tracks_lots]


def _detail_context(request: HttpRequest, donation: Donation, **extra: Any) -> dict[str, Any]:
    user = request.user
    lines = donation_lines(donation)
    document = actions.stock_document_of(donation)
    has_catalogue = any(line.item_id for line in lines)
    can_post = (
        document is None
        and has_catalogue
        and donation.status != DonationStatus.CANCELLED
        and has_permission(user, Perm.POST_STOCK)
    )
    context: dict[str, Any] = {
        "tab": "donations",
        "donation": donation,
        "lines": line_texts(lines),
        "phone_masked": mask("phone", donation.donor_phone),
        "can_reveal": bool(donation.donor_phone)
        and has_permission(user, Perm.REVEAL_IDENTITY, donation.region_code),
        "document": document,
        "post_form": PostStockForm(user=user, tracked_lines=_tracked_lines(lines))
        if can_post
        else None,
    }
    context.update(extra)
    return context


@require_anywhere(Perm.MANAGE_DONATIONS)
def donation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    donation = get_donation(request.user, pk)
    return render(
        request, "supplies/donations/donation_detail.html", _detail_context(request, donation)
    )


@require_POST
@require_anywhere(Perm.MANAGE_DONATIONS)
def donation_reveal(request: HttpRequest, pk: int) -> HttpResponse:
    """The donor's phone in full (Perm.REVEAL_IDENTITY over the record), logged."""
    donation = get_donation(request.user, pk)
    if not has_permission(request.user, Perm.REVEAL_IDENTITY, donation.region_code):
        raise PermissionDenied
    log_access(
        request.user,
        "reveal",
        object_type="supplies.donation",
        object_id=str(donation.pk),
        region_code=donation.region_code,
        fields=["donor_phone"],
        unmasked=True,
        detail="page",
    )
    return render(
        request,
        "supplies/donations/_donor_phone.html",
        {"donation": donation, "phone": donation.donor_phone, "revealed": True},
    )


@require_POST
@require_anywhere(Perm.MANAGE_DONATIONS)
def donation_post_stock(request: HttpRequest, pk: int) -> HttpResponse:
    """Receive an inbound donation into a depot, or issue an outbound one from a depot."""
    donation = get_donation(request.user, pk)
    lines = donation_lines(donation)
    form = PostStockForm(request.POST, user=request.user, tracked_lines=_tracked_lines(lines))
    if form.is_valid():
        try:
            document = actions.post_donation_stock(
                actor=request.user,
                donation=donation,
                location=form.cleaned_data["location"],
                lot_codes=form.lot_codes(),
            )
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                for key, errors in exc.message_dict.items():
                    name = f"lot_{key.split('.')[-1]}" if key.startswith("lots.") else None
                    for message in errors:
                        form.add_error(name if name in form.fields else None, message)
            else:
                form.add_error(None, exc)
        else:
            messages.success(
                request,
                _("Posted to stock as %(number)s.") % {"number": document.number},
            )
            return redirect("supplies:donation_detail", pk=donation.pk)
    context = _detail_context(request, donation)
    if context["post_form"] is not None:
        context["post_form"] = form
    else:
        messages.error(request, " ".join(str(m) for e in form.errors.values() for m in e))
    return render(request, "supplies/donations/donation_detail.html", context, status=422)


@require_POST
@require_anywhere(Perm.MANAGE_DONATIONS)
def donation_acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    donation = get_donation(request.user, pk)
    try:
        actions.acknowledge_donation(actor=request.user, donation=donation)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Marked as acknowledged."))
    return redirect("supplies:donation_detail", pk=donation.pk)


@require_anywhere(Perm.MANAGE_DONATIONS)
def donation_certificate(request: HttpRequest, pk: int) -> HttpResponse:
    """The acknowledgement for A4 print: 捐赠证明 (given) or 接收捐赠证明 (received)."""
    donation = get_donation(request.user, pk)
    return render(
        request,
        "supplies/donations/donation_certificate.html",
        {"donation": donation, "lines": line_texts(donation_lines(donation))},
    )


urlpatterns = [
    path("donations/", donation_list, name="donation_list"),
    path("donations/new/", donation_create, name="donation_create"),
    path("donations/export/", donation_export, name="donation_export"),
    path("donations/<int:pk>/", donation_detail, name="donation_detail"),
    path("donations/<int:pk>/reveal/", donation_reveal, name="donation_reveal"),
    path("donations/<int:pk>/stock/", donation_post_stock, name="donation_post_stock"),
    path("donations/<int:pk>/acknowledge/", donation_acknowledge, name="donation_acknowledge"),
    path("donations/<int:pk>/certificate/", donation_certificate, name="donation_certificate"),
]
