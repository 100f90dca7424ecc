"""Matching what people type to regions."""

from __future__ import annotations

from typing import Any

import pytest

from fangkong.accounts.roles import Perm, Role
from fangkong.core.scoping import restrict
from fangkong.geo.divisions import load_divisions
from fangkong.geo.models import Region
from fangkong.geo.names import find_regions, match_region, normalize_query

pytestmark = pytest.mark.django_db


@pytest.fixture
def anyang() -> None:
    load_divisions(["410522", "410523"])


def code_of(region: Region | None) -> str | None:
    return region.code if region is not None else None


@pytest.mark.parametrize(
    "text",
    [
        "蒋台屯村",  # short name
        "蒋台屯村民委员会",  # official name
        "蒋台屯",  # without its suffix
        "蔣台屯村",  # traditional
        "蔣台屯村民委員會",  # traditional official name
        "蔣台屯",
        "  蒋台屯村 ",  # surrounding spaces
        "蒋台屯　村",  # an ideographic space inside
        "410522116215",  # the code
        "４１０５２２１１６２１５",  # the code in full-width digits
    ],
)
def test_ways_of_naming_jiangtaitun(anyang: None, text: str) -> None:
    assert code_of(match_region(text)) == "410522116215"


def test_township_and_county_names(anyang: None) -> None:
    assert code_of(match_region("高庄镇")) == "410522116"
    assert code_of(match_region("伏道镇")) == "410523106"
    assert code_of(match_region("伏道")) == "410523106"
    assert code_of(match_region("汤阴县")) == "410523"
    assert code_of(match_region("湯陰縣")) == "410523"


def test_ambiguous_name_gives_none_and_find_lists_both(anyang: None) -> None:
    # 高庄 is the town 高庄镇 and its village 高庄村 (高庄村民委员会).
    assert match_region("高庄") is None
    found = [r.code for r in find_regions("高庄")]
    assert found[:2] == ["410522116", "410522116200"]
    # A level or a narrower scope settles it.
    assert code_of(match_region("高庄", level=4)) == "410522116"
    assert code_of(match_region("高庄", level=5)) == "410522116200"


def test_exact_name_beats_suffix_guess(anyang: None) -> None:
    # "高庄镇" is exact for the town even though "高庄" alone is ambiguous.
    assert code_of(match_region("高庄镇")) == "410522116"


def test_within_limits_the_scope(anyang: None) -> None:
    assert code_of(match_region("蒋台屯", within="410522116")) == "410522116215"
    assert match_region("蒋台屯", within="410523") is None
    assert find_regions("蒋台屯", within="410523") == []


def test_unknown_and_empty(anyang: None) -> None:
    assert match_region("不存在的村") is None
    assert match_region("") is None
    assert match_region("   ") is None
    assert match_region(None) is None
    assert find_regions("") == []
    assert find_regions("蒋台屯", limit=0) == []


def test_find_regions_contains_and_partial_code(anyang: None) -> None:
    names = [r.short_name for r in find_regions("台屯")]
    assert "蒋台屯村" in names
    assert all("台屯" in name for name in names)
    under = find_regions("4105221162", limit=50)
    assert {r.code[:10] for r in under} == {"4105221162"}
    assert len(find_regions("村", limit=5)) == 5


def test_find_regions_respects_a_user_scope(anyang: None, make_user: Any) -> None:
    cadre = make_user(role=Role.VILLAGE_CADRE, region="410522116215")
    scoped = restrict(Region.objects.all(), cadre, Perm.VIEW_REGIONS)
    assert [r.code for r in find_regions("屯", queryset=scoped)] == ["410522116215"]
    assert match_region("东正寺", queryset=scoped) is None
    assert code_of(match_region("东正寺")) == "410522116220"


def test_normalize_query() -> None:
    assert normalize_query(" 蔣 台 屯 ") == "蒋台屯"
    assert normalize_query("ＡＢＣ１２３") == "ABC123"
    assert normalize_query("a\x00b") == "ab"
    assert len(normalize_query("村" * 500)) == 100


def test_lots_of_odd_input_never_raises(anyang: None) -> None:
    for text in [
        "%",
        "_",
        "'; DROP TABLE geo_region; --",
        "\\",
        "🙂",
        "\x00",
        "村" * 1000,
        "0" * 40,
    ]:
        assert match_region(text) is None or isinstance(match_region(text), Region)
        find_regions(text)
