"""Template tags other apps use to show where a record is: ``{% load geo_tags %}``."""

from __future__ import annotations

from typing import Any

from django import template

from fangkong.geo import queries

register = template.Library()


@register.inclusion_tag("geo/_breadcrumb.html", takes_context=True)
def region_breadcrumb(context: dict[str, Any], code: str, tail: str = "") -> dict[str, Any]:
    """``{% region_breadcrumb record.region_code tail=record.name %}``: the user's top
    region down to ``code`` (one query), each a link into the region browser."""
    request = context.get("request")
    user = getattr(request, "user", None)
    return {"crumbs": queries.breadcrumb(user, code or "") if code else [], "tail": tail}


@register.simple_tag
def region_name(code: str) -> str:
    """The short name of one region (one query; in lists annotate instead)."""
    return queries.region_names([code]).get(code, code) if code else ""
