"""Forms for stock documents: a header per kind, a set of lines, the reversal.

A page renders one header form and a line formset; the view turns each filled line into
a ``LineInput`` with ``actions.documents.line_from_entry`` (the API does the same), then
posts with ``post_stock_document``. Every form carries a hidden idempotency key made when
it is rendered: a double-submitted form posts once.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangkong.accounts.roles import Perm
from fangkong.core.filters import LocalDateField
from fangkong.geo.models import Site
from fangkong.supplies.forms.catalogue import stock_sites
from fangkong.supplies.models import (
    AdjustmentReason,
    DocumentKind,
    Item,
    Pack,
    ReceiptSource,
    RecipientKind,
)

# What a person may pick by hand; stock-take and delivery differences come from those pages.
MANUAL_ADJUSTMENT_REASONS = [
    (r.value, r.label)
    for r in (
        AdjustmentReason.DAMAGED,
        AdjustmentReason.EXPIRED,
        AdjustmentReason.LOST,
        AdjustmentReason.FOUND,
    )
]
FORM_KINDS = (
    DocumentKind.RECEIPT,
    DocumentKind.ISSUE,
    DocumentKind.TRANSFER,
    DocumentKind.ADJUSTMENT,
)
KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{8,50}$")
MAX_LINES = 50
BLANK_LINES = 6


def new_key() -> str:
    return uuid.uuid4().hex


def scoped_key(user: Any, key: str) -> str:
    """The stored key: per user, so one user's key never returns another's document."""
    return f"u{getattr(user, 'pk', 0)}:{key}"


def clean_key(value: Any) -> str:
    text = str(value or "").strip()
    if not KEY_PATTERN.match(text):
        raise ValidationError(
            _("Use 8 to 50 letters, digits, - or _ as the idempotency key."), code="bad_key"
        )
    return text


class DocumentForm(forms.Form):
    """The header of a document of one kind; fields that do not apply are removed."""

    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=50)
    source_site = forms.ModelChoiceField(label=_("From (location)"), queryset=Site.objects.none())
    destination_site = forms.ModelChoiceField(
        label=_("To (location)"), queryset=Site.objects.none()
    )
    effective_at = forms.DateTimeField(
        label=_("Effective time"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        help_text=_("When the goods moved; may be a little earlier than now."),
    )
    receipt_source = forms.ChoiceField(label=_("Received as"), choices=ReceiptSource.choices)
    supplier = forms.CharField(label=_("Supplier or sender"), max_length=120, required=False)
    recipient_kind = forms.ChoiceField(
        label=_("Issued to"), choices=RecipientKind.choices, initial=RecipientKind.OTHER
    )
    recipient_site = forms.ModelChoiceField(
        label=_("Recipient site"), queryset=Site.objects.none(), required=False
    )
    recipient_person = forms.IntegerField(
        label=_("Recipient person"), required=False, widget=forms.HiddenInput
    )
    recipient_name = forms.CharField(label=_("Recipient name"), max_length=120, required=False)
    reason = forms.ChoiceField(label=_("Reason"), choices=MANUAL_ADJUSTMENT_REASONS)
    note = forms.CharField(
        label=_("Note"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    KIND_FIELDS = {
        DocumentKind.RECEIPT: {"destination_site", "receipt_source", "supplier"},
        DocumentKind.ISSUE: {
            "source_site",
            "recipient_kind",
            "recipient_site",
            "recipient_person",
            "recipient_name",
        },
        DocumentKind.TRANSFER: {"source_site", "destination_site"},
        DocumentKind.ADJUSTMENT: {"source_site", "reason"},
    }
    COMMON = {"idempotency_key", "effective_at", "note"}

    def __init__(self, *args: Any, kind: str, user: Any, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("idempotency_key", new_key())
        kwargs["initial"].setdefault(
            "effective_at", timezone.localtime().replace(second=0, microsecond=0)
        )
        super().__init__(*args, **kwargs)
        self.kind = kind
        keep = self.COMMON | self.KIND_FIELDS[DocumentKind(kind)]
        for name in list(self.fields):
            if name not in keep:
                del self.fields[name]
        posting = stock_sites(user, Perm.POST_STOCK)
        if "source_site" in self.fields:
            self.fields["source_site"].queryset = posting  # type: ignore[attr-defined]
        if "destination_site" in self.fields:
            # A transfer may go to any stock place the user can see (a village point);
            # a receipt comes into a place the user keeps.
            self.fields["destination_site"].queryset = (  # type: ignore[attr-defined]
                stock_sites(user, Perm.VIEW_STOCK) if kind == DocumentKind.TRANSFER else posting
            )
        if "recipient_site" in self.fields:
            self.fields["recipient_site"].queryset = stock_sites(user, Perm.VIEW_SITES)  # type: ignore[attr-defined]
        if kind == DocumentKind.ADJUSTMENT:
            self.fields["note"].help_text = _("Say what happened (damaged in the rain...).")

    def clean_idempotency_key(self) -> str:
        return clean_key(self.cleaned_data["idempotency_key"])

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.kind == DocumentKind.TRANSFER:
            source, destination = data.get("source_site"), data.get("destination_site")
            if source is not None and source == destination:
                self.add_error("destination_site", _("A transfer needs two different locations."))
        if self.kind == DocumentKind.ISSUE:
            recipient = data.get("recipient_kind")
            if recipient == RecipientKind.SITE and not data.get("recipient_site"):
                self.add_error("recipient_site", _("Choose the site that receives the goods."))
            if recipient in (RecipientKind.PERSON, RecipientKind.HOUSEHOLD) and not data.get(
                "recipient_person"
            ):
                self.add_error(
                    "recipient_person", _("Search for the person and pick one from the list.")
                )
            if recipient == RecipientKind.OTHER and not (data.get("recipient_name") or "").strip():
                self.add_error("recipient_name", _("Name who received the goods."))
        return data


def _pack_choices() -> list[tuple[Any, Any]]:
    """Packs grouped by item, so a phone's picker shows "N95口罩: 箱 (400)"."""
    groups: dict[str, list[tuple[int, str]]] = {}
    for pack in Pack.objects.select_related("item").order_by("item__name", "-size"):
        groups.setdefault(str(pack.item), []).append(
            (pack.pk, f"{pack.name} ({pack.size} {pack.item.base_unit})")
        )
    return [("", "---------"), *groups.items()]


class LineForm(forms.Form):
    """One line: the item, then packs (pack + count), loose units, or both."""

    item = forms.TypedChoiceField(label=_("Item"), required=False, coerce=int, empty_value=None)
    pack = forms.TypedChoiceField(label=_("Pack"), required=False, coerce=int, empty_value=None)
    pack_count = forms.CharField(
        label=_("Packs"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    units = forms.CharField(
        label=_("Units"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    lot_code = forms.CharField(label=_("Lot"), max_length=64, required=False)
    expiry_date = LocalDateField(
        label=_("Expiry date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def __init__(
        self, *args: Any, kind: str, items: dict[int, Item], packs: Any, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        # Choices are built once per formset: a page of lines costs no query per line.
        self.items = items
        self.fields["item"].choices = [  # type: ignore[attr-defined]
            ("", "---------"),
            *((pk, f"{item} ({item.base_unit})") for pk, item in items.items()),
        ]
        self.fields["pack"].choices = packs  # type: ignore[attr-defined]
        if kind != DocumentKind.RECEIPT:
            del self.fields["expiry_date"]

    def is_blank(self) -> bool:
        data = getattr(self, "cleaned_data", {}) or {}
        return not any(data.get(k) for k in ("item", "pack", "pack_count", "units", "lot_code"))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        filled = any(data.get(k) for k in ("pack", "pack_count", "units", "lot_code"))
        if filled and not data.get("item"):
            self.add_error("item", _("Choose the item."))
        if data.get("item") and not (data.get("pack_count") or data.get("units")):
            self.add_error("units", _("Enter the packs or the units."))
        item_id = data.get("item")
        if item_id is not None:
            data["item"] = self.items.get(item_id)
        pack_id = data.get("pack")
        if pack_id is not None:
            data["pack"] = Pack.objects.filter(pk=pack_id).first()
        return data


class BaseLineFormSet(forms.BaseFormSet):  # type: ignore[type-arg]
    def __init__(self, *args: Any, kind: str, **kwargs: Any) -> None:
        self.kind = kind
        self._items = {
            item.pk: item for item in Item.objects.filter(active=True).order_by("category", "name")
        }
        self._packs = _pack_choices()
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index: int | None) -> dict[str, Any]:
        return {"kind": self.kind, "items": self._items, "packs": self._packs}

    def clean(self) -> None:
        if any(self.errors):
            return
        if all(form.is_blank() for form in self.forms):
            raise ValidationError(_("Add at least one line."), code="no_lines")


LineFormSet = forms.formset_factory(
    LineForm,
    formset=BaseLineFormSet,
    extra=BLANK_LINES,
    max_num=MAX_LINES,
    absolute_max=MAX_LINES,
    validate_max=True,
)


class ReverseForm(forms.Form):
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=50)
    note = forms.CharField(
        label=_("Why is it reversed?"),
        max_length=2000,
        widget=forms.TextInput(
            attrs={"placeholder": _("e.g. wrong quantity entered"), "class": "form-control"}
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {}).setdefault("idempotency_key", new_key())
        super().__init__(*args, **kwargs)

    def clean_idempotency_key(self) -> str:
        return clean_key(self.cleaned_data["idempotency_key"])


def form_field_for(error_key: str) -> tuple[int | None, str | None]:
    """Where an action's error belongs: ("lines.2.units") → (2, "units"); header → (None, name)."""
    if error_key.startswith("lines."):
        parts = error_key.split(".", 2)
        if len(parts) == 3 and parts[1].isdigit():
            return int(parts[1]), parts[2]
        return None, None
    return None, {
        "source": "source_site",
        "destination": "destination_site",
    }.get(error_key, error_key)
