"""Reading what scanners send: tube barcodes, ID numbers, personal QR codes, last 6 + name."""

from __future__ import annotations

import pytest
from django.test import override_settings
from django.utils import translation

from fangkong.people.identity import IdType
from fangkong.screening import codes
from tests.people.conftest import make_id

ID = make_id("19900101", "123")  # 410522199001011231-ish, valid check digit
ID_X = next(
    make_id("19850505", f"{n:03d}")
    for n in range(1000)
    if make_id("19850505", f"{n:03d}")[-1] == "X"
)


@pytest.mark.parametrize(
    "raw",
    [
        "TB0001",
        "tb0001",
        " TB0001 ",
        "TB0001\r\n",
        "TB0001\t",
        "\x02TB0001\x03",
        "]C1TB0001",
        "]c1TB0001\r",
        "*TB0001*",  # Code 39 start/stop shown by some scanners
        "ＴＢ０００１",  # full-width from an input method
        "TB\u200b0001",  # zero-width space
        "\ufeffTB0001",
        "TB 0001",
    ],
)
def test_barcode_noise_is_removed(raw: str) -> None:
    assert codes.clean_barcode(raw) == "TB0001"
    assert codes.normalize_barcode(raw) == "TB0001"


@pytest.mark.parametrize(
    "raw",
    ["", "   ", None, "\r\n", "]C1", "管0001", "TB_0001!", "-TB1", "A" * 33, "x" * 10_000],
)
def test_bad_barcodes_are_refused_with_a_reason(raw: object) -> None:
    with pytest.raises(codes.CodeError) as caught:
        codes.clean_barcode(raw)
    assert str(caught.value)
    assert codes.normalize_barcode(raw) == ""


def test_barcode_keeps_inner_dashes() -> None:
    assert codes.clean_barcode("ay-2022-0001") == "AY-2022-0001"


def test_barcode_fits_the_round_format() -> None:
    assert codes.barcode_fits("AY00000001", "AY", 10) is None
    assert codes.barcode_fits("AY00000001", "", None) is None
    assert "AY" in (codes.barcode_fits("BX00000001", "AY", 10) or "")
    assert "10" in (codes.barcode_fits("AY0000001", "AY", 10) or "")


@pytest.mark.parametrize(
    "raw",
    [
        ID,
        f" {ID} ",
        f"{ID}\r\n",
        f"]Q1{ID}",
        f"]d2{ID}",
        ID[:6] + "-" + ID[6:14] + "-" + ID[14:],
        ID[:6] + " " + ID[6:],
        "".join(chr(ord(c) + 0xFEE0) for c in ID),  # full-width digits
    ],
)
def test_mainland_id_through_scanner_noise(raw: str) -> None:
    code = codes.parse_person_code(raw)
    assert code.kind == codes.DOCUMENT
    assert code.id_types == (IdType.MAINLAND,)
    assert code.number == ID


def test_lower_case_x_is_upper_cased() -> None:
    code = codes.parse_person_code(ID_X.lower())
    assert code.kind == codes.DOCUMENT and code.number == ID_X


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (ID[:17] + str((int(ID[17]) + 1) % 10 if ID[17] != "X" else 0), "check digit"),
        ("410522199013011231", "birth date"),  # month 13
        ("41052219900101123", "18"),  # 17 digits
        ("4105221990010112311", "18"),  # 19 digits
        ("", "Scan"),
        ("   ", "Scan"),
        ("张三", "not an ID"),
        ("http://example.com/x", "not an ID"),
        ("FK1:12:ABCDEF0123456789", "not a valid personal code"),
        ("123456", "name"),  # the last 6 without a name
    ],
)
def test_invalid_person_codes_say_why(raw: str, fragment: str) -> None:
    with translation.override("en"):
        code = codes.parse_person_code(raw)
    assert code.kind == codes.INVALID
    assert fragment in code.error


def test_legacy_and_other_documents() -> None:
    legacy = codes.parse_person_code("410522900101123")
    assert legacy.kind == codes.DOCUMENT and legacy.id_types == (IdType.LEGACY15,)
    passport = codes.parse_person_code("e12345678")
    assert passport.kind == codes.DOCUMENT and passport.number == "E12345678"
    assert IdType.PASSPORT in passport.id_types and IdType.HK_MACAU in passport.id_types
    bad_legacy = codes.parse_person_code("410522901301123")  # month 13
    assert bad_legacy.kind == codes.INVALID


def test_last_six_with_a_name_in_traditional_or_with_spaces() -> None:
    code = codes.parse_person_code("01123X", name=" 張 三 ")
    assert code.kind == codes.TAIL
    assert code.tail_reversed == "X32110"
    assert code.name_key == "张三"
    assert codes.parse_person_code("01123x", name="张三").tail_reversed == "X32110"


def test_qr_payload_round_trip_and_tampering() -> None:
    payload = codes.make_person_qr(42)
    assert payload.startswith("FK1:42:") and len(payload.split(":")[2]) == 16
    assert codes.parse_person_code(payload) == codes.PersonCode(codes.QR, person_id=42)
    # Scanner noise and a lower-casing keyboard wedge.
    assert codes.parse_person_code(f"]Q1{payload.lower()}\r\n").person_id == 42
    assert codes.parse_person_code(payload.replace(":", "：")).person_id == 42
    # Another person's id with this mac, a changed mac, a truncated mac.
    mac = payload.split(":")[2]
    assert codes.parse_person_code(f"FK1:43:{mac}").kind == codes.INVALID
    flipped = mac[:-1] + ("0" if mac[-1] != "0" else "1")
    assert codes.parse_person_code(f"FK1:42:{flipped}").kind == codes.INVALID
    assert codes.parse_person_code(f"FK1:42:{mac[:-1]}").kind == codes.INVALID


def test_qr_depends_on_the_secret_key() -> None:
    payload = codes.make_person_qr(42)
    with override_settings(SECRET_KEY="another-key-" + "x" * 40):
        assert codes.parse_person_qr(payload) is None
        assert codes.make_person_qr(42) != payload


def test_qr_svg_holds_no_identity() -> None:
    class FakePerson:
        pk = 7
        id_number = ID

    svg = codes.person_qr_svg(FakePerson())
    assert svg.startswith("<svg") and "</svg>" in svg
    assert ID not in svg
