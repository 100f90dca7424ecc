"""API: the catalogue (items, packs, lots, lot status), minimum levels, stock locations.

Reading needs Perm.VIEW_STOCK somewhere (403 otherwise). Items, packs and lots are
county-wide: changing them needs Perm.MANAGE_CATALOGUE anywhere. Minimum levels and
locations are limited to the caller's regions; a site outside them is a 404.

No ``from __future__ import annotations``: ninja reads the schemas from the signatures.
"""

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from fangkong.accounts.roles import Perm
from fangkong.core.pagination import PageNumber
from fangkong.core.scoping import ensure_permission_somewhere, restrict
from fangkong.geo.models import Site
from fangkong.supplies.actions import catalogue as actions
from fangkong.supplies.filters import ItemFilter
from fangkong.supplies.forms.catalogue import stock_sites
from fangkong.supplies.models import Item, Lot, MinimumLevel, Pack

router = Router(tags=["supplies"])

MAX_ID = 2**63 - 1
Quantity = int | float | str


def _item(item_id: int) -> Item:
    if not 0 < item_id <= MAX_ID:
        raise Http404
    try:
        return Item.objects.get(pk=item_id)
    except Item.DoesNotExist:
        raise Http404 from None


def scoped_site(request: HttpRequest, site_id: int | None, permission: str) -> Site:
    """A site where the caller holds ``permission``; anything else is a 404."""
    if site_id is None or not 0 < site_id <= MAX_ID:
        raise Http404
    site = stock_sites(request.user, permission).filter(pk=site_id).first()
    if site is None:
        raise Http404
    return site


def filtered(filterset: Any) -> Any:
    if not filterset.is_valid():
        raise ValidationError({k: list(v) for k, v in filterset.errors.items()})
    return filterset.qs


# --- schemas ----------------------------------------------------------------------------


class PackOut(Schema):
    id: int
    name: str
    size: int


class ItemOut(Schema):
    id: int
    code: str
    name: str
    specification: str
    category: str
    base_unit: str
    tracks_lots: bool
    active: bool
    notes: str
    packs: list[PackOut]

    @staticmethod
    def resolve_packs(obj: Item) -> list[Pack]:
        return list(obj.packs.all())


class ItemIn(Schema):
    code: str
    name: str
    category: str = Field(description="protective, testing, disinfection, food, daily, other")
    base_unit: str = Field(description="the unit stock is counted in: 套, 个, 副, 袋, 瓶, 支")
    specification: str = ""
    tracks_lots: bool = False
    active: bool = True
    notes: str = ""


class ItemPatch(Schema):
    code: str | None = None
    name: str | None = None
    category: str | None = None
    base_unit: str | None = None
    specification: str | None = None
    tracks_lots: bool | None = None
    active: bool | None = None
    notes: str | None = None


class ItemQuery(Schema):
    q: str | None = Field(None, max_length=100)
    category: str | None = Field(None, max_length=16)
    active: bool | None = None
    tracks_lots: bool | None = None


class PackIn(Schema):
    name: str
    size: Quantity


class LotOut(Schema):
    id: int
    item_id: int
    code: str
    expiry_date: dt.date | None
    status: str


class LotStatusIn(Schema):
    status: str = Field(description="usable, on_hold, recalled, expired")
    reason: str


class MinimumOut(Schema):
    id: int
    location_id: int
    location_name: str
    item_id: int
    quantity: int
    region_code: str

    @staticmethod
    def resolve_location_name(obj: MinimumLevel) -> str:
        return obj.location.name


class MinimumIn(Schema):
    site_id: int
    item_id: int
    quantity: Quantity = Field(description="0 removes the minimum")


class MinimumQuery(Schema):
    item_id: int | None = Field(None, ge=1, le=MAX_ID)


class LocationOut(Schema):
    site_id: int
    name: str
    kind: str
    region_code: str
    location_id: int | None = Field(description="null until the site's first document")

    @staticmethod
    def resolve_site_id(obj: Site) -> int:
        return obj.pk

    @staticmethod
    def resolve_location_id(obj: Site) -> int | None:
        location = getattr(obj, "stock_location", None)
        return location.pk if location is not None else None


# --- items ------------------------------------------------------------------------------


def _items() -> Any:
    return Item.objects.prefetch_related("packs").order_by("category", "name", "id")


@router.get("/items", response=list[ItemOut])
@paginate(PageNumber)
def list_items(request: HttpRequest, filters: Query[ItemQuery]) -> Any:
    """The county-wide catalogue."""
    ensure_permission_somewhere(request.user, Perm.VIEW_STOCK)
    data = {k: str(v).lower() if isinstance(v, bool) else v for k, v in filters.dict().items()}
    return filtered(ItemFilter({k: v for k, v in data.items() if v is not None}, queryset=_items()))


@router.get("/items/{int:item_id}", response=ItemOut)
def get_item(request: HttpRequest, item_id: int) -> Item:
    ensure_permission_somewhere(request.user, Perm.VIEW_STOCK)
    return _items().get(pk=_item(item_id).pk)


@router.post("/items", response={201: ItemOut})
def create_item(request: HttpRequest, payload: ItemIn) -> Status[Item]:
    ensure_permission_somewhere(request.user, Perm.MANAGE_CATALOGUE)
    item = actions.create_item(actor=request.user, **payload.dict())
    return Status(201, _items().get(pk=item.pk))


@router.patch("/items/{int:item_id}", response=ItemOut)
def update_item(request: HttpRequest, item_id: int, payload: ItemPatch) -> Item:
    ensure_permission_somewhere(request.user, Perm.MANAGE_CATALOGUE)
    item = _item(item_id)
    changes = payload.dict(exclude_unset=True)
    nulls = [field for field, value in changes.items() if value is None]
    if nulls:
        raise ValidationError({field: [_("This field cannot be empty.")] for field in nulls})
    actions.update_item(actor=request.user, item=item, **changes)
    return _items().get(pk=item.pk)


@router.get("/items/{int:item_id}/packs", response=list[PackOut])
def list_packs(request: HttpRequest, item_id: int) -> Any:
    ensure_permission_somewhere(request.user, Perm.VIEW_STOCK)
    return list(_item(item_id).packs.order_by("-size"))


@router.post("/items/{int:item_id}/packs", response={201: PackOut})
def add_pack(request: HttpRequest, item_id: int, payload: PackIn) -> Status[Pack]:
    ensure_permission_somewhere(request.user, Perm.MANAGE_CATALOGUE)
    pack = actions.add_pack(actor=request.user, item=_item(item_id), **payload.dict())
    return Status(201, pack)


@router.get("/items/{int:item_id}/lots", response=list[LotOut])
@paginate(PageNumber)
def list_lots(request: HttpRequest, item_id: int) -> Any:
    ensure_permission_somewhere(request.user, Perm.VIEW_STOCK)
    return Lot.objects.filter(item=_item(item_id)).exclude(code="").order_by("-created_at", "-id")


@router.post("/lots/{int:lot_id}/status", response=LotOut)
def set_lot_status(request: HttpRequest, lot_id: int, payload: LotStatusIn) -> Lot:
    ensure_permission_somewhere(request.user, Perm.MANAGE_CATALOGUE)
    if not 0 < lot_id <= MAX_ID:
        raise Http404
    lot = Lot.objects.filter(pk=lot_id).first()
    if lot is None:
        raise Http404
    return actions.set_lot_status(actor=request.user, lot=lot, **payload.dict())


# --- minimum levels and locations -------------------------------------------------------


@router.get("/minimum-levels", response=list[MinimumOut])
@paginate(PageNumber)
def list_minimum_levels(request: HttpRequest, filters: Query[MinimumQuery]) -> Any:
    ensure_permission_somewhere(request.user, Perm.VIEW_STOCK)
    levels = restrict(MinimumLevel.objects.all(), request.user, Perm.VIEW_STOCK)
    if filters.item_id is not None:
        levels = levels.filter(item_id=filters.item_id)
    return levels.select_related("location").order_by("region_code", "location__name", "id")


@router.put("/minimum-levels", response={200: MinimumOut, 204: None})
def set_minimum_level(request: HttpRequest, payload: MinimumIn) -> Any:
    """Set the minimum of an item at a site's stock location; quantity 0 removes it."""
    ensure_permission_somewhere(request.user, Perm.MANAGE_CATALOGUE)
    site = scoped_site(request, payload.site_id, Perm.MANAGE_CATALOGUE)
    item = _item(payload.item_id)
    with transaction.atomic():
        location = actions.stock_location(
            actor=request.user, site=site, permission=Perm.MANAGE_CATALOGUE
        )
        level = actions.set_minimum_level(
            actor=request.user, location=location, item=item, quantity=payload.quantity
        )
    if level is None:
        return Status(204, None)
    return MinimumLevel.objects.select_related("location").get(pk=level.pk)


@router.get("/locations", response=list[LocationOut])
@paginate(PageNumber)
def list_locations(request: HttpRequest) -> Any:
    """Sites in the caller's scope that can hold stock, with their stock location's id."""
    ensure_permission_somewhere(request.user, Perm.VIEW_STOCK)
    return stock_sites(request.user, Perm.VIEW_STOCK).select_related("stock_location")
