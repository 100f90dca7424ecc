"""Vehicle plates: ordinary, suffixed, new-energy (small and large), and what is refused."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from fangkong.supplies.plates import clean_plate, display_plate


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("豫E12345", "豫E12345"),
        ("豫E·12345", "豫E12345"),  # the dot painted on the plate
        ("豫e 12345", "豫E12345"),  # lower case and a space
        ("豫Ｅ１２３４５", "豫E12345"),  # full width
        (" 豫E-A1B23 ", "豫EA1B23"),
        ("豫E1234挂", "豫E1234挂"),  # trailer
        ("豫E1234学", "豫E1234学"),  # driving school
        ("豫A1234警", "豫A1234警"),  # police
        ("豫ED12345", "豫ED12345"),  # small new-energy, pure electric
        ("豫EF12345", "豫EF12345"),  # small new-energy, hybrid
        ("豫EDA1234", "豫EDA1234"),  # small new-energy: letter in 2nd serial position
        ("豫EA12345", "豫EA12345"),  # 2021 extension: A for pure electric
        ("豫E12345D", "豫E12345D"),  # large new-energy
        ("豫E12345F", "豫E12345F"),
        ("京A·F0236", "京AF0236"),
    ],
)
def test_valid_plates(typed: str, stored: str) -> None:
    assert clean_plate(typed) == stored


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "   ",
        "E12345",  # no province
        "港E12345",  # not a mainland province abbreviation
        "豫I12345",  # I is never used
        "豫EO1234",  # O is never used
        "豫E1234I",
        "豫E1234",  # too short
        "豫E1234567",  # too long
        "豫E12345X",  # large new-energy only ends in D or F
        "豫ED1234A",  # small new-energy: the last four are digits
        "豫EL12345",  # L is not a new-energy letter (and 6 characters is too long otherwise)
        "豫E123挂4",  # suffix only at the end
        "豫E12345挂",  # suffix replaces the fifth character
        "=HYPERLINK(1)",
        "豫E1234\x00",
    ],
)
def test_invalid_plates(typed: str) -> None:
    with pytest.raises(ValidationError) as caught:
        clean_plate(typed)
    assert "vehicle_plate" in caught.value.message_dict


def test_io_message_is_specific() -> None:
    with pytest.raises(ValidationError) as caught:
        clean_plate("豫EO1234", field=None)
    assert "I" in caught.value.messages[0] and "O" in caught.value.messages[0]


def test_display() -> None:
    assert display_plate("豫E12345") == "豫E·12345"
    assert display_plate("豫ED12345") == "豫E·D12345"
