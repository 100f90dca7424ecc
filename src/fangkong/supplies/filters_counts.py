"""FilterSets of the stock-take and donation lists, shared by the pages, the API and the export."""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from fangkong.core.filters import normalize_text
from fangkong.supplies.models import (
    CountStatus,
    Donation,
    DonationDirection,
    PartyType,
    StockCount,
)

MAX_TEXT = 64


class FoldedDateFilter(django_filters.DateFilter):
    """A date typed with full-width digits still parses; a bad one is a field error."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", forms.DateInput(attrs={"type": "date"}))
        super().__init__(*args, **kwargs)


class _Folding(django_filters.FilterSet):
    def __init__(self, data: Any = None, *args: Any, **kwargs: Any) -> None:
        if data is not None:
            data = data.copy()
            for key in list(data.keys()):
                value = data.get(key)
                if isinstance(value, str):
                    data[key] = normalize_text(value)[:200]
        super().__init__(data, *args, **kwargs)


class StockCountFilter(_Folding):
    status = django_filters.ChoiceFilter(label=_("Status"), choices=CountStatus.choices)
    location = django_filters.CharFilter(
        label=_("Location"), method="filter_location", max_length=MAX_TEXT
    )
    started_from = FoldedDateFilter(
        label=_("Started from"), field_name="started_at", method="filter_from"
    )
    started_to = FoldedDateFilter(
        label=_("Started to"), field_name="started_at", method="filter_to"
    )

    class Meta:
        model = StockCount
        fields: list[str] = []

    def filter_location(self, qs: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return qs.filter(location__name__contains=value) if value else qs

    def filter_from(self, qs: QuerySet[Any], name: str, value: dt.date) -> QuerySet[Any]:
        return qs.filter(started_at__date__gte=value) if value else qs

    def filter_to(self, qs: QuerySet[Any], name: str, value: dt.date) -> QuerySet[Any]:
        return qs.filter(started_at__date__lte=value) if value else qs


class DonationFilter(_Folding):
    direction = django_filters.ChoiceFilter(label=_("Direction"), choices=DonationDirection.choices)
    donor_type = django_filters.ChoiceFilter(label=_("Donor type"), choices=PartyType.choices)
    date_from = FoldedDateFilter(label=_("From"), field_name="donated_on", lookup_expr="gte")
    date_to = FoldedDateFilter(label=_("To"), field_name="donated_on", lookup_expr="lte")
    q = django_filters.CharFilter(
        label=_("Search"),
        method="filter_q",
        max_length=MAX_TEXT,
        widget=forms.TextInput(attrs={"placeholder": _("donor, recipient or number")}),
    )

    class Meta:
        model = Donation
        fields: list[str] = []

    def filter_q(self, qs: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        if not value:
            return qs
        return qs.filter(
            Q(donor_name__contains=value)
            | Q(recipient_name__contains=value)
            | Q(number__startswith=value.upper())
        )
