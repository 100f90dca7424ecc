"""Reads on regions and sites."""

from __future__ import annotations

from collections.abc import Iterable

from fangkong.geo.models import Region


def region_names(codes: Iterable[str]) -> dict[str, str]:
    """Short display names for codes, in one query."""
    wanted = {c for c in codes if c}
    if not wanted:
        return {}
    return dict(Region.objects.filter(code__in=wanted).values_list("code", "short_name"))
