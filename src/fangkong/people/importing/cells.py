"""Per-cell checks of a people ledger, each with a fast path for the everyday cell.

A 100,000-row import calls these a million times, so the common case (an 18-digit ID
typed correctly, an 11-digit mobile, a short plain text) is decided with a regular
expression or a dictionary lookup, and only unusual cells go through the general
cleaners of ``core.cleaning`` and ``people.identity`` (whose messages they keep).
Failures raise ``RowError`` with the user-facing reason; a cached failure is kept as its
message, never as an exception object (re-raising one instance chains every traceback,
and with them every batch, onto it).
"""

from __future__ import annotations

import datetime as dt
import re
import time
import unicodedata
from functools import lru_cache
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fangkong.core.cleaning import clean_phone, clean_text
from fangkong.core.importing.headers import normalize_header
from fangkong.core.importing.values import cell_text, parse_date
from fangkong.people.identity import parse_mainland
from fangkong.people.importing.schema import FEMALE, MALE, PEOPLE_SCHEMA
from fangkong.people.names import clean_name, name_keys

FORMULA_START = ("=", "+", "@")
# Lazy: translated only when a message is built (a gettext call per row costs ~10 µs).
BIRTH_DATE = gettext_lazy("birth date")
ARRIVAL_DATE = gettext_lazy("arrival date")
_MAINLAND_FAST = re.compile(r"[0-9]{17}[0-9X]")  # ASCII only: \d takes ４ too
_MOBILE_FAST = re.compile(r"1[3-9][0-9]{9}")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
EARLIEST = dt.date(1880, 1, 1)
LATEST = dt.date(2100, 12, 31)
# Repeated cells (origins, transport, villages) are checked once each, up to this length.
_CACHED_TEXT = 100


class RowError(ValueError):
    """Why a row is rejected (user-facing)."""


def word(text: str) -> str:
    return normalize_header(text) if text else ""


# -- names -----------------------------------------------------------------------------


def name_facts(raw: Any) -> tuple[str, str, str, str] | str:
    """(name, simplified key, pinyin, initials) of a name cell, or the reason it is bad.

    The checker caches it per distinct cell: a county repeats its names."""
    name = clean_name(raw if isinstance(raw, str) else cell_text(raw))
    if not name:
        return _("The name is missing.")
    if name.startswith(FORMULA_START):
        return _("The name looks like a spreadsheet formula.")
    if len(name) > 64:
        return _("The name is longer than 64 characters.")
    if not name.isprintable():
        return _("Remove the control characters from the name.")
    key, pinyin, initials = name_keys(name)
    return name, key, pinyin[:128], initials[:32]


# -- mainland IDs ----------------------------------------------------------------------

# The weighted check sum of an ID split in three parts, each part's sum cached: the
# address code (a few hundred in a county), the birth date (tens of thousands) and the
# sequence (1,000). Three lookups instead of seventeen multiplications.
_ADDRESS_SUMS: dict[str, int] = {}
_SEQUENCE_SUMS: dict[str, int] = {}
_BIRTHS: dict[str, tuple[int, dt.date | None]] = {}


def _part_sum(digits: str, offset: int) -> int:
    return sum(int(d) * w for d, w in zip(digits, _WEIGHTS[offset:], strict=False))


def _birth(digits: str) -> tuple[int, dt.date | None]:
    found = _BIRTHS.get(digits)
    if found is None:
        try:
            birth: dt.date | None = dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
        except ValueError:
            birth = None
        found = (_part_sum(digits, 6), birth)
        if len(_BIRTHS) < 200_000:
            _BIRTHS[digits] = found
    return found


@lru_cache(maxsize=4)
def _today_cached(hour: int) -> dt.date:
    return dt.date.today()


def today() -> dt.date:
    # date.today() per row is a system call; an import may run across midnight, so the
    # cache is keyed by the hour.
    return _today_cached(int(time.time() // 3600))


def mainland_fast(text: str) -> tuple[str, dt.date, str] | None:
    """The everyday 18-digit ID as (number, birth date, sex), checked without the general
    parser; None for anything unusual (spaces, full-width digits, a wrong check digit, a
    bad date), which then goes through ``parse_mainland`` for its exact message."""
    if len(text) != 18:
        return None
    number = text if text[17] != "x" else text.upper()
    if _MAINLAND_FAST.fullmatch(number) is None:
        return None
    address = _ADDRESS_SUMS.get(number[:6])
    if address is None:
        address = _ADDRESS_SUMS.setdefault(number[:6], _part_sum(number[:6], 0))
    sequence = _SEQUENCE_SUMS.get(number[14:17])
    if sequence is None:
        sequence = _SEQUENCE_SUMS.setdefault(number[14:17], _part_sum(number[14:17], 14))
    dated, birth = _birth(number[6:14])
    if birth is None or _CHECK[(address + dated + sequence) % 11] != number[17]:
        return None
    if birth < EARLIEST or birth > today():
        return None
    return number, birth, MALE if number[16] in "13579" else FEMALE


def mainland(text: str) -> tuple[str, dt.date, str]:
    """An 18-digit ID: the fast check, else parse_mainland (and its exact message)."""
    fast = mainland_fast(text)
    if fast is not None:
        return fast
    parsed = parse_mainland(text)  # raises IdError with the reason
    return parsed.number, parsed.birth_date, parsed.sex


# -- other cells -----------------------------------------------------------------------


def date(raw: Any, label: Any) -> dt.date | None:
    if isinstance(raw, dt.datetime):
        value: dt.date | None = raw.date()
    else:
        try:
            value = parse_date(raw)
        except (ValueError, OverflowError):
            raise RowError(
                _("The %(field)s “%(value)s” is not a date (write 2022-01-20).")
                % {"field": label, "value": cell_text(raw)[:20]}
            ) from None
    if value is not None and not EARLIEST <= value <= LATEST:
        raise RowError(
            _("The %(field)s “%(value)s” is not a possible date.")
            % {"field": label, "value": value.isoformat()}
        )
    return value


def phone(raw: Any) -> str:
    if raw is None or raw == "":
        return ""
    text = raw if isinstance(raw, str) and raw.isascii() else cell_text(raw)
    if len(text) == 11 and _MOBILE_FAST.fullmatch(text):
        return text
    text = cell_text(text)
    if not text:
        return ""
    if _MOBILE_FAST.fullmatch(text):
        return text
    try:
        return clean_phone(text)
    except ValidationError as exc:
        raise RowError(" ".join(exc.messages)) from None


TextCache = dict[tuple[str, str], tuple[bool, str]]


def text(raw: Any, limit: int, name: str, cache: TextCache | None = None) -> str:
    """A free-text cell, cleaned. With ``cache`` (one per import: its messages are in the
    import's language), short repeated values such as origins are checked once each."""
    if raw is None or raw == "":
        return ""
    if cache is None or not isinstance(raw, str) or len(raw) > _CACHED_TEXT:
        return _text(raw, limit, name)
    cached = cache.get((name, raw))
    if cached is None:
        try:
            cached = (True, _text(raw, limit, name))
        except RowError as exc:
            cached = (False, str(exc))
        if len(cache) < 50_000:
            cache[(name, raw)] = cached
    if not cached[0]:
        raise RowError(cached[1])
    return cached[1]


def _text(raw: Any, limit: int, name: str) -> str:
    if (
        isinstance(raw, str)
        and len(raw) <= limit
        and raw.isprintable()
        and "  " not in raw
        and unicodedata.is_normalized("NFKC", raw)
    ):
        # The everyday cell needs none of clean_text's work (about 4 µs a cell saved).
        value = raw.strip()
    else:
        source = cell_text(raw) if not isinstance(raw, str) else raw
        try:
            value = clean_text(source, max_length=limit)
        except ValidationError as exc:
            label = PEOPLE_SCHEMA.spec(name).label
            raise RowError(f"{label}: {' '.join(exc.messages)}") from None
    if value.startswith(FORMULA_START):
        label = PEOPLE_SCHEMA.spec(name).label
        raise RowError(_("%(field)s looks like a spreadsheet formula.") % {"field": label})
    return value
