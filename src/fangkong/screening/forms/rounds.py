"""Forms for testing rounds: plan or edit a round (zones as rows), status changes.

The actions re-check everything (screening.actions.rounds); these give early messages
next to the right input. Zones are rows ``zone_region_<n>``, ``zone_pool_<n>``,
``zone_label_<n>``; the page adds rows with a button, the form reads as many as are sent
(up to MAX_ROWS).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from fangkong.accounts.roles import Perm
from fangkong.core.regioncodes import Level
from fangkong.geo.forms import RegionField, bind_region_fields
from fangkong.screening.actions import rounds as actions
from fangkong.screening.models import POOL_SIZE_CHOICES, Round, RoundStatus, RoundZone

MAX_ROWS = 200
EXTRA_ROWS = 2
MIN_ROWS = 3
_ROW_KEY = re.compile(r"^zone_(?:region|pool|label)_(\d{1,4})$")
ZONE_LEVELS = [int(Level.COUNTY), int(Level.TOWNSHIP), int(Level.VILLAGE), int(Level.GROUP)]

# Zone names of 2022 and the pooling usually used there (DOMAIN.md): suggestions only.
ZONE_LABELS = [
    (_lazy("Sealed zone (封控区)"), 1),
    (_lazy("Controlled zone (管控区)"), 10),
    (_lazy("Precaution zone (防范区)"), 20),
]


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


class FoldedCharField(forms.CharField):
    """Text with full-width letters and digits folded (NFKC) before the length check."""

    def to_python(self, value: Any) -> str:
        text = super().to_python(value) or ""
        return unicodedata.normalize("NFKC", text).strip()


def _pool_choices(blank: str | None = None) -> list[tuple[str, str]]:
    choices = [(str(size), str(label)) for size, label in POOL_SIZE_CHOICES]
    return [("", blank), *choices] if blank is not None else choices


def row_count(data: Any, existing: int = 0) -> int:
    """Rows to show: those sent back (highest index + 1), else the saved zones plus spares."""
    sent = [int(m.group(1)) for key in (data or {}) if (m := _ROW_KEY.match(key))]
    wanted = max(sent) + 1 if sent else existing + EXTRA_ROWS
    return max(MIN_ROWS, min(MAX_ROWS, wanted))


class RoundForm(forms.Form):
    name = FoldedCharField(
        label=_lazy("Name"),
        max_length=actions.NAME_MAX,
        widget=forms.TextInput(attrs={"placeholder": _lazy("第9轮全员核酸")}),
    )
    starts_at = LocalDateTimeField(label=_lazy("Starts"))
    ends_at = LocalDateTimeField(label=_lazy("Ends"))
    default_pool_size = forms.TypedChoiceField(
        label=_lazy("Default pool size"),
        choices=_pool_choices(),
        coerce=int,
        initial="10",
        help_text=_lazy("For sites outside every zone's own setting."),
    )
    barcode_prefix = FoldedCharField(
        label=_lazy("Tube barcode prefix"),
        max_length=actions.BARCODE_PREFIX_MAX,
        required=False,
        help_text=_lazy("Optional: every tube barcode of this round starts with it."),
    )
    barcode_length = forms.IntegerField(
        label=_lazy("Tube barcode length"),
        min_value=actions.BARCODE_LENGTH_MIN,
        max_value=actions.BARCODE_LENGTH_MAX,
        required=False,
        help_text=_lazy("Optional: a scanned barcode of another length is refused."),
    )
    notes = forms.CharField(
        label=_lazy("Notes"),
        max_length=actions.NOTES_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, user: Any, round_: Round | None = None, **kwargs: Any) -> None:
        self.round = round_
        zones: list[RoundZone] = []
        if round_ is not None and "initial" not in kwargs:
            zones = list(RoundZone.objects.filter(round=round_).order_by("region_code"))
            kwargs["initial"] = {
                "name": round_.name,
                "starts_at": round_.starts_at,
                "ends_at": round_.ends_at,
                "default_pool_size": str(round_.default_pool_size),
                "barcode_prefix": round_.barcode_prefix,
                "barcode_length": round_.barcode_length,
                "notes": round_.notes,
                **{f"zone_region_{i}": z.region_code for i, z in enumerate(zones)},
                **{f"zone_pool_{i}": str(z.pool_size) for i, z in enumerate(zones)},
                **{f"zone_label_{i}": z.label for i, z in enumerate(zones)},
            }
        super().__init__(*args, **kwargs)
        self.rows = row_count(self.data if self.is_bound else None, len(zones))
        for index in range(self.rows):
            self.fields[f"zone_region_{index}"] = RegionField(
                label=_lazy("Region"),
                permission=Perm.MANAGE_ROUNDS,
                levels=ZONE_LEVELS,
                required=False,
                help_text="",
            )
            self.fields[f"zone_pool_{index}"] = forms.TypedChoiceField(
                label=_lazy("Pool size"),
                choices=_pool_choices(str(_lazy("Round default"))),
                coerce=int,
                empty_value=None,
                required=False,
            )
            self.fields[f"zone_label_{index}"] = FoldedCharField(
                label=_lazy("Zone"),
                max_length=actions.LABEL_MAX,
                required=False,
                widget=forms.TextInput(attrs={"list": "zone-labels"}),
            )
        bind_region_fields(self, user)
        self.running = round_ is not None and round_.status != RoundStatus.PLANNED
        if self.running:
            for name, field in self.fields.items():
                if name not in actions.EDITABLE_WHILE_RUNNING:
                    field.disabled = True

    def zone_rows(self) -> list[tuple[forms.BoundField, forms.BoundField, forms.BoundField]]:
        return [
            (self[f"zone_region_{i}"], self[f"zone_pool_{i}"], self[f"zone_label_{i}"])
            for i in range(self.rows)
        ]

    def zone_labels(self) -> list[tuple[str, int]]:
        return [(str(label), pool) for label, pool in ZONE_LABELS]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("starts_at"), data.get("ends_at")
        if start and end and end <= start:
            self.add_error("ends_at", _("The round must end after it starts."))
        if self.running:
            return data
        zones: list[actions.ZoneInput] = []
        self.zone_indexes: list[int] = []
        seen: dict[str, int] = {}
        default = data.get("default_pool_size") or 10
        for index in range(self.rows):
            region = data.get(f"zone_region_{index}")
            pool = data.get(f"zone_pool_{index}")
            label = data.get(f"zone_label_{index}") or ""
            if region is None:
                if f"zone_region_{index}" not in self.errors and (pool is not None or label):
                    self.add_error(f"zone_region_{index}", _("Choose the region of this zone."))
                continue
            if region.code in seen:
                self.add_error(
                    f"zone_region_{index}",
                    _("%(name)s is already in row %(row)d.")
                    % {"name": region.short_name, "row": seen[region.code] + 1},
                )
                continue
            seen[region.code] = index
            zones.append(
                actions.ZoneInput(region.code, pool if pool is not None else default, label)
            )
            self.zone_indexes.append(index)
        if not zones and not any(k.startswith("zone_region_") for k in self.errors):
            self.add_error(None, _("Choose at least one region for the round."))
        data["zones"] = zones
        return data

    def action_values(self) -> dict[str, Any]:
        data = self.cleaned_data
        if self.running:
            return {key: data[key] for key in ("name", "ends_at", "notes")}
        return {
            "name": data["name"],
            "starts_at": data["starts_at"],
            "ends_at": data["ends_at"],
            "zones": data["zones"],
            "default_pool_size": data["default_pool_size"],
            "barcode_prefix": data.get("barcode_prefix") or "",
            "barcode_length": data.get("barcode_length"),
            "notes": data.get("notes") or "",
        }

    def action_errors(self, exc: ValidationError) -> None:
        """An action's errors next to the inputs (zone errors on the zone's row)."""
        indexes = getattr(self, "zone_indexes", [])
        if not hasattr(exc, "error_dict"):
            for message in exc.messages:
                self.add_error(None, message)
            return
        for key, messages in exc.message_dict.items():
            target: str | None = key
            match = re.match(r"^zones\.(\d+)\.(region_code|pool_size|label)$", key)
            if match and int(match.group(1)) < len(indexes):
                part = {"region_code": "region", "pool_size": "pool", "label": "label"}
                target = f"zone_{part[match.group(2)]}_{indexes[int(match.group(1))]}"
            if target not in self.fields:
                target = None
            for message in messages:
                self.add_error(target, message)


class ForceForm(forms.Form):
    """Finish or close even though tubes are open / results are missing."""

    force = forms.BooleanField(required=False)
