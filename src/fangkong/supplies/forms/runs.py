"""Forms for delivery runs: plan, add a stop, confirm a stop, complete, cancel."""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from fangkong.accounts.roles import Perm
from fangkong.supplies.actions import runs as actions
from fangkong.supplies.actions.requests import FULFILLABLE
from fangkong.supplies.filters_requests import scope_q
from fangkong.supplies.forms.requests import (
    active_items,
    add_action_errors,
    depots_for,
    find_lot,
    parse_amount,
    style,
)
from fangkong.supplies.models import (
    DeliveryRun,
    DeliveryStop,
    Location,
    LocationKind,
    SupplyRequestLine,
)


class LocalDateTimeField(forms.DateTimeField):
    """``<input type=datetime-local>`` in local time; full-width digits folded."""

    input_formats = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault(
            "widget", forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
        )
        super().__init__(*args, **kwargs)

    def to_python(self, value: Any) -> dt.datetime | None:
        if isinstance(value, str):
            value = unicodedata.normalize("NFKC", value).strip()[:32]
        try:
            return super().to_python(value)
        except (OverflowError, ValueError):
            raise forms.ValidationError(_("Enter a valid date and time."), code="invalid") from None


def destinations_for(user: Any, exclude: int | None = None) -> QuerySet[Location]:
    """Stock locations a run may stop at: active site locations in the planner's regions."""
    queryset = Location.objects.filter(kind=LocationKind.SITE, active=True)
    condition = scope_q(user, Perm.VIEW_STOCK)
    if condition is not None:
        queryset = queryset.filter(condition)
    if exclude is not None:
        queryset = queryset.exclude(pk=exclude)
    return queryset.order_by("region_code", "name")


def open_request_lines(user: Any) -> QuerySet[SupplyRequestLine]:
    """Approved request lines with something left to issue, in the user's regions."""
    queryset = SupplyRequestLine.objects.filter(
        request__status__in=FULFILLABLE, approved__gt=F("issued")
    ).select_related("request", "item", "request__destination")
    condition = scope_q(user, Perm.VIEW_STOCK, "request__region_code")
    if condition is not None:
        queryset = queryset.filter(condition)
    return queryset.order_by("request__needed_by", "request_id", "pk")


class RunForm(forms.Form):
    origin = forms.ModelChoiceField(label=_lazy("From depot"), queryset=Location.objects.none())
    vehicle_plate = forms.CharField(
        label=_lazy("Vehicle plate"),
        max_length=20,
        widget=forms.TextInput(attrs={"placeholder": "豫E12345", "autocapitalize": "characters"}),
    )
    driver_name = forms.CharField(label=_lazy("Driver"), max_length=actions.DRIVER_NAME_MAX)
    driver_phone = forms.CharField(
        label=_lazy("Driver phone"),
        max_length=64,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "tel"}),
    )
    departure_at = LocalDateTimeField(label=_lazy("Departure"))
    note = forms.CharField(
        label=_lazy("Note"),
        max_length=actions.NOTE_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["origin"].queryset = depots_for(user, Perm.RUN_DELIVERIES)  # type: ignore[attr-defined]
        if not self.is_bound:
            self.fields["departure_at"].initial = timezone.localtime().replace(
                second=0, microsecond=0
            )
        style(self)

    def action_errors(self, exc: ValidationError) -> None:
        add_action_errors(self, exc, {})


class StopForm(forms.Form):
    LINES = 6

    destination = forms.ModelChoiceField(label=_lazy("Stop at"), queryset=Location.objects.none())
    note = forms.CharField(label=_lazy("Note"), max_length=actions.STOP_NOTE_MAX, required=False)

    def __init__(self, *args: Any, user: Any, run: DeliveryRun, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["destination"].queryset = destinations_for(user, exclude=run.origin_id)  # type: ignore[attr-defined]
        items = list(active_items().prefetch_related("packs"))
        self.items = {item.pk: item for item in items}
        item_choices = [("", "---------"), *((str(i.pk), str(i)) for i in items)]
        self.request_lines = {line.pk: line for line in open_request_lines(user)[:300]}
        request_choices = [("", _("(none)"))] + [
            (
                str(line.pk),
                f"{line.request.number} {line.request.destination} {line.item} "
                f"{line.approved - line.issued if line.approved else 0} {line.item.base_unit}",
            )
            for line in self.request_lines.values()
        ]
        for index in range(self.LINES):
            self.fields[f"item_{index}"] = forms.TypedChoiceField(
                label=_lazy("Item"), choices=item_choices, coerce=int, required=False
            )
            self.fields[f"lot_{index}"] = forms.CharField(
                label=_lazy("Lot"), max_length=64, required=False
            )
            self.fields[f"quantity_{index}"] = forms.CharField(
                label=_lazy("Quantity"),
                max_length=40,
                required=False,
                widget=forms.TextInput(attrs={"placeholder": _lazy("1500 or 30 箱")}),
            )
            self.fields[f"request_line_{index}"] = forms.TypedChoiceField(
                label=_lazy("For request"), choices=request_choices, coerce=int, required=False
            )
        style(self)

    def line_rows(self) -> list[list[forms.BoundField]]:
        return [
            [self[f"{name}_{i}"] for name in ("item", "lot", "quantity", "request_line")]
            for i in range(self.LINES)
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        lines: list[actions.StopLineInput] = []
        for index in range(self.LINES):
            item_id = data.get(f"item_{index}")
            raw = data.get(f"quantity_{index}", "")
            request_line_id = data.get(f"request_line_{index}")
            if not item_id and not raw and not request_line_id:
                continue
            request_line = self.request_lines.get(request_line_id) if request_line_id else None
            if not item_id and request_line is not None:
                item_id = request_line.item_id
            if not item_id:
                self.add_error(f"item_{index}", _("Choose the item."))
                continue
            item = self.items.get(item_id)
            if item is None:
                self.add_error(f"item_{index}", _("Choose the item."))
                continue
            try:
                quantity = parse_amount(raw, item, field=f"quantity_{index}")
                lot = find_lot(item, data.get(f"lot_{index}", ""), field=f"lot_{index}")
            except ValidationError as exc:
                for field, messages in exc.message_dict.items():
                    self.add_error(field if field in self.fields else None, messages)
                continue
            lines.append(
                actions.StopLineInput(
                    item=item, lot=lot, quantity=quantity, request_line=request_line
                )
            )
        if not lines and not self.errors:
            self.add_error(None, _("Add at least one line to the stop."))
        data["lines"] = lines
        return data

    def action_errors(self, exc: ValidationError) -> None:
        mapping: dict[str, str] = {}
        for i in range(self.LINES):
            for name in ("item", "lot", "quantity", "request_line"):
                mapping[f"lines.{i}.{name}"] = f"{name}_{i}"
        add_action_errors(self, exc, mapping)


class ConfirmStopForm(forms.Form):
    receiver_name = forms.CharField(
        label=_lazy("Received by"), max_length=actions.RECEIVER_NAME_MAX
    )
    note = forms.CharField(label=_lazy("Note"), max_length=actions.STOP_NOTE_MAX, required=False)

    def __init__(self, *args: Any, stop: DeliveryStop, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lines = list(stop.lines.select_related("item", "lot").prefetch_related("item__packs"))
        for line in self.lines:
            self.fields[f"delivered_{line.pk}"] = forms.CharField(
                label=str(line.item), initial=str(line.planned), max_length=40
            )
        style(self)

    def line_rows(self) -> list[tuple[Any, forms.BoundField]]:
        return [(line, self[f"delivered_{line.pk}"]) for line in self.lines]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        delivered: dict[int, int] = {}
        for line in self.lines:
            name = f"delivered_{line.pk}"
            if name not in data:
                continue
            try:
                delivered[line.pk] = parse_amount(
                    data[name], line.item, field=name, allow_zero=True
                )
            except ValidationError as exc:
                self.add_error(name, exc.message_dict.get(name, exc.messages))
        data["delivered"] = delivered
        return data

    def action_errors(self, exc: ValidationError) -> None:
        mapping = {f"delivered.{line.pk}": f"delivered_{line.pk}" for line in self.lines}
        add_action_errors(self, exc, mapping)


class CompleteRunForm(forms.Form):
    disposition = forms.ChoiceField(
        label=_lazy("What is still in transit"),
        choices=[
            (actions.Disposition.RETURN, _lazy("Return it to the depot")),
            (actions.Disposition.LOST, _lazy("It is lost: write it off as a delivery shortfall")),
        ],
        initial=actions.Disposition.RETURN,
        widget=forms.RadioSelect,
    )
    note = forms.CharField(label=_lazy("Note"), max_length=actions.STOP_NOTE_MAX, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        style(self)


class CancelRunForm(forms.Form):
    note = forms.CharField(label=_lazy("Reason"), max_length=actions.STOP_NOTE_MAX, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        style(self)
