"""Forms of the catalogue: items, packs, lot status, minimum levels.

The actions clean and check everything again; these give early, per-field messages.
Quantities stay text here so that ``parse_quantity`` (full-width digits, clear refusals
of fractions and negatives) is the one parser on every path.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from fangkong.accounts.roles import Perm
from fangkong.core.scoping import restrict
from fangkong.geo.models import Site
from fangkong.supplies.actions import catalogue as actions
from fangkong.supplies.models import ItemCategory, LotStatus


def _quantity_input(placeholder: str = "") -> forms.TextInput:
    return forms.TextInput(
        attrs={"inputmode": "numeric", "autocomplete": "off", "placeholder": placeholder}
    )


class ItemForm(forms.Form):
    code = forms.CharField(label=_("Code"), max_length=actions.CODE_MAX)
    name = forms.CharField(label=_("Name"), max_length=actions.NAME_MAX)
    specification = forms.CharField(
        label=_("Specification"), max_length=actions.SPEC_MAX, required=False
    )
    category = forms.ChoiceField(label=_("Category"), choices=ItemCategory.choices)
    base_unit = forms.CharField(
        label=_("Base unit"),
        max_length=actions.UNIT_MAX,
        help_text=_("The unit stock is counted in: 套, 个, 副, 袋, 瓶, 支..."),
    )
    tracks_lots = forms.BooleanField(
        label=_("Tracks lots"),
        required=False,
        help_text=_("For what expires or gets recalled: tubes, reagents, food."),
    )
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)
    notes = forms.CharField(
        label=_("Notes"),
        max_length=actions.NOTES_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class PackForm(forms.Form):
    name = forms.CharField(
        label=_("Pack"),
        max_length=actions.PACK_NAME_MAX,
        widget=forms.TextInput(attrs={"placeholder": _("box")}),
    )
    size = forms.CharField(label=_("Units per pack"), max_length=20, widget=_quantity_input("50"))


class LotStatusForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=LotStatus.choices)
    reason = forms.CharField(label=_("Reason"), max_length=actions.REASON_MAX)


def stock_sites(user: Any, permission: str) -> QuerySet[Site]:
    """Active sites where ``user`` holds ``permission``: the places stock can be kept."""
    return restrict(Site.objects.filter(active=True), user, permission).order_by(
        "region_code", "name"
    )


class MinimumLevelForm(forms.Form):
    site = forms.ModelChoiceField(label=_("Location"), queryset=Site.objects.none())
    quantity = forms.CharField(
        label=_("Minimum quantity"),
        max_length=20,
        widget=_quantity_input(),
        help_text=_("0 removes the minimum."),
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = stock_sites(user, Perm.MANAGE_CATALOGUE)  # type: ignore[attr-defined]
