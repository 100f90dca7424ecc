"""Geo API (mounted at /api/v1/geo): regions (read-only) and sites.

Everything is limited to the caller's regions: a region or site outside them is a 404,
also when creating a site in, or moving one to, such a region. Changing sites needs
Perm.MANAGE_SITES over the region (403 otherwise).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate

from fangkong.accounts.roles import Perm
from fangkong.core.pagination import PageNumber
from fangkong.core.scoping import get_scoped_or_404, has_permission
from fangkong.geo import actions, queries
from fangkong.geo.filters import RegionFilter, SiteFilter
from fangkong.geo.models import Region, Site

router = Router(tags=["geo"])

MAX_ID = 2**63 - 1


class RegionOut(Schema):
    code: str
    name: str = Field(description="official name (村民委员会 ...)")
    short_name: str = Field(description="display name (蒋台屯村)")
    level: int = Field(description="1 province, 2 city, 3 county, 4 township, 5 village, 6 group")
    parent_code: str | None

    @staticmethod
    def resolve_parent_code(obj: Region) -> str | None:
        return obj.parent_id


class SiteOut(Schema):
    id: int
    name: str
    kind: str
    region_code: str
    region_name: str | None = None
    address: str
    contact_name: str
    contact_phone: str
    active: bool
    notes: str
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_region_name(obj: Site) -> str | None:
        return getattr(obj, "region_name", None)


class SiteIn(Schema):
    name: str
    kind: str = Field(
        description="testing_site, checkpoint, warehouse, isolation_site, office, other"
    )
    region_code: str
    address: str = ""
    contact_name: str = ""
    contact_phone: str = ""
    notes: str = ""
    active: bool = True


class SitePatch(Schema):
    name: str | None = None
    kind: str | None = None
    region_code: str | None = None
    address: str | None = None
    contact_name: str | None = None
    contact_phone: str | None = None
    notes: str | None = None
    active: bool | None = None


def _filtered(filterset: Any) -> Any:
    if not filterset.is_valid():
        raise ValidationError({k: list(v) for k, v in filterset.errors.items()})
    return filterset.qs


def _query(**params: Any) -> dict[str, str]:
    return {
        k: str(v).lower() if isinstance(v, bool) else str(v)
        for k, v in params.items()
        if v is not None
    }


def _require_site_region(request: HttpRequest, code: str) -> None:
    """Outside the caller's sites: 404; visible but not theirs to manage: 403."""
    if not has_permission(request.user, Perm.VIEW_SITES, code):
        raise Http404
    if not has_permission(request.user, Perm.MANAGE_SITES, code):
        raise PermissionDenied


def _site(request: HttpRequest, site_id: int) -> Site:
    if not 0 < site_id <= MAX_ID:
        raise Http404
    return get_scoped_or_404(
        queries.visible_sites(request.user), request.user, Perm.VIEW_SITES, pk=site_id
    )


# --- regions --------------------------------------------------------------------------


@router.get("/regions", response=list[RegionOut])
@paginate(PageNumber)
def list_regions(
    request: HttpRequest,
    parent: str | None = None,
    level: int | None = None,
    q: str | None = None,
) -> Any:
    """Regions in the caller's scope; filter by parent code, level, or name/code text."""
    filterset = RegionFilter(
        _query(parent=parent, level=level, q=q),
        queryset=queries.visible_regions(request.user).order_by("code"),
        request=request,
    )
    return _filtered(filterset)


@router.get("/regions/{code}", response=RegionOut)
def get_region(request: HttpRequest, code: str) -> Region:
    return get_scoped_or_404(Region.objects.all(), request.user, Perm.VIEW_REGIONS, code=code)


@router.get("/regions/{code}/children", response=list[RegionOut])
@paginate(PageNumber)
def region_children(request: HttpRequest, code: str) -> Any:
    region = get_scoped_or_404(Region.objects.all(), request.user, Perm.VIEW_REGIONS, code=code)
    return region.children.order_by("code")


# --- sites ----------------------------------------------------------------------------


@router.get("/sites", response=list[SiteOut])
@paginate(PageNumber)
def list_sites(
    request: HttpRequest,
    name: str | None = None,
    kind: str | None = None,
    active: bool | None = None,
    region: str | None = None,
) -> Any:
    """Sites in the caller's scope; ``region`` (a code or name) takes its whole subtree."""
    filterset = SiteFilter(
        _query(name=name, kind=kind, active=active, region=region),
        queryset=queries.visible_sites(request.user).order_by("region_code", "name"),
        request=request,
    )
    return _filtered(filterset)


@router.get("/sites/{site_id}", response=SiteOut)
def get_site(request: HttpRequest, site_id: int) -> Site:
    return _site(request, site_id)


@router.post("/sites", response={201: SiteOut})
def create_site(request: HttpRequest, payload: SiteIn) -> Status[Site]:
    _require_site_region(request, payload.region_code.strip())
    site = actions.create_site(actor=request.user, **payload.dict())
    return Status(201, _site(request, site.pk))


@router.patch("/sites/{site_id}", response=SiteOut)
def update_site(request: HttpRequest, site_id: int, payload: SitePatch) -> Site:
    site = _site(request, site_id)
    if not has_permission(request.user, Perm.MANAGE_SITES, site.region_code):
        raise PermissionDenied
    changes = payload.dict(exclude_unset=True)
    active = changes.pop("active", None)
    if changes.get("region_code") is not None:
        _require_site_region(request, str(changes["region_code"]).strip())
    nulls = [field for field, value in changes.items() if value is None]
    if nulls:
        raise ValidationError({field: [_("This field cannot be empty.")] for field in nulls})
    with transaction.atomic():
        if changes:
            site = actions.update_site(actor=request.user, site=site, **changes)
        if active is not None:
            site = actions.set_site_active(actor=request.user, site=site, active=active)
    return _site(request, site.pk)
