"""Pages: the catalogue (items, packs, lots, minimum levels) and stock locations.

Reading needs Perm.VIEW_STOCK somewhere; the catalogue is county-wide, so changing items,
packs and lots needs Perm.MANAGE_CATALOGUE anywhere. Minimum levels belong to a location:
only those in the user's regions are shown and set (a location outside them is a 404).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fangkong.accounts.roles import Perm
from fangkong.core.scoping import has_permission, restrict
from fangkong.core.tables import paginate_table
from fangkong.geo.forms import apply_action_errors
from fangkong.geo.views import require_anywhere
from fangkong.supplies.actions import catalogue as actions
from fangkong.supplies.filters import ItemFilter
from fangkong.supplies.forms.catalogue import (
    ItemForm,
    LotStatusForm,
    MinimumLevelForm,
    PackForm,
    stock_sites,
)
from fangkong.supplies.models import Item, Lot, MinimumLevel
from fangkong.supplies.tables import ItemTable

MAX_PK = 2**63 - 1
LOTS_SHOWN = 200
LOCATIONS_PER_PAGE = 50


def _item(pk: int) -> Item:
    if pk > MAX_PK:
        raise Http404
    return get_object_or_404(Item, pk=pk)


def _require_catalogue(request: HttpRequest) -> None:
    if not has_permission(request.user, Perm.MANAGE_CATALOGUE):
        raise PermissionDenied


@require_anywhere(Perm.VIEW_STOCK)
def item_list(request: HttpRequest) -> HttpResponse:
    item_filter = ItemFilter(
        request.GET or None, queryset=Item.objects.order_by("category", "name"), request=request
    )
    valid = not item_filter.is_bound or item_filter.is_valid()
    rows = item_filter.qs if valid else Item.objects.none()
    return render(
        request,
        "supplies/catalogue/item_list.html",
        {
            "tab": "catalogue",
            "filter": item_filter,
            "table": paginate_table(request, ItemTable(rows)),
            "can_manage": has_permission(request.user, Perm.MANAGE_CATALOGUE),
        },
    )


@require_anywhere(Perm.VIEW_STOCK)
def item_detail(request: HttpRequest, pk: int) -> HttpResponse:
    item = _item(pk)
    user = request.user
    can_manage = has_permission(user, Perm.MANAGE_CATALOGUE)
    minimums = (
        restrict(MinimumLevel.objects.filter(item=item), user, Perm.VIEW_STOCK)
        .select_related("location")
        .order_by("region_code", "location__name")
    )
    lots = list(Lot.objects.filter(item=item).exclude(code="").order_by("-created_at")[:LOTS_SHOWN])
    return render(
        request,
        "supplies/catalogue/item_detail.html",
        {
            "tab": "catalogue",
            "item": item,
            "packs": list(item.packs.all()),
            "lots": lots,
            "minimums": list(minimums),
            "can_manage": can_manage,
            "pack_form": PackForm() if can_manage else None,
            "lot_form": LotStatusForm() if can_manage else None,
            "minimum_form": MinimumLevelForm(user=user)
            if has_permission(user, Perm.MANAGE_CATALOGUE)
            else None,
        },
    )


def _item_form_values(form: ItemForm) -> dict[str, object]:
    return dict(form.cleaned_data)


@require_anywhere(Perm.MANAGE_CATALOGUE)
def item_create(request: HttpRequest) -> HttpResponse:
    form = ItemForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            item = actions.create_item(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            apply_action_errors(form, exc)
        else:
            messages.success(request, _("Added %(item)s to the catalogue.") % {"item": item})
            return redirect("supplies:item_detail", pk=item.pk)
    return render(
        request,
        "supplies/catalogue/item_form.html",
        {"tab": "catalogue", "form": form, "item": None},
    )


@require_anywhere(Perm.MANAGE_CATALOGUE)
def item_edit(request: HttpRequest, pk: int) -> HttpResponse:
    item = _item(pk)
    if request.method == "POST":
        form = ItemForm(request.POST)
        if form.is_valid():
            try:
                item = actions.update_item(actor=request.user, item=item, **form.cleaned_data)
            except ValidationError as exc:
                apply_action_errors(form, exc)
            else:
                messages.success(request, _("Saved %(item)s.") % {"item": item})
                return redirect("supplies:item_detail", pk=item.pk)
    else:
        form = ItemForm(initial={f: getattr(item, f) for f in actions.ITEM_FIELDS})
    return render(
        request,
        "supplies/catalogue/item_form.html",
        {"tab": "catalogue", "form": form, "item": item},
    )


def _flash_errors(request: HttpRequest, errors: object) -> None:
    if isinstance(errors, ValidationError):
        for message in errors.messages:
            messages.error(request, message)
        return
    for field_errors in errors.values():  # type: ignore[attr-defined]
        for error in field_errors:
            messages.error(request, error)


@require_POST
@require_anywhere(Perm.MANAGE_CATALOGUE)
def pack_add(request: HttpRequest, pk: int) -> HttpResponse:
    item = _item(pk)
    form = PackForm(request.POST)
    if not form.is_valid():
        _flash_errors(request, form.errors)
    else:
        try:
            pack = actions.add_pack(actor=request.user, item=item, **form.cleaned_data)
        except ValidationError as exc:
            _flash_errors(request, exc)
        else:
            messages.success(request, _("Added pack %(pack)s.") % {"pack": pack})
    return redirect("supplies:item_detail", pk=item.pk)


@require_POST
@require_anywhere(Perm.MANAGE_CATALOGUE)
def lot_status(request: HttpRequest, pk: int) -> HttpResponse:
    if pk > MAX_PK:
        raise Http404
    lot = get_object_or_404(Lot.objects.select_related("item"), pk=pk)
    form = LotStatusForm(request.POST)
    if not form.is_valid():
        _flash_errors(request, form.errors)
    else:
        try:
            lot = actions.set_lot_status(actor=request.user, lot=lot, **form.cleaned_data)
        except ValidationError as exc:
            _flash_errors(request, exc)
        else:
            messages.success(
                request,
                _("Lot %(lot)s is now %(status)s.")
                % {"lot": lot.code, "status": lot.get_status_display()},
            )
    return redirect("supplies:item_detail", pk=lot.item_id)


@require_POST
@require_anywhere(Perm.MANAGE_CATALOGUE)
def minimum_set(request: HttpRequest, pk: int) -> HttpResponse:
    item = _item(pk)
    # A site outside the user's regions is not a choice: the form answers 404 for it.
    raw_site = request.POST.get("site", "")
    if raw_site and not (
        raw_site.isdigit()
        and int(raw_site) <= MAX_PK
        and stock_sites(request.user, Perm.MANAGE_CATALOGUE).filter(pk=int(raw_site)).exists()
    ):
        raise Http404
    form = MinimumLevelForm(request.POST, user=request.user)
    if not form.is_valid():
        _flash_errors(request, form.errors)
        return redirect("supplies:item_detail", pk=item.pk)
    try:
        location = actions.stock_location(
            actor=request.user, site=form.cleaned_data["site"], permission=Perm.MANAGE_CATALOGUE
        )
        actions.set_minimum_level(
            actor=request.user, location=location, item=item, quantity=form.cleaned_data["quantity"]
        )
    except ValidationError as exc:
        _flash_errors(request, exc)
    else:
        messages.success(
            request, _("Saved the minimum level at %(location)s.") % {"location": location}
        )
    return redirect("supplies:item_detail", pk=item.pk)


@require_anywhere(Perm.VIEW_STOCK)
def location_list(request: HttpRequest) -> HttpResponse:
    """The places the user keeps or sees stock at: their sites, with the location if opened."""
    sites = stock_sites(request.user, Perm.VIEW_STOCK).select_related("stock_location")
    page = Paginator(sites, LOCATIONS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request, "supplies/catalogue/location_list.html", {"tab": "catalogue", "page": page}
    )


urlpatterns = [
    path("catalogue/", item_list, name="item_list"),
    path("catalogue/new/", item_create, name="item_create"),
    path("catalogue/<int:pk>/", item_detail, name="item_detail"),
    path("catalogue/<int:pk>/edit/", item_edit, name="item_edit"),
    path("catalogue/<int:pk>/packs/", pack_add, name="pack_add"),
    path("catalogue/<int:pk>/minimums/", minimum_set, name="minimum_set"),
    path("catalogue/lots/<int:pk>/status/", lot_status, name="lot_status"),
    path("locations/", location_list, name="location_list"),
]
