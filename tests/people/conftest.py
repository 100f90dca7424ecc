"""People fixtures: 张三 of 蒋台屯村 (with a mainland ID and phone) and a few neighbours."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from stdnum.cn import ric

from fangkong.people import actions
from fangkong.people.models import Person
from tests.conftest import DONGZHENGSI, JIANGTAITUN


def make_id(birth: str = "19900101", seq: str = "123", area: str = "410522") -> str:
    body = area + birth + seq
    # calc_check_digit expects the full 18 characters (its last one is ignored).
    return body + ric.calc_check_digit(body + "0")


ZHANG_ID = make_id("19900101", "123")  # male (odd sequence)
ZHANG_PHONE = "13812345678"


@pytest.fixture
def zhang(regions: Any) -> Person:
    return actions.create_person(
        actor=None,
        name="张三",
        id_type="mainland",
        id_number=ZHANG_ID,
        phone=ZHANG_PHONE,
        address="蒋台屯村三街12号院",
        region_code=JIANGTAITUN,
    )


@pytest.fixture
def li(regions: Any) -> Person:
    """李四 of 东正寺村."""
    return actions.create_person(
        actor=None,
        name="李四",
        id_type="mainland",
        id_number=make_id("19520315", "246"),
        phone="13998765432",
        address="东正寺村前街5号",
        region_code=DONGZHENGSI,
        birth_date=dt.date(1952, 3, 15),
    )
