"""What a scanner sends: tube barcodes (采样管条码) and person codes (身份证号, 个人码, 后六位).

Hand scanners and phones add noise: an AIM symbology identifier before the data (]C1
Code 128, ]Q1 QR, ]d2 Data Matrix, ]E0 EAN ...), control characters (STX, GS, the CR or
TAB the scanner "types" after the code), spaces, full-width characters from a Chinese
input method (ＡＢ１２, ：), Code 39's start and stop asterisks, a lower-case x. Everything
here is pure (no database), so the scan, the pages and the tests share one reading.

A personal QR code (个人码) carries no identity: ``FK1:<person id>:<mac>``, where the mac
is the first 16 hex digits of an HMAC-SHA256 keyed by settings.SECRET_KEY. The whole
payload is in QR's alphanumeric alphabet (digits, upper-case letters, colon), so the code
stays small (version 2). Rotating SECRET_KEY invalidates printed codes.
"""

from __future__ import annotations

import hmac
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from fangkong.people.identity import IdError, IdType, parse_legacy15, parse_mainland

# A scan longer than this is not a code (a pasted paragraph, a stuck key).
MAX_RAW = 256
BARCODE_MAX = 32  # Tube.barcode max_length
QR_VERSION = "FK1"
_QR_SALT = "fangkong.screening.person-qr"
_MAC_LENGTH = 16

_AIM = re.compile(r"^\][A-Za-z][0-9A-Za-z]")
_BARCODE = re.compile(r"^[A-Z0-9][A-Z0-9\-]*$")
_QR = re.compile(r"^FK1:(\d{1,18}):([0-9A-F]{16})$")
_TAIL = re.compile(r"^\d{5}[\dX]$")
_OTHER_DOCUMENT = re.compile(r"^[A-Z0-9]{4,32}$")
# Separators people and scanners put inside numbers (410522-1990...).
_NUMBER_NOISE = re.compile(r"[\-‐‑–—_/.·]")
# Cc: control (STX, GS, CR, TAB), Cf: format (zero-width space, BOM), Cs: surrogates.
_INVISIBLE = frozenset({"Cc", "Cf", "Cs"})
OTHER_DOCUMENT_TYPES = (IdType.PASSPORT, IdType.HK_MACAU, IdType.TAIWAN, IdType.HOUSEHOLD)


class CodeError(ValueError):
    """Why a scanned value is not a usable code (the message is for the screen)."""


def clean_scan(raw: Any) -> str:
    """The scanned text without scanner noise: NFKC, no control or format characters, no
    AIM prefix, no whitespace anywhere. Not upper-cased (the caller decides)."""
    if raw is None:
        return ""
    text = str(raw)[: MAX_RAW * 2]
    if text.isascii() and text.isalnum():  # the usual scan: nothing to fold or strip
        return text[:MAX_RAW]
    text = unicodedata.normalize("NFKC", text)
    text = "".join(
        ch for ch in text if unicodedata.category(ch) not in _INVISIBLE and not ch.isspace()
    )
    match = _AIM.match(text)
    if match:
        text = text[match.end() :]
    return text[:MAX_RAW]


def clean_barcode(raw: Any) -> str:
    """A tube barcode: upper-case letters, digits and inner dashes, at most 32 characters.

    Raises CodeError with a reason for anything else.
    """
    text = clean_scan(raw).strip("*").upper()  # Code 39 start/stop characters
    if not text:
        raise CodeError(_("Scan or enter the tube barcode."))
    if len(text) > BARCODE_MAX:
        raise CodeError(
            _("A tube barcode has at most %(max)d characters (this has %(count)d).")
            % {"max": BARCODE_MAX, "count": len(text)}
        )
    if not _BARCODE.match(text):
        raise CodeError(_("A tube barcode has only letters, digits and dashes."))
    return text


def normalize_barcode(raw: Any) -> str:
    """The barcode, or "" when it cannot be one (the scan then answers "unknown tube")."""
    try:
        return clean_barcode(raw)
    except CodeError:
        return ""


def barcode_fits(barcode: str, prefix: str, length: int | None) -> str | None:
    """None when the barcode fits the round's supplier format, else the reason."""
    if prefix and not barcode.startswith(prefix):
        return _("Tube barcodes of this round start with %(prefix)s.") % {"prefix": prefix}
    if length and len(barcode) != length:
        return _("Tube barcodes of this round have %(length)d characters (this has %(count)d).") % {
            "length": length,
            "count": len(barcode),
        }
    return None


# --- personal QR codes -----------------------------------------------------------------


def _mac(person_id: int) -> str:
    digest = salted_hmac(_QR_SALT, f"{QR_VERSION}:{person_id}", algorithm="sha256").hexdigest()
    return digest[:_MAC_LENGTH].upper()


def make_person_qr(person_id: int) -> str:
    """The payload of a person's QR code: FK1:<id>:<mac>."""
    return f"{QR_VERSION}:{int(person_id)}:{_mac(int(person_id))}"


def parse_person_qr(text: str) -> int | None:
    """The person id of a genuine payload (already cleaned, upper case), else None."""
    match = _QR.match(text)
    if not match:
        return None
    person_id = int(match.group(1))
    if not hmac.compare_digest(match.group(2), _mac(person_id)):
        return None
    return person_id


def person_qr_svg(person: Any, *, scale: int = 4, border: int = 2) -> str:
    """An inline <svg> of the person's QR code, for the person page and a printable card.

    The code holds no identity number: scanning it elsewhere shows a number and a mac.
    """
    import segno

    code = segno.make(make_person_qr(person.pk), error="m", micro=False)
    return str(code.svg_inline(scale=scale, border=border, title=_("Personal code")))


# --- person codes ----------------------------------------------------------------------

DOCUMENT, QR, TAIL, INVALID = "document", "qr", "tail", "invalid"


@dataclass(frozen=True)
class PersonCode:
    """How to find the person a scan names.

    kind document: (id_types, number) on the unique identity index; qr: person_id; tail:
    the reversed last six digits (an id_reversed prefix) and the simplified name (name_key);
    invalid: ``error`` says why.
    """

    kind: str
    id_types: tuple[str, ...] = ()
    number: str = ""
    person_id: int | None = None
    tail_reversed: str = ""
    name_key: str = ""
    error: str = ""


def _invalid(message: str) -> PersonCode:
    return PersonCode(INVALID, error=message)


def parse_person_code(raw: Any, name: Any = "") -> PersonCode:
    """Read what the sampler scanned or typed for a person.

    An 18-character mainland ID (check digit and birth date verified), a 15-digit legacy
    ID, a passport or permit number, a personal QR payload, or the last six ID digits
    with ``name``.
    """
    text = _NUMBER_NOISE.sub("", clean_scan(raw)).upper()
    if not text:
        return _invalid(_("Scan the ID card or personal code, or type the last 6 digits."))
    if text.startswith(f"{QR_VERSION}:"):
        person_id = parse_person_qr(text)
        if person_id is None:
            return _invalid(_("This QR code is not a valid personal code."))
        return PersonCode(QR, person_id=person_id)
    if len(text) == 18 and text[:17].isdigit():
        try:
            parsed = parse_mainland(text)
        except IdError as exc:
            return _invalid(str(exc))
        return PersonCode(DOCUMENT, id_types=(IdType.MAINLAND,), number=parsed.number)
    if len(text) == 15 and text.isdigit():
        try:
            legacy = parse_legacy15(text)
        except IdError as exc:
            return _invalid(str(exc))
        return PersonCode(DOCUMENT, id_types=(IdType.LEGACY15,), number=legacy.number)
    if _TAIL.match(text):
        from fangkong.people.names import clean_name, name_keys

        visible = "".join(
            ch for ch in str(name or "")[:MAX_RAW] if unicodedata.category(ch) not in _INVISIBLE
        )
        cleaned = clean_name(visible)[:64]
        if not cleaned:
            return _invalid(_("With the last 6 digits, enter the name too."))
        return PersonCode(TAIL, tail_reversed=text[::-1], name_key=name_keys(cleaned)[0])
    if text.isdigit() and len(text) in (16, 17, 19):
        return _invalid(_("A mainland ID has 18 characters (this has %(n)d).") % {"n": len(text)})
    if _OTHER_DOCUMENT.match(text):  # a passport, permit or household-register number
        return PersonCode(DOCUMENT, id_types=OTHER_DOCUMENT_TYPES, number=text)
    return _invalid(_("This is not an ID number or a personal code."))
