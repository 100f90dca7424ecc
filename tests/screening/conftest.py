"""Screening fixtures: a round over 高庄镇 in sampling, two testing sites, twelve villagers.

``gz`` holds everything: 蒋台屯村 has ten residents (one bedridden, one aged 85), 东正寺村
two; 伏道二街村 (another county) has one person who is outside the round's area.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.utils import timezone

from fangkong.geo.models import Site
from fangkong.people import actions as people_actions
from fangkong.people.models import Person
from fangkong.screening.actions.rounds import ZoneInput, create_round, start_sampling
from fangkong.screening.models import Round
from tests.conftest import DONGZHENGSI, FUDAO_ERJIE, GAOZHUANG, JIANGTAITUN
from tests.people.conftest import make_id


@dataclass
class Gaozhuang:
    round: Round  # 第9轮全员核酸, sampling, 10 per tube, 蒋台屯村 zone 10, 东正寺村 zone 1
    site: Site  # 蒋台屯村核酸采样点 (JIANGTAITUN)
    other_site: Site  # 东正寺村核酸采样点 (DONGZHENGSI)
    jiangtaitun: list[Person]  # ten people; [0] bedridden, [1] aged 85
    dongzhengsi: list[Person]  # two people
    outsider: Person  # of 伏道二街村, outside the round's area
    extra: dict[str, Any] = field(default_factory=dict)


def person(name: str, region: str, birth: str, seq: str, **values: Any) -> Person:
    area = region[:6]
    return people_actions.create_person(
        actor=None,
        name=name,
        id_type="mainland",
        id_number=make_id(birth, seq, area),
        phone=f"139{int(seq):08d}",
        address=f"{name}家",
        region_code=region,
        **values,
    )


JIANGTAITUN_NAMES = [
    "王秀英",
    "李桂兰",
    "张伟",
    "刘洋",
    "陈静",
    "杨磊",
    "赵敏",
    "黄强",
    "周杰",
    "吴芳",
]


@pytest.fixture
def gz(regions: Any) -> Gaozhuang:
    site = Site.objects.create(
        name="蒋台屯村核酸采样点", kind="testing_site", region_code=JIANGTAITUN
    )
    other = Site.objects.create(
        name="东正寺村核酸采样点", kind="testing_site", region_code=DONGZHENGSI
    )
    births = ["19500101", "19400202", *[f"19{80 + i}0303" for i in range(8)]]
    jiangtaitun = [
        person(name, JIANGTAITUN, births[i], f"{100 + 2 * i:03d}")
        for i, name in enumerate(JIANGTAITUN_NAMES)
    ]
    people_actions.tag_persons(actor=None, persons=[jiangtaitun[0]], group="bedridden")
    dongzhengsi = [
        person("孙丽", DONGZHENGSI, "19770505", "301"),
        person("马超", DONGZHENGSI, "19880606", "303"),
    ]
    outsider = person("郑爽", FUDAO_ERJIE, "19950707", "501")
    now = timezone.now()
    round_ = create_round(
        actor=None,
        name="第9轮全员核酸",
        starts_at=now - dt.timedelta(hours=1),
        ends_at=now + dt.timedelta(hours=4),
        zones=[
            ZoneInput(JIANGTAITUN, 10),
            ZoneInput(DONGZHENGSI, 1, "封控区"),
            ZoneInput(GAOZHUANG, 10),
        ],
    )
    round_ = start_sampling(actor=None, round_=round_)
    return Gaozhuang(round_, site, other, jiangtaitun, dongzhengsi, outsider)
