"""Every write on sites and village groups (DESIGN rule 2): atomic, checked, audited.

``actor`` None means the system (CLI, demo, jobs). A user needs ``Perm.MANAGE_SITES`` over
the region concerned (both the old and the new region when a site moves); adding a
village group (村民小组) needs the same permission over the village.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from fangkong.accounts.roles import Perm
from fangkong.core import audit
from fangkong.core.cleaning import clean_phone, clean_region_code_format, clean_text
from fangkong.core.regioncodes import Level
from fangkong.core.scoping import has_permission
from fangkong.geo.models import Region, Site, SiteKind
from fangkong.geo.names import to_simplified

NAME_MAX = Site._meta.get_field("name").max_length or 100
ADDRESS_MAX = Site._meta.get_field("address").max_length or 200
CONTACT_NAME_MAX = Site._meta.get_field("contact_name").max_length or 64
PHONE_MAX = Site._meta.get_field("contact_phone").max_length or 32
NOTES_MAX = 2000
GROUP_NAME_MAX = Region._meta.get_field("name").max_length or 100

SITE_FIELDS = ("name", "kind", "region_code", "address", "contact_name", "contact_phone", "notes")


# --- cleaning -------------------------------------------------------------------------


def clean_kind(value: Any) -> str:
    if value not in SiteKind.values:
        raise ValidationError({"kind": _("Choose one of the listed kinds.")})
    return str(value)


def clean_region_code(value: Any, field: str = "region_code") -> str:
    return clean_region_code_format(value, field)


def _name_key(name: str) -> str:
    """Names that differ only in traditional/simplified form or spacing count as equal."""
    return to_simplified("".join(name.split())).casefold()


# --- checks ---------------------------------------------------------------------------


def _require(actor: Any, region_code: str) -> None:
    if actor is None:
        return
    if not has_permission(actor, Perm.MANAGE_SITES, region_code):
        raise PermissionDenied(_("You may not manage sites in this region."))


def _require_region(code: str, field: str = "region_code") -> Region:
    region = Region.objects.filter(code=code).first()
    if region is None:
        raise ValidationError({field: _("There is no region with code %(code)s.") % {"code": code}})
    return region


def _require_unique_name(name: str, region_code: str, exclude_pk: int | None = None) -> None:
    key = _name_key(name)
    others = Site.objects.filter(region_code=region_code)
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    for other in others.values_list("name", flat=True):
        if _name_key(other) == key:
            raise ValidationError(
                {
                    "name": _("A site named %(name)s already exists in this region.")
                    % {"name": other}
                }
            )


def _save(site: Site) -> None:
    try:
        with transaction.atomic():
            site.save()
    except IntegrityError:  # a concurrent save took the name between check and write
        raise ValidationError(
            {
                "name": _("A site named %(name)s already exists in this region.")
                % {"name": site.name}
            }
        ) from None


# --- sites ----------------------------------------------------------------------------


def create_site(
    *,
    actor: Any,
    name: str,
    kind: str,
    region_code: str,
    address: str = "",
    contact_name: str = "",
    contact_phone: str = "",
    notes: str = "",
    active: bool = True,
) -> Site:
    """Create a site (场所) in a region; audited as "geo.create_site"."""
    code = clean_region_code(region_code)
    _require(actor, code)
    values = {
        "name": clean_text(name, field="name", max_length=NAME_MAX, required=True),
        "kind": clean_kind(kind),
        "address": clean_text(address, field="address", max_length=ADDRESS_MAX),
        "contact_name": clean_text(contact_name, field="contact_name", max_length=CONTACT_NAME_MAX),
        "contact_phone": clean_phone(contact_phone, "contact_phone"),
        "notes": clean_text(notes, field="notes", max_length=NOTES_MAX, multiline=True),
    }
    with transaction.atomic():
        _require_region(code)
        _require_unique_name(values["name"], code)
        site = Site(region_code=code, active=bool(active), **values)
        _save(site)
        audit.record(actor, "geo.create_site", site, after=audit.snapshot(site))
    return site


def update_site(*, actor: Any, site: Site, **changes: Any) -> Site:
    """Change some of a site's fields (name, kind, region_code, address, contact_name,
    contact_phone, notes); audited as "geo.update_site" with before and after. Nothing is
    written when nothing changes."""
    unknown = set(changes) - set(SITE_FIELDS)
    if unknown:
        raise TypeError(f"update_site() got unknown fields: {', '.join(sorted(unknown))}")
    cleaners = {
        "name": lambda v: clean_text(v, field="name", max_length=NAME_MAX, required=True),
        "kind": clean_kind,
        "region_code": clean_region_code,
        "address": lambda v: clean_text(v, field="address", max_length=ADDRESS_MAX),
        "contact_name": lambda v: clean_text(v, field="contact_name", max_length=CONTACT_NAME_MAX),
        "contact_phone": lambda v: clean_phone(v, "contact_phone"),
        "notes": lambda v: clean_text(v, field="notes", max_length=NOTES_MAX, multiline=True),
    }
    cleaned = {field: cleaners[field](value) for field, value in changes.items()}
    if "region_code" in cleaned:
        _require(actor, cleaned["region_code"])
    with transaction.atomic():
        current = Site.objects.select_for_update().get(pk=site.pk)
        _require(actor, current.region_code)
        before = audit.snapshot(current)
        for field, value in cleaned.items():
            setattr(current, field, value)
        if "region_code" in cleaned and cleaned["region_code"] != before["region_code"]:
            _require_region(current.region_code)
        if {"name", "region_code"} & cleaned.keys():
            _require_unique_name(current.name, current.region_code, exclude_pk=current.pk)
        after = audit.snapshot(current)
        if _without_times(after) == _without_times(before):
            return current
        _save(current)
        after = audit.snapshot(current)
        audit.record(actor, "geo.update_site", current, before=before, after=after)
    return current


def set_site_active(*, actor: Any, site: Site, active: bool) -> Site:
    """Deactivate (停用) or reactivate (启用) a site; audited as "geo.deactivate_site" or
    "geo.reactivate_site". Nothing is written when it already is in that state."""
    with transaction.atomic():
        current = Site.objects.select_for_update().get(pk=site.pk)
        _require(actor, current.region_code)
        if current.active == bool(active):
            return current
        before = {"active": current.active}
        current.active = bool(active)
        current.save(update_fields=["active", "updated_at"])
        verb = "geo.reactivate_site" if active else "geo.deactivate_site"
        audit.record(actor, verb, current, before=before, after={"active": current.active})
    return current


def _without_times(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in snapshot.items() if k not in {"created_at", "updated_at"}}


# --- village groups -------------------------------------------------------------------


def add_village_group(
    *, actor: Any, village_code: str, name: str, number: int | None = None
) -> Region:
    """Add a village group (村民小组) below a village: code = village code + 3 digits.

    ``number`` 1-999 picks the digits (第3组 → 003); None takes the next free one.
    Audited as "geo.add_village_group".
    """
    code = clean_region_code(village_code, "village_code")
    _require(actor, code)
    clean_name = clean_text(name, field="name", max_length=GROUP_NAME_MAX, required=True)
    if number is not None and (
        isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= 999
    ):
        raise ValidationError({"number": _("Use a group number from 1 to 999.")})
    with transaction.atomic():
        village = _require_region(code, "village_code")
        if village.level != Level.VILLAGE:
            raise ValidationError(
                {"village_code": _("Village groups can only be added below a village.")}
            )
        siblings = list(village.children.values_list("code", "name"))
        key = _name_key(clean_name)
        if any(_name_key(other) == key for _c, other in siblings):
            raise ValidationError(
                {
                    "name": _("This village already has a group named %(name)s.")
                    % {"name": clean_name}
                }
            )
        taken = {int(c[-3:]) for c, _n in siblings}
        if number is None:
            free = [n for n in range(1, 1000) if n not in taken]
            if not free:
                raise ValidationError({"number": _("This village has no free group number.")})
            number = free[0]
        elif number in taken:
            raise ValidationError({"number": _("Group number %(n)d is taken.") % {"n": number}})
        group = Region.objects.create(
            code=f"{code}{number:03d}",
            name=clean_name,
            short_name=clean_name,
            level=int(Level.GROUP),
            parent=village,
        )
        audit.record(actor, "geo.add_village_group", group, after=audit.snapshot(group))
    return group
