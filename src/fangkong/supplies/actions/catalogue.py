"""The catalogue (物资目录): items, packs, lot status, minimum levels, stock locations.

Items, packs and lots are county-wide: changing them needs ``Perm.MANAGE_CATALOGUE``
anywhere. A minimum level belongs to a location, so it needs the permission over the
location's region. Every change is audited; nothing is written when nothing changes.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from fangkong.accounts.roles import Perm
from fangkong.core import audit
from fangkong.core.cleaning import clean_text
from fangkong.core.scoping import require_permission
from fangkong.geo.models import Site
from fangkong.supplies.keys import location_for_site
from fangkong.supplies.models import (
    Item,
    ItemCategory,
    Location,
    Lot,
    LotStatus,
    MinimumLevel,
    Pack,
)
from fangkong.supplies.quantities import parse_quantity

CODE_MAX = 32
NAME_MAX = 100
SPEC_MAX = 100
UNIT_MAX = 8
NOTES_MAX = 2000
REASON_MAX = 200
PACK_NAME_MAX = 8
# A pack holds at most a million base units (a pallet of masks is ~20,000).
PACK_SIZE_MAX = 1_000_000

ITEM_FIELDS = (
    "code",
    "name",
    "specification",
    "category",
    "base_unit",
    "tracks_lots",
    "active",
    "notes",
)


def _require_catalogue(actor: Any) -> None:
    require_permission(
        actor, Perm.MANAGE_CATALOGUE, None, message=_("You may not change the catalogue.")
    )


def _clean_code(value: Any) -> str:
    code = clean_text(value, field="code", max_length=CODE_MAX, required=True).upper()
    if " " in code:
        raise ValidationError({"code": _("An item code has no spaces.")})
    return code


def _clean_category(value: Any) -> str:
    if value not in ItemCategory.values:
        raise ValidationError({"category": _("Choose one of the listed categories.")})
    return str(value)


_ITEM_CLEANERS: dict[str, Any] = {
    "code": _clean_code,
    "name": lambda v: clean_text(v, field="name", max_length=NAME_MAX, required=True),
    "specification": lambda v: clean_text(v, field="specification", max_length=SPEC_MAX),
    "category": _clean_category,
    "base_unit": lambda v: clean_text(v, field="base_unit", max_length=UNIT_MAX, required=True),
    "tracks_lots": bool,
    "active": bool,
    "notes": lambda v: clean_text(v, field="notes", max_length=NOTES_MAX, multiline=True),
}


def _check_unique(item: Item) -> None:
    others = Item.objects.exclude(pk=item.pk) if item.pk else Item.objects.all()
    if others.filter(code=item.code).exists():
        raise ValidationError(
            {"code": _("Item code %(code)s is already used.") % {"code": item.code}}
        )
    if others.filter(name=item.name, specification=item.specification).exists():
        raise ValidationError({"name": _("%(item)s is already in the catalogue.") % {"item": item}})


def _save_item(item: Item) -> None:
    _check_unique(item)
    try:
        with transaction.atomic():
            item.save()
    except IntegrityError:  # a concurrent save took the code or name in between
        raise ValidationError({"code": _("This item is already in the catalogue.")}) from None


def create_item(
    *,
    actor: Any,
    code: str,
    name: str,
    base_unit: str,
    category: str,
    specification: str = "",
    tracks_lots: bool = False,
    active: bool = True,
    notes: str = "",
) -> Item:
    """Add an item to the county-wide catalogue; audited as "supplies.create_item"."""
    _require_catalogue(actor)
    values = {
        "code": code,
        "name": name,
        "specification": specification,
        "category": category,
        "base_unit": base_unit,
        "tracks_lots": tracks_lots,
        "active": active,
        "notes": notes,
    }
    item = Item(**{field: _ITEM_CLEANERS[field](value) for field, value in values.items()})
    with transaction.atomic():
        _save_item(item)
        audit.record(actor, "supplies.create_item", item, after=audit.snapshot(item))
    return item


def update_item(*, actor: Any, item: Item, **changes: Any) -> Item:
    """Change an item's fields (see ITEM_FIELDS); audited with before and after.

    The base unit is the unit every posted quantity is counted in, so it cannot change
    once the item has moved (that would silently rescale the ledger).
    """
    _require_catalogue(actor)
    unknown = set(changes) - set(ITEM_FIELDS)
    if unknown:
        raise TypeError(f"update_item() got unknown fields: {', '.join(sorted(unknown))}")
    cleaned = {field: _ITEM_CLEANERS[field](value) for field, value in changes.items()}
    with transaction.atomic():
        item = Item.objects.select_for_update().get(pk=item.pk)
        before = audit.snapshot(item, ITEM_FIELDS)
        if "base_unit" in cleaned and cleaned["base_unit"] != item.base_unit:
            from fangkong.supplies.models import DocumentLine

            if DocumentLine.objects.filter(item=item).exists():
                raise ValidationError(
                    {"base_unit": _("The item has stock documents; its base unit stays.")}
                )
        for field, value in cleaned.items():
            setattr(item, field, value)
        after = audit.snapshot(item, ITEM_FIELDS)
        if after != before:
            _save_item(item)
            audit.record(actor, "supplies.update_item", item, before=before, after=after)
    return item


def add_pack(*, actor: Any, item: Item, name: str, size: Any) -> Pack:
    """A pack of an item (1 箱 = 50 套): size at least 2, name unique per item."""
    _require_catalogue(actor)
    name = clean_text(name, field="name", max_length=PACK_NAME_MAX, required=True)
    count = parse_quantity(size, field="size")
    if count < 2:
        raise ValidationError({"size": _("A pack holds at least 2 units.")})
    if count > PACK_SIZE_MAX:
        raise ValidationError({"size": _("The pack size is too large.")})
    if name == item.base_unit:
        raise ValidationError({"name": _("A pack needs a name other than the base unit.")})
    duplicate = ValidationError(
        {"name": _("%(item)s already has a pack called %(name)s.") % {"item": item, "name": name}}
    )
    if Pack.objects.filter(item=item, name=name).exists():
        raise duplicate
    try:
        with transaction.atomic():
            pack = Pack.objects.create(item=item, name=name, size=count)
            audit.record(
                actor,
                "supplies.add_pack",
                pack,
                after={"item": item.pk, "name": name, "size": count},
            )
    except IntegrityError:
        raise duplicate from None
    return pack


def set_lot_status(*, actor: Any, lot: Lot, status: str, reason: str) -> Lot:
    """Mark a lot usable, on hold, recalled or expired (with the reason, audited).

    Issues and transfers refuse a lot that is not usable (``ledger.check_lots_for``).
    """
    _require_catalogue(actor)
    if status not in LotStatus.values:
        raise ValidationError({"status": _("Choose one of the listed statuses.")})
    reason = clean_text(reason, field="reason", max_length=REASON_MAX, required=True)
    with transaction.atomic():
        locked = Lot.objects.select_for_update().get(pk=lot.pk)
        if locked.status == status:
            return locked
        before = {"status": locked.status}
        locked.status = status
        Lot.objects.filter(pk=locked.pk).update(status=status)
        audit.record(
            actor,
            "supplies.set_lot_status",
            locked,
            before=before,
            after={"status": status, "reason": reason, "item": locked.item_id},
        )
    return locked


def set_minimum_level(
    *, actor: Any, location: Location, item: Item, quantity: Any
) -> MinimumLevel | None:
    """Set the minimum (安全库存) of an item at a location; 0 removes it."""
    require_permission(
        actor,
        Perm.MANAGE_CATALOGUE,
        location.region_code,
        message=_("You may not set minimum levels at this location."),
    )
    amount = parse_quantity(quantity, allow_zero=True)
    with transaction.atomic():
        existing = (
            MinimumLevel.objects.select_for_update().filter(location=location, item=item).first()
        )
        before = {"quantity": existing.quantity} if existing else None
        if amount == 0:
            if existing is None:
                return None
            audit.record(
                actor,
                "supplies.set_minimum_level",
                existing,
                before=before,
                after={"quantity": 0, "location": location.pk, "item": item.pk},
            )
            existing.delete()
            return None
        if existing is not None and existing.quantity == amount:
            return existing
        if existing is None:
            level = MinimumLevel.objects.create(
                location=location, item=item, quantity=amount, region_code=location.region_code
            )
        else:
            level = existing
            level.quantity = amount
            level.save(update_fields=["quantity", "updated_at"])
        audit.record(
            actor,
            "supplies.set_minimum_level",
            level,
            before=before,
            after={"quantity": amount, "location": location.pk, "item": item.pk},
        )
    return level


def stock_location(*, actor: Any, site: Site, permission: str = Perm.POST_STOCK) -> Location:
    """The stock location of a site the actor works at, opened on first use (audited)."""
    require_permission(
        actor, permission, site.region_code, message=_("You may not keep stock at this site.")
    )
    existing = Location.objects.filter(site=site).first()
    if (
        existing is not None
        and existing.name == site.name
        and existing.region_code == site.region_code
    ):
        return existing
    with transaction.atomic():
        location = location_for_site(site)
        if existing is None:
            audit.record(
                actor,
                "supplies.open_location",
                location,
                after={"site": site.pk, "name": location.name},
            )
    return location
