"""Reads for the shell: the user's jurisdiction summary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count

from fangkong.accounts.roles import Perm, role_label
from fangkong.core.scoping import restrict, scope_codes


@dataclass
class AssignmentView:
    role: str
    role_label: str
    region_code: str
    region_name: str


def jurisdiction_summary(user: Any) -> dict[str, Any]:
    """Assignments, regions, and counts of what lies in the user's scope."""
    from fangkong.geo.models import Region, Site
    from fangkong.geo.queries import region_names

    assignments = list(user.role_assignments.order_by("region_code", "role"))
    names = region_names([a.region_code for a in assignments])
    views = [
        AssignmentView(a.role, str(role_label(a.role)), a.region_code, names.get(a.region_code, ""))
        for a in assignments
    ]
    regions = restrict(Region.objects.all(), user, Perm.VIEW_REGIONS)
    region_counts = dict(regions.values_list("level").annotate(n=Count("code")).order_by())
    sites = restrict(Site.objects.filter(active=True), user, Perm.VIEW_SITES)
    site_counts = dict(sites.values_list("kind").annotate(n=Count("id")).order_by())
    return {
        "assignments": views,
        "region_counts": region_counts,
        "site_counts": site_counts,
        "unrestricted": scope_codes(user, Perm.VIEW_REGIONS) is None,
    }
