"""Reads on testing rounds: which rounds a user sees, zones and their pool sizes.

A round is visible to whoever holds the permission over any part of its area: over a
zone (a township officer for a round over the township, HQ for a county round) or inside
one (a village cadre of a village in a township-wide round). A round over another
township is not visible, so its pages are a 404.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from fangkong.accounts.roles import Perm
from fangkong.core.cleaning import MAX_PK
from fangkong.core.regioncodes import upper_bound
from fangkong.core.scoping import restrict, scope_codes
from fangkong.geo.models import Site, SiteKind
from fangkong.geo.queries import region_names
from fangkong.screening.models import Round, RoundStatus, RoundZone

CODE_LENGTHS = (2, 4, 6, 9, 12, 15)


def prefixes_of(code: str) -> list[str]:
    """Every division code containing ``code``, itself included (4105, 410522, ...)."""
    return [code[:n] for n in CODE_LENGTHS if n <= len(code)]


def zone_overlap(codes: list[str]) -> Q:
    """Zones lying inside one of ``codes`` or containing one of them (indexed ranges)."""
    condition = Q(pk__in=[])
    ancestors: set[str] = set()
    for code in codes:
        condition |= Q(region_code__gte=code, region_code__lt=upper_bound(code))
        ancestors.update(prefixes_of(code))
    if ancestors:
        condition |= Q(region_code__in=sorted(ancestors))
    return condition


def visible_rounds(user: Any, permission: str = Perm.VIEW_SCREENING) -> QuerySet[Round]:
    """Rounds whose area overlaps the user's regions for ``permission``."""
    codes = scope_codes(user, permission)
    if codes is None:
        return Round.objects.all()
    if not codes:
        return Round.objects.none()
    zones = RoundZone.objects.filter(zone_overlap(codes), round_id=OuterRef("pk"))
    return Round.objects.filter(Exists(zones))


def sampling_rounds(
    user: Any, statuses: tuple[str, ...] = (RoundStatus.SAMPLING,)
) -> QuerySet[Round]:
    """Rounds in the given statuses whose area overlaps the regions where the user samples."""
    return visible_rounds(user, Perm.SAMPLE).filter(status__in=statuses)


def sample_sites(user: Any) -> QuerySet[Site]:
    """Active testing sites where the user may sample."""
    return restrict(
        Site.objects.filter(kind=SiteKind.TESTING_SITE, active=True), user, Perm.SAMPLE
    ).order_by("region_code", "name")


def get_round(user: Any, pk: int, permission: str = Perm.VIEW_SCREENING) -> Round | None:
    if not 0 < pk <= MAX_PK:
        return None
    return visible_rounds(user, permission).filter(pk=pk).first()


def zones_of(round_: Round) -> list[RoundZone]:
    """The round's zones, each with ``region_name`` set (two queries)."""
    zones = list(RoundZone.objects.filter(round=round_).order_by("region_code"))
    names = region_names(zone.region_code for zone in zones)
    for zone in zones:
        zone.region_name = names.get(zone.region_code, "")  # type: ignore[attr-defined]
    return zones


def zone_for(round_: Round | int, region_code: str) -> RoundZone | None:
    """The zone a place belongs to: the longest zone code that ``region_code`` starts
    with, or None when the place is outside the round's area (one indexed query)."""
    if not region_code:
        return None
    round_id = round_ if isinstance(round_, int) else round_.pk
    found = RoundZone.objects.filter(round_id=round_id, region_code__in=prefixes_of(region_code))
    return max(found, key=lambda zone: len(zone.region_code), default=None)


def pool_size_for(round_: Round, region_code: str) -> int | None:
    """Pool size for a site or person at ``region_code`` (see zone_for); None outside."""
    zone = zone_for(round_, region_code)
    return zone.pool_size if zone is not None else None


def in_area(round_: Round, region_code: str) -> bool:
    return zone_for(round_, region_code) is not None
