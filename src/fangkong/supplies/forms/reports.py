"""Filters of the stock reports, shared by the pages, the API and the exports.

Stock on hand and the period reports are aggregates, so their filters are plain forms
that build a ``queries.StockQuery``; the ledger is a list of movements, filtered by a
django-filter FilterSet.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangkong.supplies.actions.snapshots import day_end, day_start
from fangkong.supplies.models import DocumentKind, Item, ItemCategory, Location, Movement
from fangkong.supplies.queries import (
    MAX_EXPIRY_FILTER_DAYS,
    MAX_PERIOD_DAYS,
    Permission,
    StockQuery,
    visible_locations,
)

MAX_ID = 2**63 - 1
# Nothing was stocked before this; earlier dates would also overflow the day arithmetic.
EARLIEST = dt.date(2000, 1, 1)


def _style(form: forms.Form) -> None:
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, forms.CheckboxInput):
            widget.attrs.setdefault("class", "form-check-input")
        elif isinstance(widget, forms.Select):
            widget.attrs.setdefault("class", "form-select")
        else:
            widget.attrs.setdefault("class", "form-control")


class _ScopedFilterForm(forms.Form):
    """Location (limited to the user's), category and item: the fields every report has."""

    location = forms.ModelChoiceField(
        label=_("Location"), queryset=Location.objects.none(), required=False
    )
    category = forms.ChoiceField(
        label=_("Category"),
        choices=[("", _("All")), *ItemCategory.choices],
        required=False,
    )
    item = forms.ModelChoiceField(
        label=_("Item"), queryset=Item.objects.order_by("category", "name"), required=False
    )

    def __init__(self, *args: Any, user: Any, permission: Permission, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        location = self.fields["location"]
        assert isinstance(location, forms.ModelChoiceField)
        location.queryset = visible_locations(user, permission)
        location.empty_label = str(_("All locations"))
        item = self.fields["item"]
        assert isinstance(item, forms.ModelChoiceField)
        item.empty_label = str(_("All items"))
        _style(self)

    def clean(self) -> dict[str, Any]:
        # A primary key beyond BIGINT would make the database raise, not the form.
        for name in ("location", "item"):
            raw = self.data.get(name)
            if raw and str(raw).isdigit() and int(raw) > MAX_ID:
                self.add_error(name, _("Select a valid choice."))
        return super().clean() or {}

    def _base_query(self, **extra: Any) -> StockQuery:
        data = self.cleaned_data
        location, item = data.get("location"), data.get("item")
        return StockQuery(
            location_id=location.pk if location else None,
            item_id=item.pk if item else None,
            category=data.get("category") or "",
            **extra,
        )


class StockFilterForm(_ScopedFilterForm):
    low_only = forms.BooleanField(label=_("Low stock only"), required=False)
    expiring_within = forms.IntegerField(
        label=_("Expiring within (days)"),
        min_value=0,
        max_value=MAX_EXPIRY_FILTER_DAYS,
        required=False,
    )
    by_lot = forms.BooleanField(label=_("Show lots"), required=False)

    def query(self) -> StockQuery:
        """The filters as a StockQuery; call after ``is_valid()``."""
        data = self.cleaned_data
        return self._base_query(
            low_only=bool(data.get("low_only")),
            expiring_within=data.get("expiring_within"),
            by_lot=bool(data.get("by_lot")),
        )


class DailyReportForm(_ScopedFilterForm):
    day = forms.DateField(label=_("Day"), required=False)

    field_order = ["day", "location", "category", "item"]

    def clean_day(self) -> dt.date:
        day = self.cleaned_data.get("day") or timezone.localdate()
        if day > timezone.localdate():
            raise forms.ValidationError(_("The report cannot be for a future day."))
        if day < EARLIEST:
            raise forms.ValidationError(_("Enter a date in 2000 or later."))
        return day

    def query(self) -> StockQuery:
        return self._base_query()


class PeriodReportForm(_ScopedFilterForm):
    start = forms.DateField(label=_("From"), required=False)
    end = forms.DateField(label=_("To"), required=False)

    field_order = ["start", "end", "location", "category", "item"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        today = timezone.localdate()
        end = data.get("end") or today
        start = data.get("start") or end - dt.timedelta(days=6)
        if end > today:
            self.add_error("end", _("The period cannot end in the future."))
        elif start < EARLIEST:
            self.add_error("start", _("Enter a date in 2000 or later."))
        elif start > end:
            self.add_error("start", _("The start date is after the end date."))
        elif (end - start).days >= MAX_PERIOD_DAYS:
            self.add_error(
                "start", _("A period covers at most %(days)d days.") % {"days": MAX_PERIOD_DAYS}
            )
        data["start"], data["end"] = start, end
        return data

    def query(self) -> StockQuery:
        return self._base_query()


class MovementFilter(django_filters.FilterSet):
    """The ledger's filters: a period of local days, location, item, kind of document."""

    start = django_filters.DateFilter(label=_("From"), method="filter_start")
    end = django_filters.DateFilter(label=_("To"), method="filter_end")
    location = django_filters.ModelChoiceFilter(
        label=_("Location"), queryset=Location.objects.none(), empty_label=_("All locations")
    )
    item = django_filters.ModelChoiceFilter(
        label=_("Item"),
        queryset=Item.objects.order_by("category", "name"),
        empty_label=_("All items"),
    )
    kind = django_filters.ChoiceFilter(
        label=_("Kind"), choices=DocumentKind.choices, method="filter_kind", empty_label=_("All")
    )

    class Meta:
        model = Movement
        fields = ["start", "end", "location", "item", "kind"]

    def __init__(self, *args: Any, permission: Permission, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        user = getattr(self.request, "user", None)
        location = self.filters["location"]
        location.queryset = visible_locations(user, permission)
        self.form.fields["location"].queryset = location.queryset  # type: ignore[attr-defined]
        _style(self.form)

    def filter_start(
        self, queryset: QuerySet[Movement], name: str, value: dt.date | None
    ) -> QuerySet[Movement]:
        if not value:
            return queryset
        return queryset.filter(effective_at__gte=day_start(max(value, EARLIEST)))

    def filter_end(
        self, queryset: QuerySet[Movement], name: str, value: dt.date | None
    ) -> QuerySet[Movement]:
        if not value:
            return queryset
        return queryset.filter(effective_at__lt=day_end(min(value, timezone.localdate())))

    def filter_kind(
        self, queryset: QuerySet[Movement], name: str, value: str
    ) -> QuerySet[Movement]:
        if not value:
            return queryset
        # A reversal lists under the kind it reverses as well as under "reversal".
        return queryset.filter(Q(document__kind=value) | Q(document__reversal_of__kind=value))
