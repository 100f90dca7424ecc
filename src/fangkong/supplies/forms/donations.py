"""Forms of the donation pages: the register entry with its lines, receiving into stock."""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from fangkong.accounts.roles import Perm
from fangkong.core.scoping import restrict
from fangkong.geo.forms import RegionField, bind_region_fields
from fangkong.supplies.models import DonationDirection, Item, Location, LocationKind, PartyType


def _style(form: forms.BaseForm) -> None:
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, forms.CheckboxInput):
            widget.attrs.setdefault("class", "form-check-input")
        elif isinstance(widget, forms.Select):
            widget.attrs.setdefault("class", "form-select")
        else:
            widget.attrs.setdefault("class", "form-control")


class FoldedDateField(forms.DateField):
    """A date typed with full-width digits still parses."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
        super().__init__(*args, **kwargs)

    def to_python(self, value: Any) -> dt.date | None:
        if isinstance(value, str):
            value = unicodedata.normalize("NFKC", value).strip()[:32]
        try:
            return super().to_python(value)
        except (OverflowError, ValueError):
            raise forms.ValidationError(_("Enter a valid date."), code="invalid") from None


class DonationForm(forms.Form):
    direction = forms.ChoiceField(label=_("Direction"), choices=DonationDirection.choices)
    region = RegionField(label=_("Register kept by (region)"), permission=Perm.MANAGE_DONATIONS)
    donated_on = FoldedDateField(label=_("Date"))
    donor_name = forms.CharField(label=_("Donor"), max_length=200)
    donor_type = forms.ChoiceField(label=_("Donor type"), choices=PartyType.choices)
    donor_credit_code = forms.CharField(
        label=_("Unified social credit code"), max_length=64, required=False
    )
    donor_contact = forms.CharField(label=_("Donor contact"), max_length=100, required=False)
    donor_phone = forms.CharField(label=_("Donor phone"), max_length=64, required=False)
    recipient_name = forms.CharField(label=_("Recipient"), max_length=200)
    recipient_type = forms.ChoiceField(label=_("Recipient type"), choices=PartyType.choices)
    note = forms.CharField(
        label=_("Note"), max_length=4000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    FIELD_MAP = {"region_code": "region"}

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        bind_region_fields(self, user)
        _style(self)


class DonationLineForm(forms.Form):
    item = forms.ModelChoiceField(
        label=_("Catalogue item"),
        queryset=Item.objects.filter(active=True).order_by("category", "name"),
        required=False,
        empty_label=_("— not in the catalogue —"),
    )
    description = forms.CharField(label=_("Description"), max_length=200, required=False)
    quantity = forms.CharField(
        label=_("Quantity (units)"),
        max_length=32,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric"}),
    )
    pack_count = forms.CharField(
        label=_("or packs"),
        max_length=32,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric"}),
    )
    unit = forms.CharField(label=_("Unit"), max_length=16, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _style(self)

    def is_blank(self) -> bool:
        data = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        return not any(data.get(name) for name in ("item", "description", "quantity", "pack_count"))


DonationLineFormSet = forms.formset_factory(
    DonationLineForm, extra=4, max_num=200, absolute_max=200
)


def stock_locations(user: Any, permission: str = Perm.POST_STOCK) -> QuerySet[Location]:
    return restrict(
        Location.objects.filter(kind=LocationKind.SITE, active=True), user, permission
    ).order_by("region_code", "name")


class PostStockForm(forms.Form):
    location = forms.ModelChoiceField(label=_("Depot"), queryset=Location.objects.none())

    def __init__(self, *args: Any, user: Any, tracked_lines: list[Any] = (), **kwargs: Any) -> None:  # type: ignore[assignment]
        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = stock_locations(user)  # type: ignore[attr-defined]
        for line in tracked_lines:
            self.fields[f"lot_{line.pk}"] = forms.CharField(
                label=_("Lot of %(item)s") % {"item": line.item}, max_length=64
            )
        _style(self)

    def lot_codes(self) -> dict[int, str]:
        return {
            int(name[4:]): value
            for name, value in self.cleaned_data.items()
            if name.startswith("lot_") and value
        }
