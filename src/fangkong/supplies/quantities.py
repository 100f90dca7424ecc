"""Quantities in base units and packs (DESIGN rule 5): exact integers, never floats.

A user may enter packs ("30 箱"), units ("1500 套"), or both ("30 箱 + 12 套"). Packs
convert exactly; an entry in units that is not a whole number of packs is fine, but a
pack count is never guessed from a remainder.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

# Far above any real stock (a county does not hold a trillion masks) and far below
# BIGINT, so sums of many lines cannot overflow either.
MAX_QUANTITY = 10**12

_INTEGER = re.compile(r"^[+-]?\d+$")


def parse_quantity(value: object, *, field: str = "quantity", allow_zero: bool = False) -> int:
    """A positive whole number from a form, a CSV cell or JSON (full-width digits allowed).

    Rejects fractions ("2.5"), negatives, words and anything above ``MAX_QUANTITY`` with
    a message in the user's language.
    """
    if isinstance(value, bool):
        raise ValidationError({field: _("Enter a whole number.")})
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not value.is_integer():
            raise ValidationError({field: _("Quantities are whole numbers in the base unit.")})
        number = int(value)
    else:
        text = unicodedata.normalize("NFKC", str(value or "")).strip().replace(",", "")
        if text.endswith(".0"):  # what a spreadsheet makes of an integer cell
            text = text[:-2]
        if not text:
            raise ValidationError({field: _("Enter a quantity.")})
        if not _INTEGER.match(text):
            if re.match(r"^[+-]?\d*\.\d+$", text):
                raise ValidationError({field: _("Quantities are whole numbers in the base unit.")})
            raise ValidationError({field: _("Enter a whole number.")})
        number = int(text)
    if number < 0:
        raise ValidationError({field: _("The quantity cannot be negative.")})
    if number == 0 and not allow_zero:
        raise ValidationError({field: _("The quantity must be more than zero.")})
    if number > MAX_QUANTITY:
        raise ValidationError({field: _("The quantity is too large.")})
    return number


@dataclass(frozen=True)
class PackSize:
    name: str
    size: int


def to_base_units(
    *, packs: int | None, pack_size: int | None, units: int | None, field: str = "quantity"
) -> int:
    """Packs × size + loose units, checked against ``MAX_QUANTITY``."""
    total = 0
    if packs:
        if not pack_size:
            raise ValidationError({field: _("Choose the pack the count is in.")})
        total += packs * pack_size
    total += units or 0
    if total <= 0:
        raise ValidationError({field: _("The quantity must be more than zero.")})
    if total > MAX_QUANTITY:
        raise ValidationError({field: _("The quantity is too large.")})
    return total


def packs_exactly(quantity: int, pack_size: int, *, field: str = "quantity") -> int:
    """The number of packs in ``quantity``; an error when it does not divide."""
    packs, rest = divmod(quantity, pack_size)
    if rest:
        raise ValidationError(
            {
                field: _(
                    "%(quantity)s is not a whole number of packs of %(size)s; "
                    "enter the quantity in units instead."
                )
                % {"quantity": quantity, "size": pack_size}
            }
        )
    return packs


def format_quantity(quantity: int, base_unit: str, packs: Iterable[PackSize] = ()) -> str:
    """ "1500 套 (30 箱)", "1510 套 (30 箱 10 套)": units first, the largest pack after."""
    text = f"{quantity} {base_unit}"
    largest = max(packs, key=lambda p: p.size, default=None)
    if largest is None or quantity < largest.size:
        return text
    whole, rest = divmod(abs(quantity), largest.size)
    sign = "-" if quantity < 0 else ""
    inner = f"{sign}{whole} {largest.name}" + (f" {rest} {base_unit}" if rest else "")
    return f"{text} ({inner})"
