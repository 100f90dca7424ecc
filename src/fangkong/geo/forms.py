"""Forms of the geo app, and ``RegionField``: the region picker other apps' forms reuse.

Using the picker in another app::

    from fangkong.geo.forms import RegionField, bind_region_fields

    class CheckpointForm(forms.Form):
        region = RegionField(label=_("Village"), permission=Perm.MANAGE_CHECKPOINTS)

        def __init__(self, *args, user, **kwargs):
            super().__init__(*args, **kwargs)
            bind_region_fields(self, user)

``form.cleaned_data["region"]`` is then a ``Region`` within the user's scope for that
permission. The input takes a code or a name (蒋台屯, 蔣台屯村 ...); as the user types,
htmx fills a list of matching regions in their scope.
"""

from __future__ import annotations

import unicodedata
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.translation import gettext_lazy

from fangkong.accounts.roles import Perm
from fangkong.core.cleaning import clean_phone, clean_text
from fangkong.core.regioncodes import is_valid_code
from fangkong.core.scoping import restrict
from fangkong.geo import actions
from fangkong.geo.models import Region, SiteKind
from fangkong.geo.names import exact_matches, normalize_query

MAX_REGION_INPUT = 100


class RegionPickerWidget(forms.TextInput):
    """A text input whose suggestions (a <datalist>) htmx fills from the region search."""

    template_name = "geo/widgets/region_picker.html"

    def __init__(
        self, permission: str = Perm.VIEW_REGIONS, attrs: dict[str, Any] | None = None
    ) -> None:
        super().__init__(attrs={"autocomplete": "off", **(attrs or {})})
        self.permission = permission

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        widget = context["widget"]
        element_id = widget["attrs"].get("id") or f"id_{name}"
        widget["attrs"]["id"] = element_id
        widget["list_id"] = f"{element_id}_options"
        widget["search_url"] = (
            reverse("geo:region_search") + "?" + urlencode({"perm": self.permission, "field": name})
        )
        return context


class RegionField(forms.Field):
    """A region within the user's scope for ``permission``, typed as a code or a name.

    Set ``field.user`` (``bind_region_fields(form, user)``) before validating: without a
    user no region is acceptable. ``levels`` limits the levels allowed (e.g. villages).
    """

    widget = RegionPickerWidget
    default_error_messages = {
        "outside": gettext_lazy("No region with code %(code)s in your jurisdiction."),
        "unknown": gettext_lazy("No region called %(name)s in your jurisdiction."),
        "ambiguous": gettext_lazy(
            "Several regions are called %(name)s: %(choices)s. Pick one from the list or "
            "enter its code."
        ),
        "too_long": gettext_lazy("Enter a region code or name of at most %(max)d characters."),
        "level": gettext_lazy("Choose a region of another level."),
    }

    def __init__(
        self,
        *,
        permission: str = Perm.VIEW_REGIONS,
        levels: list[int] | None = None,
        user: Any = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("widget", RegionPickerWidget(permission))
        kwargs.setdefault(
            "help_text",
            gettext_lazy("Type a name (蒋台屯, 高庄镇) or a code and pick from the list."),
        )
        super().__init__(**kwargs)
        self.permission = permission
        self.levels = levels
        self.user = user

    def _scope(self) -> Any:
        scoped = restrict(Region.objects.all(), self.user, self.permission)
        if self.levels:
            scoped = scoped.filter(level__in=self.levels)
        return scoped

    def prepare_value(self, value: Any) -> Any:
        return value.code if isinstance(value, Region) else value

    def to_python(self, value: Any) -> Region | None:
        if isinstance(value, Region):
            return value
        if value in self.empty_values:
            return None
        text = unicodedata.normalize("NFKC", str(value)).strip()
        if not text:
            return None
        if len(text) > MAX_REGION_INPUT:
            raise ValidationError(
                self.error_messages["too_long"], code="too_long", params={"max": MAX_REGION_INPUT}
            )
        query = normalize_query(text)
        if query.isascii() and query.isdigit():
            region = self._scope().filter(code=query).first() if is_valid_code(query) else None
            if region is None:
                raise ValidationError(
                    self.error_messages["outside"], code="outside", params={"code": query[:20]}
                )
            return region
        found = exact_matches(query, queryset=self._scope(), limit=6)
        if len(found) == 1:
            return found[0]
        if not found:
            raise ValidationError(
                self.error_messages["unknown"], code="unknown", params={"name": text[:30]}
            )
        choices = "、".join(f"{r.short_name} ({r.code})" for r in found[:5])
        raise ValidationError(
            self.error_messages["ambiguous"],
            code="ambiguous",
            params={"name": text[:30], "choices": choices},
        )


def _one_field(clean: Any) -> Any:
    """Run an action's cleaner inside a form's clean_<field>: its errors become the
    field's own (an action names the field; a form's clean_<field> must not)."""
    try:
        return clean()
    except ValidationError as exc:
        raise ValidationError(exc.messages) from None


def bind_region_fields(form: forms.BaseForm, user: Any) -> None:
    """Give every RegionField of ``form`` the user whose scope it checks."""
    for field in form.fields.values():
        if isinstance(field, RegionField):
            field.user = user


def apply_action_errors(
    form: forms.BaseForm, exc: ValidationError, field_map: dict[str, str] | None = None
) -> None:
    """Put an action's ValidationError on the form's fields (unknown fields: form-wide)."""
    mapping = field_map or {}
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            name = mapping.get(field, field)
            for error in errors:
                form.add_error(name if name in form.fields else None, error)
    else:
        form.add_error(None, exc)


class SiteForm(forms.Form):
    """Create or edit a site. The action re-checks everything; this gives early messages."""

    name = forms.CharField(label=gettext_lazy("Name"), max_length=actions.NAME_MAX)
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=SiteKind.choices)
    region = RegionField(label=gettext_lazy("Region"), permission=Perm.MANAGE_SITES)
    address = forms.CharField(
        label=gettext_lazy("Address"), max_length=actions.ADDRESS_MAX, required=False
    )
    contact_name = forms.CharField(
        label=gettext_lazy("Contact person"), max_length=actions.CONTACT_NAME_MAX, required=False
    )
    contact_phone = forms.CharField(
        label=gettext_lazy("Contact phone"), max_length=64, required=False
    )
    notes = forms.CharField(
        label=gettext_lazy("Notes"),
        max_length=actions.NOTES_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    FIELD_MAP = {"region_code": "region"}

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        bind_region_fields(self, user)
        for field in self.fields.values():
            css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            field.widget.attrs.setdefault("class", css)

    def clean_name(self) -> str:
        value = self.cleaned_data["name"]
        return _one_field(
            lambda: clean_text(value, field="name", max_length=actions.NAME_MAX, required=True)
        )

    def clean_address(self) -> str:
        value = self.cleaned_data["address"]
        return _one_field(
            lambda: clean_text(value, field="address", max_length=actions.ADDRESS_MAX)
        )

    def clean_contact_name(self) -> str:
        value = self.cleaned_data["contact_name"]
        limit = actions.CONTACT_NAME_MAX
        return _one_field(lambda: clean_text(value, field="contact_name", max_length=limit))

    def clean_contact_phone(self) -> str:
        return _one_field(lambda: clean_phone(self.cleaned_data["contact_phone"], "contact_phone"))

    def clean_notes(self) -> str:
        value = self.cleaned_data["notes"]
        return _one_field(
            lambda: clean_text(value, field="notes", max_length=actions.NOTES_MAX, multiline=True)
        )

    def action_values(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        region: Region = data.pop("region")
        return {**data, "region_code": region.code}


class VillageGroupForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Group name"), max_length=actions.GROUP_NAME_MAX)
    number = forms.IntegerField(
        label=gettext_lazy("Number"), min_value=1, max_value=999, required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.setdefault("class", "form-control")
