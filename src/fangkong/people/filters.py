"""The person FilterSet, shared by the list page, the API list and the export."""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, QuerySet
from django.utils.translation import gettext_lazy as _

from fangkong.accounts.roles import Perm
from fangkong.geo.filters import _subtree, resolve_region_code
from fangkong.geo.forms import RegionPickerWidget
from fangkong.people.models import KeyGroup, Person, PersonTag, ResidenceStatus, ReturneeRecord
from fangkong.people.queries import apply_search

# (value, label, youngest age, oldest age or None)
AGE_BANDS = [
    ("0-6", _("0–6"), 0, 6),
    ("7-17", _("7–17"), 7, 17),
    ("18-59", _("18–59"), 18, 59),
    ("60-79", _("60–79"), 60, 79),
    ("80+", _("80 and over"), 80, None),
]


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def age_band_range(band: str, today: dt.date | None = None) -> tuple[dt.date | None, dt.date]:
    """(born after, born on or before) for an age band, as a birth-date range."""
    day = today or dt.date.today()
    for value, _label, low, high in AGE_BANDS:
        if value == band:
            latest = _years_before(day, low)
            earliest = _years_before(day, high + 1) if high is not None else None
            return earliest, latest
    raise ValueError(band)


class PersonFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label=_("Search"),
        method="filter_q",
        max_length=64,
        widget=forms.TextInput(
            attrs={"placeholder": _("name, pinyin, zs, phone or ID (or their last digits)")}
        ),
    )
    region = django_filters.CharFilter(
        label=_("Village"),
        method="filter_region",
        max_length=100,
        widget=RegionPickerWidget(Perm.VIEW_PEOPLE),
    )
    tag = django_filters.ModelChoiceFilter(
        label=_("Key group"),
        queryset=KeyGroup.objects.filter(active=True),
        to_field_name="code",
        method="filter_tag",
        empty_label=_("All"),
    )
    age = django_filters.ChoiceFilter(
        label=_("Age"),
        choices=[(v, label) for v, label, _low, _high in AGE_BANDS],
        method="filter_age",
        empty_label=_("All ages"),
    )
    status = django_filters.ChoiceFilter(
        label=_("Residence status"),
        field_name="residence_status",
        choices=ResidenceStatus.choices,
        empty_label=_("All"),
    )
    returnee = django_filters.BooleanFilter(
        label=_("Returnee"),
        method="filter_returnee",
        widget=forms.Select(choices=[("", _("All")), ("true", _("Yes")), ("false", _("No"))]),
    )

    class Meta:
        model = Person
        fields = ["q", "region", "tag", "age", "status", "returnee"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.form.fields.values():
            is_select = getattr(field.widget, "input_type", "") == "select"
            field.widget.attrs.setdefault("class", "form-select" if is_select else "form-control")

    def filter_q(self, queryset: QuerySet[Person], name: str, value: str) -> QuerySet[Person]:
        return apply_search(queryset, value)

    def filter_region(self, queryset: QuerySet[Person], name: str, value: str) -> QuerySet[Person]:
        code = resolve_region_code(value, getattr(self.request, "user", None))
        if code is None:
            return queryset.none() if value.strip() else queryset
        return _subtree(queryset, "region_code", code)

    def filter_tag(self, queryset: QuerySet[Person], name: str, value: Any) -> QuerySet[Person]:
        if value is None:
            return queryset
        tagged = PersonTag.objects.filter(person_id=OuterRef("pk"), group=value)
        return queryset.filter(Exists(tagged))

    def filter_age(self, queryset: QuerySet[Person], name: str, value: str) -> QuerySet[Person]:
        if not value:
            return queryset
        earliest, latest = age_band_range(value)
        queryset = queryset.filter(birth_date__lte=latest)
        if earliest is not None:
            queryset = queryset.filter(birth_date__gt=earliest)
        return queryset

    def filter_returnee(
        self, queryset: QuerySet[Person], name: str, value: bool | None
    ) -> QuerySet[Person]:
        if value is None:
            return queryset
        returned = Exists(ReturneeRecord.objects.filter(person_id=OuterRef("pk")))
        return queryset.filter(returned if value else ~returned)
