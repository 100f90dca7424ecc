"""Fixtures shared by every app's tests: a small region tree, users per role, clients."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from fangkong.accounts.models import RoleAssignment, User
from fangkong.geo.models import Region

# (code, official name, short name): a slice of the real NBS tree around the seed's places.
REGION_ROWS = [
    ("41", "河南省", "河南省"),
    ("4105", "安阳市", "安阳市"),
    ("410522", "安阳县", "安阳县"),
    ("410522116", "高庄镇", "高庄镇"),
    ("410522116215", "蒋台屯村民委员会", "蒋台屯村"),
    ("410522116216", "遵贵屯村民委员会", "遵贵屯村"),
    ("410522116219", "伯台村民委员会", "伯台村"),
    ("410522116220", "东正寺村民委员会", "东正寺村"),
    ("410523", "汤阴县", "汤阴县"),
    ("410523106", "伏道镇", "伏道镇"),
    ("410523106201", "伏道二街村民委员会", "伏道二街村"),
    ("410523106202", "侯庄村民委员会", "侯庄村"),
]

# Region codes tests refer to by name.
HENAN = "41"
ANYANG_COUNTY = "410522"
GAOZHUANG = "410522116"
JIANGTAITUN = "410522116215"
DONGZHENGSI = "410522116220"
TANGYIN_COUNTY = "410523"
FUDAO = "410523106"
FUDAO_ERJIE = "410523106201"


@pytest.fixture
def regions(db: Any) -> dict[str, Region]:
    from fangkong.core.regioncodes import level_of, parent_code

    made: dict[str, Region] = {}
    for code, name, short in REGION_ROWS:
        parent = parent_code(code)
        made[code] = Region.objects.create(
            code=code,
            name=name,
            short_name=short,
            level=int(level_of(code)),
            parent_id=parent,
        )
    return made


UserFactory = Callable[..., User]


@pytest.fixture
def make_user(db: Any) -> UserFactory:
    """make_user("name", role="village_cadre", region=JIANGTAITUN) → an active user."""
    counter = {"n": 0}

    def factory(
        username: str | None = None,
        *,
        role: str | None = None,
        region: str = "",
        password: str = "test-pass-123",  # noqa: S107
        **fields: Any,
    ) -> User:
        counter["n"] += 1
        name = username or f"user{counter['n']}"
        user = User.objects.create_user(
            username=name, password=password, region_code=region, **fields
        )
        if role:
            RoleAssignment.objects.create(user=user, role=role, region_code=region)
        return user

    return factory


@pytest.fixture
def client_for() -> Callable[[User | None], Client]:
    """A test client logged in as the user (anonymous for None)."""

    def factory(user: User | None) -> Client:
        client = Client()
        if user is not None:
            client.force_login(user)
        return client

    return factory
