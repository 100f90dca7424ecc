"""Region browser, region picker search, and site pages.

Access: a page needs its permission somewhere (else 403); a record outside the user's
regions is a 404. Every write goes through ``geo.actions``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_POST
from django_tables2 import RequestConfig

from fangkong.accounts.roles import PERMISSION_LABELS, Perm
from fangkong.core.exports import Column, Export, export_region_code, export_response
from fangkong.core.regioncodes import LEVEL_LABELS, Level, upper_bound
from fangkong.core.scoping import (
    ensure_permission_somewhere,
    get_scoped_or_404,
    has_permission,
    restrict,
)
from fangkong.geo import actions, queries
from fangkong.geo.filters import SiteFilter
from fangkong.geo.forms import SiteForm, VillageGroupForm, apply_action_errors
from fangkong.geo.models import Region, Site
from fangkong.geo.names import find_regions
from fangkong.geo.tables import SiteTable

View = Callable[..., HttpResponseBase]
CHILDREN_PER_PAGE = 200
SITES_PER_PAGE = 50
MAX_PK = 2**63 - 1


def require_anywhere(permission: str) -> Callable[[View], View]:
    """Logged in, and holding ``permission`` over at least one region (else 403)."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            ensure_permission_somewhere(request.user, permission)
            return view(request, *args, **kwargs)

        return login_required(wrapper)

    return decorator


def _site_or_404(request: HttpRequest, pk: int, permission: str = Perm.VIEW_SITES) -> Site:
    if pk > MAX_PK:
        raise Http404
    return get_scoped_or_404(queries.visible_sites(request.user), request.user, permission, pk=pk)


def _require_manage(request: HttpRequest, region_code: str) -> None:
    if not has_permission(request.user, Perm.MANAGE_SITES, region_code):
        raise PermissionDenied


def _with_parent_names(regions: list[Region]) -> list[tuple[Region, str]]:
    names = queries.region_names(r.parent_id or "" for r in regions)
    return [(r, names.get(r.parent_id or "", "")) for r in regions]


# --- regions --------------------------------------------------------------------------


@require_anywhere(Perm.VIEW_REGIONS)
def region_list(request: HttpRequest) -> HttpResponse:
    """The top of the browser: the user's own regions, and a search over their scope."""
    user = request.user
    query = request.GET.get("q", "")[:100]
    results = (
        find_regions(query, limit=50, queryset=queries.visible_regions(user)) if query else None
    )
    return render(
        request,
        "geo/region_list.html",
        {
            "rows": queries.counts_for_regions(user, queries.top_regions(user)),
            "query": query,
            "results": _with_parent_names(results) if results is not None else None,
        },
    )


@require_anywhere(Perm.VIEW_REGIONS)
def region_detail(request: HttpRequest, code: str) -> HttpResponse:
    user = request.user
    region = get_scoped_or_404(Region.objects.all(), user, Perm.VIEW_REGIONS, code=code)
    page = Paginator(region.children.order_by("code"), CHILDREN_PER_PAGE).get_page(
        request.GET.get("page")
    )
    can_manage = has_permission(user, Perm.MANAGE_SITES, region.code)
    return render(
        request,
        "geo/region_detail.html",
        {
            "region": region,
            "level_label": LEVEL_LABELS.get(Level(region.level), ""),
            "rows": queries.children_with_counts(user, region, page.object_list),
            "page": page,
            "site_count": queries.visible_sites(user)
            .filter(region_code__gte=region.code, region_code__lt=upper_bound(region.code))
            .count(),
            "can_manage": can_manage,
            "group_form": (
                VillageGroupForm() if can_manage and region.level == Level.VILLAGE else None
            ),
        },
    )


@require_POST
@require_anywhere(Perm.MANAGE_SITES)
def village_group_add(request: HttpRequest, code: str) -> HttpResponse:
    region = get_scoped_or_404(Region.objects.all(), request.user, Perm.VIEW_REGIONS, code=code)
    _require_manage(request, region.code)
    form = VillageGroupForm(request.POST)
    if form.is_valid():
        try:
            group = actions.add_village_group(
                actor=request.user,
                village_code=region.code,
                name=form.cleaned_data["name"],
                number=form.cleaned_data["number"],
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("Added village group %(name)s.") % {"name": group.name})
    else:
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
    return redirect("geo:region_detail", code=region.code)


@login_required
def region_search(request: HttpRequest) -> HttpResponse:
    """Options for the region picker: regions matching the text within the user's scope
    for the permission the picker names (view regions by default)."""
    permission = request.GET.get("perm", Perm.VIEW_REGIONS)
    if permission not in PERMISSION_LABELS:
        permission = Perm.VIEW_REGIONS
    field = request.GET.get("field", "q")
    text = request.GET.get("q") or request.GET.get(field) or ""
    scoped = restrict(Region.objects.all(), request.user, permission)
    regions = find_regions(text[:100], limit=20, queryset=scoped)
    return render(
        request,
        "geo/_region_options.html",
        {"options": _with_parent_names(regions)},
    )


# --- sites ----------------------------------------------------------------------------


@require_anywhere(Perm.VIEW_SITES)
def site_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    queryset = queries.visible_sites(user).order_by("region_code", "name")
    site_filter = SiteFilter(request.GET or None, queryset=queryset, request=request)
    table = SiteTable(site_filter.qs)
    RequestConfig(request, paginate={"per_page": SITES_PER_PAGE}).configure(table)
    return render(
        request,
        "geo/site_list.html",
        {
            "filter": site_filter,
            "table": table,
            "can_create": has_permission(user, Perm.MANAGE_SITES),
            "can_export": has_permission(user, Perm.EXPORT),
            "query": request.GET.urlencode(),
        },
    )


SITE_EXPORT_COLUMNS = [
    Column(_lazy("Name"), lambda s: s.name),
    Column(_lazy("Kind"), lambda s: s.get_kind_display()),
    Column(_lazy("Region code"), lambda s: s.region_code),
    Column(_lazy("Region"), lambda s: s.region_name),
    Column(_lazy("Address"), lambda s: s.address),
    Column(_lazy("Contact person"), lambda s: s.contact_name),
    Column(_lazy("Contact phone"), lambda s: s.contact_phone),
    Column(_lazy("Active"), lambda s: s.active),
]


@require_anywhere(Perm.EXPORT)
def site_export(request: HttpRequest) -> HttpResponseBase:
    """The filtered site list as xlsx or csv (?format=xlsx|csv&encoding=gb18030), logged."""
    user = request.user
    queryset = queries.visible_sites(user, Perm.EXPORT).order_by("region_code", "name")
    site_filter = SiteFilter(request.GET or None, queryset=queryset, request=request)
    if site_filter.is_bound and not site_filter.is_valid():
        messages.error(request, _("The filter is invalid; fix it before exporting."))
        return redirect("geo:site_list")
    export = Export(
        user=user,
        queryset=site_filter.qs,
        columns=SITE_EXPORT_COLUMNS,
        object_type="geo.site",
        filename=str(_("sites")),
        region_code=export_region_code(user, Perm.EXPORT),
        detail=request.GET.urlencode()[:200],
    )
    return export_response(
        export, request.GET.get("format", "xlsx"), request.GET.get("encoding", "utf-8-sig")
    )


@require_anywhere(Perm.VIEW_SITES)
def site_detail(request: HttpRequest, pk: int) -> HttpResponse:
    site = _site_or_404(request, pk)
    return render(
        request,
        "geo/site_detail.html",
        {
            "site": site,
            "can_manage": has_permission(request.user, Perm.MANAGE_SITES, site.region_code),
        },
    )


@require_anywhere(Perm.MANAGE_SITES)
def site_create(request: HttpRequest) -> HttpResponse:
    user = request.user
    initial: dict[str, Any] = {}
    region_code = request.GET.get("region", "")
    if region_code:
        region = restrict(Region.objects.all(), user, Perm.MANAGE_SITES).filter(
            code=region_code[:15]
        )
        if not region.exists():
            raise Http404
        initial["region"] = region_code
    if request.method == "POST":
        form = SiteForm(request.POST, user=user)
        if form.is_valid():
            try:
                site = actions.create_site(actor=user, **form.action_values())
            except ValidationError as exc:
                apply_action_errors(form, exc, SiteForm.FIELD_MAP)
            else:
                messages.success(request, _("Created site %(name)s.") % {"name": site.name})
                return redirect("geo:site_detail", pk=site.pk)
    else:
        form = SiteForm(initial=initial, user=user)
    return render(request, "geo/site_form.html", {"form": form, "site": None})


@require_anywhere(Perm.MANAGE_SITES)
def site_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    site = _site_or_404(request, pk)
    _require_manage(request, site.region_code)
    if request.method == "POST":
        form = SiteForm(request.POST, user=user)
        if form.is_valid():
            try:
                site = actions.update_site(actor=user, site=site, **form.action_values())
            except ValidationError as exc:
                apply_action_errors(form, exc, SiteForm.FIELD_MAP)
            else:
                messages.success(request, _("Saved site %(name)s.") % {"name": site.name})
                return redirect("geo:site_detail", pk=site.pk)
    else:
        form = SiteForm(
            initial={
                "name": site.name,
                "kind": site.kind,
                "region": site.region_code,
                "address": site.address,
                "contact_name": site.contact_name,
                "contact_phone": site.contact_phone,
                "notes": site.notes,
            },
            user=user,
        )
    return render(request, "geo/site_form.html", {"form": form, "site": site})


@require_POST
@require_anywhere(Perm.MANAGE_SITES)
def site_set_active(request: HttpRequest, pk: int) -> HttpResponse:
    site = _site_or_404(request, pk)
    _require_manage(request, site.region_code)
    active = request.POST.get("active", "") in {"1", "true", "on", "yes"}
    site = actions.set_site_active(actor=request.user, site=site, active=active)
    if active:
        messages.success(request, _("Site %(name)s is active again.") % {"name": site.name})
    else:
        messages.success(request, _("Site %(name)s is deactivated.") % {"name": site.name})
    return redirect("geo:site_detail", pk=site.pk)
