"""FilterSets for regions and sites: one per model, used by the pages and the API."""

from __future__ import annotations

import unicodedata
from typing import Any

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from fangkong.accounts.roles import Perm
from fangkong.core.regioncodes import LEVEL_LABELS, is_valid_code, upper_bound
from fangkong.core.scoping import restrict
from fangkong.geo.forms import RegionPickerWidget
from fangkong.geo.models import Region, Site, SiteKind
from fangkong.geo.names import match_region, normalize_query, to_simplified

LEVEL_CHOICES = [(int(level), label) for level, label in LEVEL_LABELS.items()]


def _subtree(queryset: QuerySet[Any], field: str, code: str) -> QuerySet[Any]:
    return queryset.filter(**{f"{field}__gte": code, f"{field}__lt": upper_bound(code)})


def resolve_region_code(value: str, user: Any) -> str | None:
    """A code typed as such, or the code of the one region (in the user's scope) named."""
    text = unicodedata.normalize("NFKC", value or "").strip()
    if not text:
        return None
    if text.isascii() and text.isdigit():
        return text if is_valid_code(text) else None
    region = match_region(text, queryset=restrict(Region.objects.all(), user, Perm.VIEW_REGIONS))
    return region.code if region is not None else None


class SiteFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(label=_("Name contains"), method="filter_name", max_length=100)
    kind = django_filters.ChoiceFilter(
        label=_("Kind"), choices=SiteKind.choices, empty_label=_("All kinds")
    )
    active = django_filters.BooleanFilter(
        label=_("Status"),
        widget=forms.Select(
            choices=[("", _("All")), ("true", _("Active")), ("false", _("Inactive"))]
        ),
    )
    region = django_filters.CharFilter(
        label=_("Region"),
        method="filter_region",
        max_length=100,
        widget=RegionPickerWidget(Perm.VIEW_SITES),
    )

    class Meta:
        model = Site
        fields = ["name", "kind", "active", "region"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.form.fields.values():
            is_select = getattr(field.widget, "input_type", "") == "select"
            field.widget.attrs.setdefault("class", "form-select" if is_select else "form-control")

    def filter_name(self, queryset: QuerySet[Site], name: str, value: str) -> QuerySet[Site]:
        text = unicodedata.normalize("NFKC", value).strip()
        if not text:
            return queryset
        # Names are stored as typed: match the text as given and in simplified form.
        return queryset.filter(Q(name__icontains=text) | Q(name__icontains=to_simplified(text)))

    def filter_region(self, queryset: QuerySet[Site], name: str, value: str) -> QuerySet[Site]:
        user = getattr(self.request, "user", None)
        code = resolve_region_code(value, user)
        if code is None:
            return queryset.none() if value.strip() else queryset
        return _subtree(queryset, "region_code", code)


class RegionFilter(django_filters.FilterSet):
    parent = django_filters.CharFilter(label=_("Parent code"), method="filter_parent")
    level = django_filters.TypedChoiceFilter(label=_("Level"), choices=LEVEL_CHOICES, coerce=int)
    q = django_filters.CharFilter(label=_("Name or code"), method="filter_q", max_length=100)

    class Meta:
        model = Region
        fields = ["parent", "level", "q"]

    def filter_parent(self, queryset: QuerySet[Region], name: str, value: str) -> QuerySet[Region]:
        code = unicodedata.normalize("NFKC", value).strip()
        return queryset.filter(parent_id=code) if code else queryset

    def filter_q(self, queryset: QuerySet[Region], name: str, value: str) -> QuerySet[Region]:
        query = normalize_query(value)
        if not query:
            return queryset
        if query.isascii() and query.isdigit():
            return _subtree(queryset, "code", query)
        return queryset.filter(short_name__contains=query)
