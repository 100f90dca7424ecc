"""Reads and FilterSets for supply requests and delivery runs (pages, API lists).

Who sees what (DESIGN rule 1):
- a request: holders of Perm.VIEW_STOCK over the requester's region (the village, its
  township and HQ, the depot that serves it, inspectors);
- a run: holders of Perm.VIEW_STOCK over the run's origin region, **or** over the region
  of one of its stops: a village cadre sees the runs that stop in the village (and only
  those), without seeing the depot's other runs.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext_lazy as _

from fangkong.accounts.roles import Perm
from fangkong.core.filters import LocalDateFilter, normalize_text
from fangkong.core.regioncodes import upper_bound
from fangkong.core.scoping import scope_codes
from fangkong.supplies.models import (
    DeliveryRun,
    DeliveryStop,
    RequestStatus,
    RunStatus,
    SupplyRequest,
)
from fangkong.supplies.plates import normalise_plate


def scope_q(user: Any, permission: str, field: str = "region_code") -> Q | None:
    """The scope range as a Q (None: unrestricted; an impossible Q: nothing)."""
    codes = scope_codes(user, permission)
    if codes is None:
        return None
    condition = Q(pk__in=[])
    for code in codes:
        condition |= Q(**{f"{field}__gte": code, f"{field}__lt": upper_bound(code)})
    return condition


def visible_requests(user: Any, permission: str = Perm.VIEW_STOCK) -> QuerySet[SupplyRequest]:
    queryset = SupplyRequest.objects.select_related("site", "destination")
    condition = scope_q(user, permission)
    return queryset if condition is None else queryset.filter(condition)


def visible_runs(user: Any, permission: str = Perm.VIEW_STOCK) -> QuerySet[DeliveryRun]:
    """Runs from the user's depots, and runs with a stop in the user's regions."""
    queryset = DeliveryRun.objects.select_related("origin")
    codes = scope_codes(user, permission)
    if codes is None:
        return queryset
    if not codes:
        return queryset.none()
    own = scope_q(user, permission)
    stop_scope = scope_q(user, permission)
    assert own is not None and stop_scope is not None
    stops_here = DeliveryStop.objects.filter(stop_scope, run_id=OuterRef("pk"))
    return queryset.filter(own | Exists(stops_here))


def visible_stops(user: Any, permission: str = Perm.VIEW_STOCK) -> QuerySet[DeliveryStop]:
    """Stops in the user's regions, and every stop of the runs leaving the user's depots
    (a village cadre sees their own stop, not the neighbours')."""
    queryset = DeliveryStop.objects.all()
    own = scope_q(user, permission)
    of_runs = scope_q(user, permission, "run__region_code")
    if own is None or of_runs is None:
        return queryset
    return queryset.filter(own | of_runs)


def _style(filterset: django_filters.FilterSet) -> None:
    for field in filterset.form.fields.values():
        is_select = getattr(field.widget, "input_type", "") == "select"
        field.widget.attrs.setdefault("class", "form-select" if is_select else "form-control")


class RequestFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label=_("Number or place"),
        method="filter_q",
        max_length=64,
        widget=forms.TextInput(attrs={"placeholder": _("XQ20220121-0001 or 伏道二街")}),
    )
    status = django_filters.ChoiceFilter(
        label=_("Status"), choices=RequestStatus.choices, empty_label=_("All")
    )
    date_from = LocalDateFilter(field_name="created_at", label=_("From (day)"))
    date_to = LocalDateFilter(field_name="created_at", end=True, label=_("To (day)"))

    class Meta:
        model = SupplyRequest
        fields: list[str] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _style(self)

    def filter_q(
        self, queryset: QuerySet[SupplyRequest], name: str, value: str
    ) -> QuerySet[SupplyRequest]:
        text = normalize_text(value)
        if not text:
            return queryset
        return queryset.filter(
            Q(number__istartswith=text.upper()) | Q(destination__name__icontains=text)
        )


class RunFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label=_("Number or plate"),
        method="filter_q",
        max_length=64,
        widget=forms.TextInput(attrs={"placeholder": _("PC20220121-0001 or 豫E12345")}),
    )
    status = django_filters.ChoiceFilter(
        label=_("Status"), choices=RunStatus.choices, empty_label=_("All")
    )
    date_from = LocalDateFilter(field_name="departure_at", label=_("Departs from (day)"))
    date_to = LocalDateFilter(field_name="departure_at", end=True, label=_("Departs until (day)"))

    class Meta:
        model = DeliveryRun
        fields: list[str] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _style(self)

    def filter_q(
        self, queryset: QuerySet[DeliveryRun], name: str, value: str
    ) -> QuerySet[DeliveryRun]:
        text = normalize_text(value)
        if not text:
            return queryset
        return queryset.filter(
            Q(number__istartswith=text.upper()) | Q(vehicle_plate__icontains=normalise_plate(text))
        )
