"""Forms for supply requests: the request itself, approval, rejection, fulfilment.

The actions re-check everything; these give early, per-field messages. ``parse_amount``
and ``find_lot`` are shared with the runs forms and the API, so a quantity typed as
"30 箱", "1500" or "30箱+12套" means the same everywhere.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from fangkong.accounts.roles import Perm
from fangkong.core.scoping import restrict
from fangkong.geo.models import Site
from fangkong.supplies.actions import requests as actions
from fangkong.supplies.keys import default_lot
from fangkong.supplies.models import Item, Location, LocationKind, Lot, SupplyRequest
from fangkong.supplies.quantities import MAX_QUANTITY, parse_quantity

# "30 箱 12 套", "30箱+12套", "1500套", "1500": a number, optionally its unit, up to twice.
_PART = re.compile(r"(\d+)\s*([^\d\s+]*)")


def parse_amount(
    value: Any, item: Item, *, field: str = "quantity", allow_zero: bool = False
) -> int:
    """A quantity in base units from what a user typed: units, packs, or both."""
    if isinstance(value, int) and not isinstance(value, bool):
        return parse_quantity(value, field=field, allow_zero=allow_zero)
    text = unicodedata.normalize("NFKC", str(value or "")).strip().replace(",", "")
    if not text or re.fullmatch(r"[+-]?\d+(\.\d+)?", text):
        return parse_quantity(text, field=field, allow_zero=allow_zero)
    compact = text.replace(" ", "")
    parts = _PART.findall(compact)
    if not parts or "".join(n + u for n, u in parts).replace("+", "") != compact.replace("+", ""):
        raise ValidationError({field: _("Enter a number, such as 1500 or 30 箱.")})
    packs = {pack.name: pack.size for pack in item.packs.all()}
    total = 0
    for number, unit in parts:
        if not unit or unit == item.base_unit:
            size = 1
        elif unit in packs:
            size = packs[unit]
        else:
            known = "、".join([item.base_unit, *packs]) or item.base_unit
            raise ValidationError(
                {
                    field: _("%(item)s is counted in %(units)s, not “%(unit)s”.")
                    % {"item": item, "units": known, "unit": unit[:8]}
                }
            )
        total += int(number) * size
        if total > MAX_QUANTITY:
            raise ValidationError({field: _("The quantity is too large.")})
    return parse_quantity(total, field=field, allow_zero=allow_zero)


def find_lot(item: Item, code: Any, *, field: str = "lot") -> Lot:
    """An existing lot of ``item`` (goods that leave a store were received under one)."""
    text = unicodedata.normalize("NFKC", str(code or "")).strip().upper()[:64]
    if not text:
        if item.tracks_lots:
            raise ValidationError(
                {field: _("%(item)s is tracked by lot: enter the lot number.") % {"item": item}}
            )
        return default_lot(item)
    lot = Lot.objects.filter(item=item, code=text).first()
    if lot is None:
        raise ValidationError(
            {field: _("No lot %(lot)s of %(item)s.") % {"lot": text, "item": item}}
        )
    return lot


def style(form: forms.BaseForm) -> None:
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, forms.CheckboxInput | forms.RadioSelect):
            widget.attrs.setdefault("class", "form-check-input")
        elif isinstance(widget, forms.Select):
            widget.attrs.setdefault("class", "form-select")
        else:
            widget.attrs.setdefault("class", "form-control")


def error_messages(exc: ValidationError) -> list[tuple[str, str]]:
    """(field, message) pairs of an action's error, for showing next to the right input."""
    if hasattr(exc, "error_dict"):
        return [(name, str(m)) for name, errors in exc.message_dict.items() for m in errors]
    return [("__all__", str(m)) for m in exc.messages]


def add_action_errors(form: forms.BaseForm, exc: ValidationError, mapping: dict[str, str]) -> None:
    """Put an action's errors on the form's fields; unknown fields become form-wide."""
    for name, message in error_messages(exc):
        target = mapping.get(name, name)
        form.add_error(target if target in form.fields else None, message)


class DayField(forms.DateField):
    """A date typed with full-width digits still parses; absurd years are refused."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
        super().__init__(*args, **kwargs)

    def to_python(self, value: Any) -> dt.date | None:
        if isinstance(value, str):
            value = unicodedata.normalize("NFKC", value).strip()[:32]
        try:
            day = super().to_python(value)
        except (OverflowError, ValueError):
            raise forms.ValidationError(_("Enter a valid date."), code="invalid") from None
        if day is not None and not 2000 <= day.year <= 2100:
            raise forms.ValidationError(_("Enter a valid date."), code="invalid")
        return day


def request_sites(user: Any) -> QuerySet[Site]:
    """Sites the user may request for (their village point, testing site...)."""
    return restrict(Site.objects.filter(active=True), user, Perm.REQUEST_SUPPLIES).order_by(
        "region_code", "name"
    )


def active_items() -> QuerySet[Item]:
    return Item.objects.filter(active=True).order_by("category", "name")


class RequestForm(forms.Form):
    LINES = 8

    site = forms.ModelChoiceField(label=_lazy("Requesting place"), queryset=Site.objects.none())
    needed_by = DayField(label=_lazy("Needed by"), required=False)
    note = forms.CharField(
        label=_lazy("Note"),
        max_length=actions.NOTE_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = request_sites(user)  # type: ignore[attr-defined]
        items = list(active_items().prefetch_related("packs"))
        self.items = {item.pk: item for item in items}
        choices = [("", "---------"), *((str(item.pk), str(item)) for item in items)]
        for index in range(self.LINES):
            self.fields[f"item_{index}"] = forms.TypedChoiceField(
                label=_lazy("Item"), choices=choices, coerce=int, required=False
            )
            self.fields[f"quantity_{index}"] = forms.CharField(
                label=_lazy("Quantity"),
                required=False,
                max_length=40,
                widget=forms.TextInput(attrs={"placeholder": _lazy("1500 or 30 箱")}),
            )
        style(self)

    def line_rows(self) -> list[tuple[forms.BoundField, forms.BoundField]]:
        return [(self[f"item_{i}"], self[f"quantity_{i}"]) for i in range(self.LINES)]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        lines: list[actions.RequestLineInput] = []
        for index in range(self.LINES):
            item_id = data.get(f"item_{index}")
            raw = data.get(f"quantity_{index}", "")
            if not item_id and not raw:
                continue
            if not item_id:
                self.add_error(f"item_{index}", _("Choose the item."))
                continue
            item = self.items[item_id]
            try:
                quantity = parse_amount(raw, item, field=f"quantity_{index}")
            except ValidationError as exc:
                self.add_error(f"quantity_{index}", exc.messages)
                continue
            lines.append(actions.RequestLineInput(item=item, quantity=quantity))
        if not lines and not self.errors:
            self.add_error(None, _("Add at least one line."))
        data["lines"] = lines
        return data

    def action_errors(self, exc: ValidationError) -> None:
        mapping = {f"lines.{i}.quantity": f"quantity_{i}" for i in range(self.LINES)}
        mapping.update({f"lines.{i}.item": f"item_{i}" for i in range(self.LINES)})
        add_action_errors(self, exc, mapping)


class ApproveForm(forms.Form):
    note = forms.CharField(
        label=_lazy("Note to the requester"), max_length=actions.DECISION_NOTE_MAX, required=False
    )

    def __init__(self, *args: Any, request: SupplyRequest, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lines = list(request.lines.select_related("item").prefetch_related("item__packs"))
        for line in self.lines:
            self.fields[f"approved_{line.pk}"] = forms.CharField(
                label=str(line.item), initial=str(line.requested), max_length=40
            )
        style(self)

    def line_rows(self) -> list[tuple[Any, forms.BoundField]]:
        return [(line, self[f"approved_{line.pk}"]) for line in self.lines]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        approved: dict[int, int] = {}
        for line in self.lines:
            name = f"approved_{line.pk}"
            if name not in data:
                continue
            try:
                approved[line.pk] = parse_amount(data[name], line.item, field=name, allow_zero=True)
            except ValidationError as exc:
                self.add_error(name, exc.message_dict.get(name, exc.messages))
        data["approved"] = approved
        return data

    def action_errors(self, exc: ValidationError) -> None:
        mapping = {f"approved.{line.pk}": f"approved_{line.pk}" for line in self.lines}
        mapping["decision_note"] = "note"
        add_action_errors(self, exc, mapping)


class RejectForm(forms.Form):
    note = forms.CharField(
        label=_lazy("Reason for rejecting"), max_length=actions.DECISION_NOTE_MAX
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        style(self)


def depots_for(user: Any, permission: str = Perm.POST_STOCK) -> QuerySet[Location]:
    """Stock locations of sites where the user may move stock out."""
    return restrict(
        Location.objects.filter(kind=LocationKind.SITE, active=True), user, permission
    ).order_by("region_code", "name")


class FulfilForm(forms.Form):
    source = forms.ModelChoiceField(label=_lazy("From depot"), queryset=Location.objects.none())
    note = forms.CharField(label=_lazy("Note"), max_length=200, required=False)

    def __init__(self, *args: Any, user: Any, request: SupplyRequest, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        depots = depots_for(user).exclude(pk=request.destination_id or 0)
        self.fields["source"].queryset = depots  # type: ignore[attr-defined]
        self.lines = [
            line
            for line in request.lines.select_related("item").prefetch_related("item__packs")
            if actions.remaining(line) > 0
        ]
        lots: dict[int, list[Lot]] = {}
        for lot in Lot.objects.filter(item__in=[line.item_id for line in self.lines]).order_by(
            "expiry_date", "code"
        ):
            lots.setdefault(lot.item_id, []).append(lot)
        for line in self.lines:
            self.fields[f"quantity_{line.pk}"] = forms.CharField(
                label=str(line.item),
                initial=str(actions.remaining(line)),
                max_length=40,
                required=False,
            )
            choices = [
                (lot.code, lot.code or _("(no lot)"))
                for lot in lots.get(line.item_id, [])
                if lot.code or not line.item.tracks_lots
            ] or [("", _("(no lot)"))]
            self.fields[f"lot_{line.pk}"] = forms.ChoiceField(
                label=_lazy("Lot"), choices=choices, required=False
            )
        style(self)

    def line_rows(self) -> list[tuple[Any, forms.BoundField, forms.BoundField]]:
        return [(line, self[f"quantity_{line.pk}"], self[f"lot_{line.pk}"]) for line in self.lines]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        picked: list[actions.FulfilLine] = []
        for line in self.lines:
            name = f"quantity_{line.pk}"
            raw = data.get(name, "")
            if raw in ("", None):
                continue
            try:
                quantity = parse_amount(raw, line.item, field=name, allow_zero=True)
                if not quantity:
                    continue
                lot = find_lot(line.item, data.get(f"lot_{line.pk}", ""), field=f"lot_{line.pk}")
            except ValidationError as exc:
                for field, messages in exc.message_dict.items():
                    self.add_error(field if field in self.fields else None, messages)
                continue
            picked.append(actions.FulfilLine(request_line=line, lot=lot, quantity=quantity))
        if not picked and not self.errors:
            self.add_error(None, _("Enter at least one quantity to send."))
        data["lines"] = picked
        return data
