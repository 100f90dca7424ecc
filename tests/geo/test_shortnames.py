"""Short display names derived from official NBS names."""

from __future__ import annotations

import pytest

from fangkong.geo.shortnames import short_name, village_short_name


@pytest.mark.parametrize(
    ("official", "short"),
    [
        ("蒋台屯村民委员会", "蒋台屯村"),
        ("东正寺村民委员会", "东正寺村"),
        ("多福巷社区居委会", "多福巷社区"),
        ("银闸社区居民委员会", "银闸社区"),
        ("济河苑社区居民委会", "济河苑社区"),
        ("天鹅湾社区委员会", "天鹅湾社区"),
        ("合阳居民委员会", "合阳社区"),
        ("合阳居委会", "合阳社区"),
        ("高家村委会", "高家村"),
        ("黄石村村委会", "黄石村"),  # the stem already ends in 村: no 村村
        ("韩村村民委员会", "韩村"),
        ("韩春村委员会", "韩春村"),
        ("陶报嘎查村委员会", "陶报嘎查村"),
        ("两家子嘎查委会", "两家子嘎查"),
        ("吉日格楞图嘎查委员会", "吉日格楞图嘎查"),
        ("宋场村委会（宋新场）", "宋场村"),
        ("烧锅村委会（德惠经济开发区）（省级）", "烧锅村"),
        ("厚余社区居委会（含厚余村村委）", "厚余社区"),
        ("舜井道居委会（社区）", "舜井道社区"),
        # kept as they are
        ("多福巷社区", "多福巷社区"),
        ("一连生活区", "一连生活区"),
        ("尾山农场第四管理区", "尾山农场第四管理区"),
        ("兰龙牧委会", "兰龙牧委会"),
        ("爱国家委会", "爱国家委会"),
        ("村委会", "村委会"),  # nothing left of the stem
        ("居民委员会", "居民委员会"),
        ("", ""),
    ],
)
def test_village_short_name(official: str, short: str) -> None:
    assert village_short_name(official) == short


def test_townships_counties_and_up_keep_their_name() -> None:
    assert short_name("高庄镇", 4) == "高庄镇"
    assert short_name("安阳县", 3) == "安阳县"
    assert short_name("市辖区", 2) == "市辖区"
    assert short_name("河南省", 1) == "河南省"
    # The rule is for villages only: a township named like a committee is left alone.
    assert short_name("某某居委会", 4) == "某某居委会"
    assert short_name("蒋台屯村民委员会", 5) == "蒋台屯村"
