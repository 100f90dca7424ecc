"""Forms of the stock-take pages. The actions re-check everything; forms give early messages."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from fangkong.accounts.roles import Perm
from fangkong.core.scoping import restrict
from fangkong.supplies.models import Item, ItemCategory, Location, LocationKind


def count_locations(user: Any) -> QuerySet[Location]:
    """Stock locations (sites, not runs in transit) where the user may count."""
    return restrict(
        Location.objects.filter(kind=LocationKind.SITE, active=True), user, Perm.COUNT_STOCK
    ).order_by("region_code", "name")


def _style(form: forms.BaseForm) -> None:
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, forms.CheckboxInput):
            widget.attrs.setdefault("class", "form-check-input")
        elif isinstance(widget, forms.Select):
            widget.attrs.setdefault("class", "form-select form-select-lg")
        else:
            widget.attrs.setdefault("class", "form-control form-control-lg")


class StartCountForm(forms.Form):
    location = forms.ModelChoiceField(label=_("Location"), queryset=Location.objects.none())
    category = forms.ChoiceField(
        label=_("Only this category"),
        choices=[("", _("All items")), *list(ItemCategory.choices)],
        required=False,
    )
    note = forms.CharField(label=_("Note"), max_length=2000, required=False)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = count_locations(user)  # type: ignore[attr-defined]
        _style(self)


class EnterCountForm(forms.Form):
    # Text, not a number input: full-width digits typed on a phone keyboard are accepted
    # and folded by the action (quantities.parse_quantity).
    counted_quantity = forms.CharField(
        label=_("Counted"),
        max_length=32,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )


class AddCountLineForm(forms.Form):
    item = forms.ModelChoiceField(
        label=_("Item"), queryset=Item.objects.filter(active=True).order_by("category", "name")
    )
    lot = forms.CharField(label=_("Lot"), max_length=64, required=False)
    counted_quantity = forms.CharField(
        label=_("Counted"),
        max_length=32,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _style(self)


class CloseCountForm(forms.Form):
    treat_uncounted_as_unchanged = forms.BooleanField(
        label=_("Treat uncounted lines as unchanged"), required=False
    )


class CancelCountForm(forms.Form):
    note = forms.CharField(label=_("Why is it cancelled?"), max_length=2000, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _style(self)
