"""FilterSets of the catalogue and documents, shared by pages and the API.

Other areas keep their own FilterSets in their own modules.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from fangkong.accounts.roles import Perm
from fangkong.core.filters import MAX_TEXT, LocalDateFilter, normalize_text
from fangkong.core.scoping import restrict
from fangkong.supplies.models import (
    DocumentKind,
    DocumentLine,
    DocumentStatus,
    Item,
    ItemCategory,
    Location,
    StockDocument,
)


def visible_locations(request: HttpRequest | None) -> QuerySet[Location]:
    user = getattr(request, "user", None)
    return restrict(Location.objects.all(), user, Perm.VIEW_STOCK).order_by("region_code", "name")


def catalogue_items(request: HttpRequest | None = None) -> QuerySet[Item]:
    return Item.objects.order_by("category", "name")


class ItemFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        method="filter_text", max_length=MAX_TEXT, label=_("Code or name")
    )
    category = django_filters.ChoiceFilter(choices=ItemCategory.choices, label=_("Category"))
    active = django_filters.BooleanFilter(label=_("Active"))
    tracks_lots = django_filters.BooleanFilter(label=_("Tracks lots"))

    class Meta:
        model = Item
        fields: list[str] = []

    def filter_text(self, qs: QuerySet[Item], name: str, value: str) -> QuerySet[Item]:
        text = normalize_text(value)
        if not text:
            return qs
        return qs.filter(
            Q(code__iexact=text) | Q(name__icontains=text) | Q(specification__icontains=text)
        )


class DocumentFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=DocumentKind.choices, label=_("Kind"))
    status = django_filters.ChoiceFilter(choices=DocumentStatus.choices, label=_("Status"))
    location = django_filters.ModelChoiceFilter(
        queryset=visible_locations, method="filter_location", label=_("Location")
    )
    item = django_filters.ModelChoiceFilter(
        queryset=catalogue_items, method="filter_item", label=_("Item")
    )
    date_from = LocalDateFilter(field_name="effective_at", label=_("From (day)"))
    date_to = LocalDateFilter(field_name="effective_at", end=True, label=_("To (day)"))
    number = django_filters.CharFilter(
        method="filter_number", max_length=32, label=pgettext_lazy("stock document", "Number")
    )

    class Meta:
        model = StockDocument
        fields: list[str] = []

    def filter_location(self, qs: QuerySet[Any], name: str, value: Location) -> QuerySet[Any]:
        # The region test lets the scope and counterpart indexes find the rows (the
        # documents carry no source/destination index, D25); it holds because a
        # document's region_code is one side's region and its counterpart the other's.
        on_either_side = Q(region_code=value.region_code) | Q(
            counterpart_region_code=value.region_code
        )
        return qs.filter(on_either_side & (Q(source=value) | Q(destination=value)))

    def filter_item(self, qs: QuerySet[Any], name: str, value: Item) -> QuerySet[Any]:
        return qs.filter(pk__in=DocumentLine.objects.filter(item=value).values("document_id"))

    def filter_number(self, qs: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        text = normalize_text(value).upper()
        return qs.filter(number__startswith=text) if text else qs
