"""Identity documents (证件): normalizing numbers and reading a mainland ID (GB 11643-1999).

Users type lowercase x, full-width digits (１２３), spaces and dashes; spreadsheets turn an
18-digit ID into a float (4.10522e17) and lose its last digits. Everything here is pure
(no database) so imports can call it per row.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_lazy as _
from stdnum.cn import ric


class IdType(models.TextChoices):
    MAINLAND = "mainland", _("Mainland ID card")  # 居民身份证
    LEGACY15 = "legacy15", _("15-digit legacy ID")  # 一代身份证
    PASSPORT = "passport", _("Passport")  # 护照
    HK_MACAU = "hk_macau", _("Hong Kong/Macau permit")  # 港澳居民来往内地通行证
    TAIWAN = "taiwan", _("Taiwan permit")  # 台湾居民来往大陆通行证
    HOUSEHOLD = "household", _("Household-register number")  # 户口簿号
    NONE = "none", _("None")  # 无证件 (infants, visitors)


class Sex(models.TextChoices):
    MALE = "M", _("Male")
    FEMALE = "F", _("Female")
    UNKNOWN = "", _("Unknown")


_STRIP = re.compile(r"[\s\-‐‑–—_/.·]")
_SCIENTIFIC = re.compile(r"^\d(\.\d+)?[eE]\+?\d+$")


def normalize_number(raw: object) -> str:
    """NFKC, spaces and dashes removed, upper case (a trailing x becomes X)."""
    if raw is None:
        return ""
    text = unicodedata.normalize("NFKC", str(raw)).strip()
    return _STRIP.sub("", text).upper()


def looks_like_lost_digits(raw: object) -> bool:
    """True for an ID that Excel stored as a number: 4.10522e17, or a float's 410522...0."""
    if isinstance(raw, float):
        return raw >= 1e14
    # Look before normalize_number(): it strips the dot of 4.10522E+17.
    text = unicodedata.normalize("NFKC", str(raw or "")).strip().replace(" ", "")
    return bool(_SCIENTIFIC.match(text))


@dataclass(frozen=True)
class MainlandId:
    number: str
    birth_date: dt.date
    sex: str  # Sex value
    address_code: str


class IdError(ValueError):
    """Why a number is not a valid identity number (message is user-facing)."""


def parse_mainland(raw: object) -> MainlandId:
    """Validate an 18-digit ID (check digit, real birth date not in the future)."""
    if looks_like_lost_digits(raw):
        raise IdError(
            _(
                "The ID was stored by Excel as a number and lost its last digits; "
                "format the column as text and enter it again."
            )
        )
    number = normalize_number(raw)
    if len(number) == 15 and number.isdigit():
        raise IdError(_("This is a 15-digit legacy ID; choose that document type."))
    if len(number) != 18:
        raise IdError(_("A mainland ID has 18 characters (this has %(n)d).") % {"n": len(number)})
    if not (number[:17].isdigit() and (number[17].isdigit() or number[17] == "X")):
        raise IdError(_("A mainland ID is 17 digits and a final digit or X."))
    try:
        birth = ric.get_birth_date(number)
    except Exception:
        raise IdError(_("The birth date in this ID is impossible.")) from None
    if birth > dt.date.today() or birth.year < 1880:
        raise IdError(_("The birth date in this ID is impossible."))
    if ric.calc_check_digit(number) != number[17]:
        raise IdError(_("The check digit of this ID is wrong; a digit was probably mistyped."))
    sex = Sex.MALE.value if int(number[16]) % 2 == 1 else Sex.FEMALE.value
    return MainlandId(number=number, birth_date=birth, sex=sex, address_code=number[:6])


def parse_legacy15(raw: object) -> MainlandId:
    """A 15-digit ID: 6 address, YYMMDD (19YY), 3 sequence; no check digit."""
    number = normalize_number(raw)
    if len(number) != 15 or not number.isdigit():
        raise IdError(_("A 15-digit legacy ID has 15 digits."))
    try:
        birth = dt.date(1900 + int(number[6:8]), int(number[8:10]), int(number[10:12]))
    except ValueError:
        raise IdError(_("The birth date in this ID is impossible.")) from None
    sex = Sex.MALE.value if int(number[14]) % 2 == 1 else Sex.FEMALE.value
    return MainlandId(number=number, birth_date=birth, sex=sex, address_code=number[:6])


def clean_other_document(raw: object) -> str:
    """Passports, permits, household numbers: normalized, 4 to 32 letters and digits."""
    number = normalize_number(raw)
    if not (4 <= len(number) <= 32) or not number.isalnum() or not number.isascii():
        raise IdError(_("A document number has 4 to 32 letters and digits."))
    return number


def guess_id_type(raw: object) -> str:
    """The type a bare number most likely is (for imports whose rows do not say)."""
    number = normalize_number(raw)
    if not number:
        return IdType.NONE
    if len(number) == 18 or looks_like_lost_digits(raw):
        return IdType.MAINLAND
    if len(number) == 15 and number.isdigit():
        return IdType.LEGACY15
    if number[:1] in {"H", "M"} and len(number) in {9, 11}:
        return IdType.HK_MACAU
    return IdType.PASSPORT


def reversed_key(value: str) -> str:
    """The value reversed: "last 4/6 digits" becomes an indexed prefix search."""
    return value[::-1]
