"""Get-or-create helpers for the rows a balance key points at: stock locations and lots.

Both are race-free: the unique constraints decide, and ``get_or_create`` re-reads on a
conflict.
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from fangkong.geo.models import Site
from fangkong.supplies.models import Item, Location, LocationKind, Lot


def location_for_site(site: Site) -> Location:
    """The stock location of a site (depot, village point, testing site), made on first use."""
    location, created = Location.objects.get_or_create(
        site=site,
        defaults={"kind": LocationKind.SITE, "name": site.name, "region_code": site.region_code},
    )
    if not created and (location.name != site.name or location.region_code != site.region_code):
        # A renamed or moved site: its stock follows it.
        Location.objects.filter(pk=location.pk).update(name=site.name, region_code=site.region_code)
        location.name, location.region_code = site.name, site.region_code
    return location


def default_lot(item: Item) -> Lot:
    """The lot an item without lot tracking posts to (code "")."""
    lot, _created = Lot.objects.get_or_create(item=item, code="")
    return lot


def lot_for(item: Item, code: str, expiry_date: dt.date | None = None) -> Lot:
    """The lot ``code`` of ``item``, made when a receipt first names it.

    An item that tracks lots needs a lot code; a known lot keeps its expiry unless none
    was recorded, and a different expiry for the same lot is an error, not an overwrite.
    """
    code = code.strip().upper()
    if not code:
        if item.tracks_lots:
            raise ValidationError(
                {"lot": _("%(item)s is tracked by lot: enter the lot number.") % {"item": item}}
            )
        return default_lot(item)
    lot, created = Lot.objects.get_or_create(
        item=item, code=code, defaults={"expiry_date": expiry_date}
    )
    if not created and expiry_date is not None:
        if lot.expiry_date is None:
            Lot.objects.filter(pk=lot.pk).update(expiry_date=expiry_date)
            lot.expiry_date = expiry_date
        elif lot.expiry_date != expiry_date:
            raise ValidationError(
                {
                    "expiry_date": _("Lot %(lot)s is recorded as expiring on %(date)s.")
                    % {"lot": code, "date": lot.expiry_date}
                }
            )
    return lot
