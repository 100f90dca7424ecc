"""Chinese vehicle plates (机动车号牌, GA 36-2018) as drivers and cadres type them.

A plate is a province abbreviation (豫), the issuing office's letter (E for 安阳), then
the serial:

- ordinary plates: five letters or digits (豫E12345, 豫EA12B3), or four and a suffix
  挂 (trailer), 学 (driving school) or 警 (police): 豫E1234挂;
- small new-energy plates: D or F (extended in 2021 to A/B/C/E for pure electric and
  G/H/J/K for the others) first, then a letter or digit, then four digits: 豫ED12345;
- large new-energy plates: five digits and then D or F: 豫E12345D.

Serial letters never use I or O (they read as 1 and 0), so a plate with them is refused
rather than guessed. Input is folded before checking: full-width characters, lower
case, spaces and the separator dot (豫E·12345, 豫e 12345) are all accepted; the stored
form has no separator.
"""

from __future__ import annotations

import re
import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
# Letters allowed in plates: no I and no O.
_LETTER = "A-HJ-NP-Z"
_ALNUM = f"[{_LETTER}0-9]"
_SMALL_NEW_ENERGY_FIRST = "ABCDEFGHJK"
_SUFFIXES = "挂学警"

_ORDINARY = re.compile(rf"^[{PROVINCES}][{_LETTER}]{_ALNUM}{{5}}$")
_SUFFIXED = re.compile(rf"^[{PROVINCES}][{_LETTER}]{_ALNUM}{{4}}[{_SUFFIXES}]$")
_SMALL_NEW_ENERGY = re.compile(
    rf"^[{PROVINCES}][{_LETTER}][{_SMALL_NEW_ENERGY_FIRST}]{_ALNUM}\d{{4}}$"
)
_LARGE_NEW_ENERGY = re.compile(rf"^[{PROVINCES}][{_LETTER}]\d{{5}}[DF]$")

# Separators people put between the office letter and the serial.
_SEPARATORS = re.compile(r"[\s·•・‧.\-_]")


def normalise_plate(value: object) -> str:
    """Folded form: NFKC, upper case, separators removed (no validation)."""
    text = unicodedata.normalize("NFKC", str(value or ""))
    return _SEPARATORS.sub("", text).upper()


def is_new_energy(plate: str) -> bool:
    return len(plate) == 8


def clean_plate(value: object, field: str | None = "vehicle_plate") -> str:
    """The plate in its stored form (豫E12345), or a ValidationError naming the rule."""
    plate = normalise_plate(value)
    message: str | None = None
    if not plate:
        message = _("Enter the vehicle plate.")
    elif plate[0] not in PROVINCES:
        message = _("A plate starts with a province abbreviation, such as 豫.")
    elif (len(plate) > 1 and plate[1] in "IO") or any(ch in "IO" for ch in plate[2:]):
        message = _("Plates never use the letters I and O; check the plate.")
    elif not any(
        pattern.match(plate)
        for pattern in (_ORDINARY, _SUFFIXED, _SMALL_NEW_ENERGY, _LARGE_NEW_ENERGY)
    ):
        message = _(
            "“%(plate)s” is not a valid plate: use 豫E12345, 豫ED12345 or 豫E12345D "
            "(new-energy vehicles)."
        ) % {"plate": plate[:12]}
    if message is None:
        return plate
    if field is None:
        raise ValidationError(message, code="invalid_plate")
    raise ValidationError({field: [ValidationError(message, code="invalid_plate")]})


def display_plate(plate: str) -> str:
    """豫E12345 → 豫E·12345, as painted on the plate."""
    return f"{plate[:2]}·{plate[2:]}" if len(plate) > 2 else plate
