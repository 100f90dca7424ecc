"""Shared input cleaners: full-width digits, spaces, control characters, phones, codes."""

from __future__ import annotations

import contextlib

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from fangkong.core.cleaning import clean_phone, clean_region_code_format, clean_text


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("13812345678", "13812345678"),
        ("138 1234 5678", "13812345678"),
        ("１３８１２３４５６７８", "13812345678"),
        ("138-1234-5678", "13812345678"),
        ("0372-5512345", "0372-5512345"),
        ("(0372) 5512345", "0372-5512345"),
        ("+86 138 1234 5678", "13812345678"),
        ("+852 9123 4567", "+852 9123 4567"),
        ("", ""),
        (None, ""),
    ],
)
def test_phones_are_canonical(raw, expected) -> None:
    assert clean_phone(raw) == expected


@pytest.mark.parametrize("raw", ["12345", "1381234567x", "电话", "10086100861008610086"])
def test_bad_phones_name_the_field(raw) -> None:
    with pytest.raises(ValidationError) as caught:
        clean_phone(raw, "phone")
    assert "phone" in caught.value.message_dict


def test_text_is_folded_trimmed_and_bounded() -> None:
    assert clean_text("  蒋台屯村\u3000东口  ", max_length=20) == "蒋台屯村 东口"
    assert clean_text("ＡＢＣ１２３", max_length=10) == "ABC123"
    assert clean_text("第一行 \n  第二行", max_length=20, multiline=True) == "第一行\n第二行"
    with pytest.raises(ValidationError):
        clean_text("x" * 11, max_length=10)
    with pytest.raises(ValidationError):
        clean_text("a\x00b", max_length=10)
    with pytest.raises(ValidationError):
        clean_text("", max_length=10, required=True)
    with pytest.raises(ValidationError):
        clean_text(12, max_length=10)


def test_region_codes() -> None:
    assert clean_region_code_format(" ４１０５２２ ") == "410522"
    assert clean_region_code_format("410522116215") == "410522116215"
    for bad in ("41052", "4105221162151", "abc", "", "४१०५२२"):
        with pytest.raises(ValidationError):
            clean_region_code_format(bad, "region_code")


@given(st.text(max_size=80))
def test_cleaners_raise_only_validation_errors(text: str) -> None:
    for cleaner in (
        lambda v: clean_phone(v, "phone"),
        lambda v: clean_text(v, max_length=40, field="name"),
        lambda v: clean_region_code_format(v, "region_code"),
    ):
        with contextlib.suppress(ValidationError):
            cleaner(text)
