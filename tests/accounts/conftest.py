"""Users the accounts tests share: HQ of each county, a cadre, a superuser."""

from __future__ import annotations

from typing import Any

import pytest

from fangkong.accounts.models import User
from fangkong.accounts.roles import Role
from tests.conftest import ANYANG_COUNTY, JIANGTAITUN, TANGYIN_COUNTY

GOOD_PASSWORD = "Xq7-fangkong-2022"


@pytest.fixture
def hq_anyang(regions: Any, make_user: Any) -> User:
    return make_user("hq_anyang", role=Role.HQ_COMMANDER, region=ANYANG_COUNTY)


@pytest.fixture
def hq_tangyin(regions: Any, make_user: Any) -> User:
    return make_user("hq_tangyin", role=Role.HQ_COMMANDER, region=TANGYIN_COUNTY)


@pytest.fixture
def cadre(regions: Any, make_user: Any) -> User:
    """A village cadre of 蒋台屯村 (安阳县): managed by hq_anyang, invisible to hq_tangyin."""
    return make_user(
        "cadre_jiang", role=Role.VILLAGE_CADRE, region=JIANGTAITUN, display_name="蒋台屯张三"
    )
