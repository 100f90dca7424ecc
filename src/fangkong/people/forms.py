"""Forms of the people pages. The actions re-check everything; forms give early messages."""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from fangkong.accounts.roles import Perm
from fangkong.core.regioncodes import Level
from fangkong.geo.forms import RegionField, apply_action_errors, bind_region_fields
from fangkong.geo.models import Region
from fangkong.people import actions
from fangkong.people.identity import IdType, Sex
from fangkong.people.models import KeyGroup, OriginRisk, ResidenceStatus

__all__ = ["apply_action_errors"]


class FoldedDateField(forms.DateField):
    """A date typed with full-width digits or Chinese punctuation still parses."""

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


def _style(form: forms.BaseForm) -> None:
    for field in form.fields.values():
        if isinstance(field.widget, forms.CheckboxInput | forms.CheckboxSelectMultiple):
            field.widget.attrs.setdefault("class", "form-check-input")
        elif isinstance(field.widget, forms.Select):
            field.widget.attrs.setdefault("class", "form-select")
        else:
            field.widget.attrs.setdefault("class", "form-control")


class PersonForm(forms.Form):
    name = forms.CharField(label=pgettext_lazy("person", "Name"), max_length=actions.NAME_MAX)
    id_type = forms.ChoiceField(label=_("Document type"), choices=IdType.choices)
    id_number = forms.CharField(
        label=_("Document number"),
        max_length=40,
        required=False,
        help_text=_("Sex and birth date are read from a mainland ID."),
    )
    sex = forms.ChoiceField(label=_("Sex"), choices=Sex.choices, required=False)
    birth_date = FoldedDateField(label=_("Birth date"), required=False)
    phone = forms.CharField(label=_("Phone"), max_length=64, required=False)
    phone_alt = forms.CharField(label=_("Other phone"), max_length=64, required=False)
    address = forms.CharField(label=_("Address"), max_length=actions.ADDRESS_MAX, required=False)
    region = RegionField(
        label=_("Village"),
        permission=Perm.EDIT_PEOPLE,
        levels=[int(Level.VILLAGE), int(Level.GROUP)],
    )
    residence_status = forms.ChoiceField(
        label=_("Residence status"), choices=ResidenceStatus.choices
    )
    notes = forms.CharField(
        label=_("Notes"),
        max_length=actions.NOTES_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    confirm_duplicates = forms.BooleanField(
        label=_("Register anyway: this is not one of the people listed above"),
        required=False,
        widget=forms.HiddenInput,
    )

    FIELD_MAP = {"region_code": "region"}

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        bind_region_fields(self, user)
        _style(self)

    def action_values(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data.pop("confirm_duplicates", None)
        region: Region = data.pop("region")
        return {**data, "region_code": region.code}


class TagForm(forms.Form):
    group = forms.ModelChoiceField(
        label=_("Key group"), queryset=KeyGroup.objects.filter(active=True), to_field_name="code"
    )
    since = FoldedDateField(label=_("Since"), required=False)
    until = FoldedDateField(label=_("Until"), required=False)
    note = forms.CharField(label=_("Note"), max_length=actions.NOTE_MAX, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _style(self)


class BulkTagForm(TagForm):
    """Ticked ``persons``, or ``select_all`` with the list's ``filter`` query string (the
    view re-applies it within the user's editable scope)."""

    persons = forms.TypedMultipleChoiceField(
        label=_("Selected people"), coerce=int, required=False, choices=[]
    )
    select_all = forms.BooleanField(required=False, widget=forms.HiddenInput)
    filter = forms.CharField(
        label=_("Filter"), required=False, max_length=2000, widget=forms.HiddenInput
    )

    MAX_PERSONS = 500

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Any integer is acceptable here; the view keeps only the ones in scope.
        self.fields["persons"].valid_value = lambda value: True  # type: ignore[attr-defined]

    def clean_persons(self) -> list[int]:
        # Dropped duplicates: on a phone a row's box exists twice (table and card).
        ids = list(dict.fromkeys(i for i in self.cleaned_data["persons"] if 0 < i < 2**63))
        if len(ids) > self.MAX_PERSONS:
            raise forms.ValidationError(
                _("Select at most %(max)d people at once.") % {"max": self.MAX_PERSONS}
            )
        return ids

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("select_all") and not data.get("persons") and "persons" not in self.errors:
            self.add_error("persons", _("Select at least one person."))
        return data


class ReturneeForm(forms.Form):
    origin = forms.CharField(label=_("Origin"), max_length=actions.ORIGIN_MAX)
    arrival_date = FoldedDateField(label=_("Arrival date"))
    transport = forms.CharField(
        label=_("Transport"), max_length=actions.TRANSPORT_MAX, required=False
    )
    origin_risk = forms.ChoiceField(
        label=_("Risk level of the origin"), choices=OriginRisk.choices, required=False
    )
    note = forms.CharField(label=_("Note"), max_length=actions.NOTE_MAX, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _style(self)


class HouseholdMemberForm(forms.Form):
    person = forms.IntegerField(label=_("Person"), min_value=1, max_value=2**63 - 1)
    make_head = forms.BooleanField(label=_("Head of the household"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _style(self)


class MergeForm(forms.Form):
    into = forms.IntegerField(label=_("Keep record number"), min_value=1, max_value=2**63 - 1)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _style(self)


class KeyGroupForm(forms.Form):
    """Create (code, name, priority) or edit (name, priority) a key group."""

    code = forms.CharField(
        label=_("Code"),
        max_length=actions.KEY_GROUP_CODE_MAX,
        help_text=_("Lowercase letters, digits, “_” or “-”; it cannot be changed later."),
    )
    name = forms.CharField(
        label=pgettext_lazy("key group", "Name"), max_length=actions.KEY_GROUP_NAME_MAX
    )
    priority = forms.IntegerField(
        label=_("Priority"),
        min_value=0,
        max_value=actions.KEY_GROUP_PRIORITY_MAX,
        initial=100,
        help_text=_("Lower comes first in door-to-door lists."),
    )

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if editing:
            del self.fields["code"]
        _style(self)
