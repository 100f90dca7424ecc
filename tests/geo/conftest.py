"""Fixtures of the geo tests: a few sites in the conftest region slice."""

from __future__ import annotations

from typing import Any

import pytest

from fangkong.geo import actions
from fangkong.geo.models import Site
from tests.conftest import DONGZHENGSI, FUDAO, JIANGTAITUN


@pytest.fixture
def sites(regions: Any) -> dict[str, Site]:
    """One site in 蒋台屯村, one in 东正寺村, one in 伏道镇 (created by the system)."""
    return {
        "jiangtaitun": actions.create_site(
            actor=None,
            name="蒋台屯村东卡点",
            kind="checkpoint",
            region_code=JIANGTAITUN,
            address="蒋台屯村东口",
            contact_phone="13800138000",
        ),
        "dongzhengsi": actions.create_site(
            actor=None, name="东正寺村核酸采样点", kind="testing_site", region_code=DONGZHENGSI
        ),
        "fudao": actions.create_site(
            actor=None, name="伏道镇物资库", kind="warehouse", region_code=FUDAO
        ),
    }
