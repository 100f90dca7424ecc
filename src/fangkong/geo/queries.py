"""Reads on regions and sites (other apps use these, not the models' managers directly)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Substr

from fangkong.accounts.roles import Perm
from fangkong.core.queries import with_region_name
from fangkong.core.regioncodes import ancestor_codes, upper_bound
from fangkong.core.scoping import restrict, scope_codes
from fangkong.geo.models import Region, Site


def region_names(codes: Iterable[str]) -> dict[str, str]:
    """Short display names for codes, in one query."""
    wanted = {c for c in codes if c}
    if not wanted:
        return {}
    return dict(Region.objects.filter(code__in=wanted).values_list("code", "short_name"))


def visible_regions(user: Any, permission: str = Perm.VIEW_REGIONS) -> QuerySet[Region]:
    return restrict(Region.objects.all(), user, permission)


def visible_sites(user: Any, permission: str = Perm.VIEW_SITES) -> QuerySet[Site]:
    """Sites in scope, each with ``region_name`` (the short name of its region) annotated."""
    return with_region_name(restrict(Site.objects.all(), user, permission))


def top_regions(user: Any, permission: str = Perm.VIEW_REGIONS) -> QuerySet[Region]:
    """Where a user's region browser starts: their assigned regions (provinces for an
    unrestricted user)."""
    codes = scope_codes(user, permission)
    if codes is None:
        return Region.objects.filter(level=1).order_by("code")
    return Region.objects.filter(code__in=codes).order_by("code")


@dataclass(frozen=True)
class Crumb:
    code: str
    name: str


def breadcrumb(user: Any, code: str, permission: str = Perm.VIEW_REGIONS) -> list[Crumb]:
    """The chain from the user's top region down to ``code`` (one query).

    Ancestors above the user's own assignment are left out: a cadre of 蒋台屯村 sees
    蒋台屯村 only, a township officer 高庄镇 › 蒋台屯村.
    """
    codes = scope_codes(user, permission)
    chain = [*ancestor_codes(code), code]
    if codes is not None:
        chain = [c for c in chain if any(c.startswith(prefix) for prefix in codes)]
    names = region_names(chain)
    return [Crumb(c, names.get(c, c)) for c in chain if c in names]


@dataclass
class ChildRow:
    region: Region
    children: int
    sites: int


def children_with_counts(
    user: Any, parent: Region, children: Iterable[Region] | None = None
) -> list[ChildRow]:
    """The children of ``parent`` (or the given ones, one level below ``parent``) with
    the number of their own children and of the sites in their subtree the user may see.

    Three queries whatever the number of children.
    """
    rows = list(children) if children is not None else list(parent.children.order_by("code"))
    if not rows:
        return []
    child_counts = dict(
        Region.objects.filter(parent_id__in=[r.code for r in rows])
        .values_list("parent_id")
        .annotate(n=Count("code"))
        .order_by()
    )
    length = len(rows[0].code)
    sites = restrict(Site.objects.all(), user, Perm.VIEW_SITES).filter(
        region_code__gte=parent.code, region_code__lt=upper_bound(parent.code)
    )
    site_counts = dict(
        sites.annotate(prefix=Substr("region_code", 1, length))
        .values_list("prefix")
        .annotate(n=Count("id"))
        .order_by()
    )
    return [ChildRow(r, child_counts.get(r.code, 0), site_counts.get(r.code, 0)) for r in rows]


def counts_for_regions(user: Any, regions: Iterable[Region]) -> list[ChildRow]:
    """Like ``children_with_counts`` for unrelated regions (the top of the browser)."""
    rows = list(regions)
    if not rows:
        return []
    child_counts = dict(
        Region.objects.filter(parent_id__in=[r.code for r in rows])
        .values_list("parent_id")
        .annotate(n=Count("code"))
        .order_by()
    )
    # One aggregate with a filtered count per region (the top holds a handful of regions).
    site_counts = restrict(Site.objects.all(), user, Perm.VIEW_SITES).aggregate(
        **{
            f"r{i}": Count(
                "id",
                filter=Q(region_code__gte=r.code, region_code__lt=upper_bound(r.code)),
            )
            for i, r in enumerate(rows)
        }
    )
    return [
        ChildRow(r, child_counts.get(r.code, 0), site_counts.get(f"r{i}") or 0)
        for i, r in enumerate(rows)
    ]
