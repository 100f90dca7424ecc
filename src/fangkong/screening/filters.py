"""FilterSets for the round list and a round's tubes, shared by the pages and the API."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext_lazy as _

from fangkong.accounts.roles import Perm
from fangkong.core.filters import normalize_text
from fangkong.geo.filters import resolve_region_code
from fangkong.geo.forms import RegionPickerWidget
from fangkong.geo.names import to_simplified
from fangkong.screening.models import Round, RoundStatus, RoundZone, Tube, TubeStatus
from fangkong.screening.queries.rounds import zone_overlap


def _style(filterset: django_filters.FilterSet) -> None:
    for field in filterset.form.fields.values():
        is_select = getattr(field.widget, "input_type", "") == "select"
        field.widget.attrs.setdefault("class", "form-select" if is_select else "form-control")


class RoundFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label=_("Name"),
        method="filter_q",
        max_length=64,
        widget=forms.TextInput(attrs={"placeholder": _("第9轮")}),
    )
    status = django_filters.ChoiceFilter(
        label=_("Status"), choices=RoundStatus.choices, empty_label=_("All")
    )
    region = django_filters.CharFilter(
        label=_("Region"),
        method="filter_region",
        max_length=100,
        widget=RegionPickerWidget(Perm.VIEW_SCREENING),
    )

    class Meta:
        model = Round
        fields: list[str] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _style(self)

    def filter_q(self, queryset: QuerySet[Round], name: str, value: str) -> QuerySet[Round]:
        text = normalize_text(value)
        if not text:
            return queryset
        return queryset.filter(Q(name__icontains=text) | Q(name__icontains=to_simplified(text)))

    def filter_region(self, queryset: QuerySet[Round], name: str, value: str) -> QuerySet[Round]:
        """Rounds whose area overlaps the region (covers it, or lies inside it)."""
        code = resolve_region_code(value, getattr(self.request, "user", None))
        if code is None:
            return queryset.none() if value.strip() else queryset
        zones = RoundZone.objects.filter(zone_overlap([code]), round_id=OuterRef("pk"))
        return queryset.filter(Exists(zones))


class TubeFilter(django_filters.FilterSet):
    barcode = django_filters.CharFilter(
        label=_("Tube barcode"), method="filter_barcode", max_length=32
    )
    status = django_filters.ChoiceFilter(
        label=_("Status"), choices=TubeStatus.choices, empty_label=_("All")
    )

    class Meta:
        model = Tube
        fields: list[str] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _style(self)

    def filter_barcode(self, queryset: QuerySet[Tube], name: str, value: str) -> QuerySet[Tube]:
        text = normalize_text(value).upper()
        return queryset.filter(barcode__startswith=text) if text else queryset
