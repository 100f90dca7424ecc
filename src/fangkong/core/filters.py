"""FilterSets for core's lists (audit, access log, jobs), shared by pages and the API."""

from __future__ import annotations

import datetime as dt
import unicodedata
from functools import lru_cache
from typing import Any

import django_filters
from django import forms
from django.apps import apps
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangkong.core.models import AccessKind, AccessLogEntry, AuditEntry, Job, JobStatus
from fangkong.core.regioncodes import is_valid_code, upper_bound

MAX_TEXT = 100


def normalize_text(value: str) -> str:
    """Full-width digits and letters to ASCII, surrounding spaces dropped."""
    return unicodedata.normalize("NFKC", value).strip()


@lru_cache(maxsize=1)
def _to_simplified() -> Any:
    import opencc

    return opencc.OpenCC("t2s")


class RegionField(forms.CharField):
    """A division code (any level) or a region's name, in simplified or traditional script."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", MAX_TEXT)
        kwargs.setdefault(
            "widget", forms.TextInput(attrs={"placeholder": _("code or name"), "inputmode": "text"})
        )
        super().__init__(*args, **kwargs)

    def to_python(self, value: Any) -> str:
        text = normalize_text(super().to_python(value) or "")
        if not text:
            return ""
        if text.isdigit() or text.isascii():
            if not is_valid_code(text):
                raise forms.ValidationError(
                    _("Enter a division code of 2, 4, 6, 9, 12 or 15 digits, or a region name."),
                    code="invalid_region",
                )
            return text
        return str(_to_simplified().convert(text))


class RegionFilter(django_filters.CharFilter):
    """Records under a region: by code prefix (an indexed range) or by the region's name."""

    field_class = RegionField

    def filter(self, qs: QuerySet[Any], value: str) -> QuerySet[Any]:
        if not value:
            return qs
        if value.isdigit():
            codes = [value]
        else:
            from fangkong.geo.models import Region

            codes = list(
                Region.objects.filter(Q(short_name=value) | Q(name=value)).values_list(
                    "code", flat=True
                )[:50]
            )
            if not codes:
                return qs.none()
        condition = Q()
        for code in codes:
            condition |= Q(**{f"{self.field_name}__gte": code}) & Q(
                **{f"{self.field_name}__lt": upper_bound(code)}
            )
        return qs.filter(condition)


def local_day_start(day: dt.date) -> dt.datetime:
    """Midnight of a local calendar day (Asia/Shanghai by default) as an aware datetime."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=timezone.get_default_timezone())


class LocalDateField(forms.DateField):
    """A calendar day in a sensible range (a year 1 or 9999 would overflow time zones)."""

    MIN_YEAR, MAX_YEAR = 2000, 2100

    def to_python(self, value: Any) -> dt.date | None:
        if isinstance(value, str):
            value = normalize_text(value)
        day = super().to_python(value)
        if day is not None and not (self.MIN_YEAR <= day.year <= self.MAX_YEAR):
            raise forms.ValidationError(
                _("Enter a date between %(low)d and %(high)d.")
                % {"low": self.MIN_YEAR, "high": self.MAX_YEAR},
                code="date_out_of_range",
            )
        return day


class LocalDateFilter(django_filters.DateFilter):
    """A day boundary in local time: ``after`` from that midnight, ``before`` to the next."""

    field_class = LocalDateField

    def __init__(self, *args: Any, end: bool = False, **kwargs: Any) -> None:
        self.end = end
        kwargs.setdefault("widget", forms.DateInput(attrs={"type": "date"}))
        super().__init__(*args, **kwargs)

    def filter(self, qs: QuerySet[Any], value: dt.date | None) -> QuerySet[Any]:
        if value is None:
            return qs
        if self.end:
            bound = local_day_start(value + dt.timedelta(days=1))
            return qs.filter(**{f"{self.field_name}__lt": bound})
        return qs.filter(**{f"{self.field_name}__gte": local_day_start(value)})


def object_type_choices() -> list[tuple[str, str]]:
    """Every installed model as "app.model" with its readable name (no query needed)."""
    choices = [
        (model._meta.label_lower, f"{model._meta.verbose_name} ({model._meta.label_lower})")
        for model in apps.get_models()
        if model.__module__.startswith("fangkong.")
    ]
    return sorted(choices)


class _TextFilter(django_filters.CharFilter):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("lookup_expr", "icontains")
        kwargs.setdefault("max_length", MAX_TEXT)
        super().__init__(*args, **kwargs)

    def filter(self, qs: QuerySet[Any], value: Any) -> QuerySet[Any]:
        return super().filter(qs, normalize_text(value) if isinstance(value, str) else value)


class AuditEntryFilter(django_filters.FilterSet):
    actor = _TextFilter(field_name="actor_name", label=_("User"))
    object_type = django_filters.ChoiceFilter(
        field_name="object_type", choices=object_type_choices, label=_("Object type")
    )
    action = _TextFilter(field_name="action", label=_("Action"))
    date_from = LocalDateFilter(field_name="created_at", label=_("From (day)"))
    date_to = LocalDateFilter(field_name="created_at", end=True, label=_("To (day)"))
    region = RegionFilter(field_name="region_code", label=_("Region"))

    class Meta:
        model = AuditEntry
        fields: list[str] = []


class AccessLogFilter(django_filters.FilterSet):
    user = _TextFilter(field_name="user_name", label=_("User"))
    kind = django_filters.ChoiceFilter(choices=AccessKind.choices, label=_("Kind"))
    object_type = django_filters.ChoiceFilter(
        field_name="object_type", choices=object_type_choices, label=_("Object type")
    )
    date_from = LocalDateFilter(field_name="created_at", label=_("From (day)"))
    date_to = LocalDateFilter(field_name="created_at", end=True, label=_("To (day)"))
    region = RegionFilter(field_name="region_code", label=_("Region"))

    class Meta:
        model = AccessLogEntry
        fields: list[str] = []


class JobFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=JobStatus.choices, label=_("Status"))
    kind = _TextFilter(field_name="kind", label=_("Kind"))

    class Meta:
        model = Job
        fields: list[str] = []
