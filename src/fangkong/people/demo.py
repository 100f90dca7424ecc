"""The demo's synthetic population: households of 高庄镇 and a few 伏道镇 villages.

Everyone here is generated (names from common characters, valid mainland IDs with the local
address codes 410522 / 410523 and a correct check digit); no real person named in the seed
report appears. A village that already has people is left alone, so a second run adds
nothing.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from stdnum.cn import ric

from fangkong.people import actions
from fangkong.people.models import Person

GAOZHUANG = "410522116"
FUDAO = "410523106"
# The seed's four villages get a few hundred people each; the others a few dozen.
WELL_POPULATED = {
    "410522116215": 300,  # 蒋台屯村
    "410522116220": 260,  # 东正寺村
    "410522116216": 220,  # 遵贵屯村
    "410522116219": 200,  # 伯台村
}
OTHER_VILLAGE_PEOPLE = 24
FUDAO_VILLAGES = 3
FUDAO_VILLAGE_PEOPLE = 60

# Real people named in the seed report: never generated.
FORBIDDEN_NAMES = {"周春堂", "吴家清", "赵鹏", "唐春艳"}
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董程曹袁邓许傅沈曾彭吕蒋苏魏"
MALE_GIVEN = "伟强磊军勇杰涛明超刚建国志兵鹏辉东海波斌宇浩凯健俊峰亮成林华振"
FEMALE_GIVEN = "芳娜秀英敏静丽艳娟霞兰桂玉红燕萍玲雪梅琳婷慧洁晶倩颖瑶欣"
STREETS = ["前街", "后街", "东街", "西街", "南街", "北街", "中心街", "新村路"]
ORIGINS = [  # (origin, risk level in January 2022)
    ("天津市津南区", "high"),
    ("西安市雁塔区", "high"),
    ("郑州市金水区", "medium"),
    ("北京市海淀区", "low"),
    ("上海市浦东新区", "low"),
    ("深圳市宝安区", "medium"),
    ("广州市白云区", "low"),
    ("杭州市余杭区", "low"),
    ("许昌市禹州市", "high"),
]
TRANSPORT = ["自驾", "高铁", "长途客车", "火车", "飞机转高铁"]


def _name(rng: random.Random, surname: str, sex: str) -> str:
    pool = MALE_GIVEN if sex == "M" else FEMALE_GIVEN
    while True:
        name = surname + "".join(rng.choice(pool) for _ in range(rng.choice((1, 2, 2))))
        if name not in FORBIDDEN_NAMES:
            return name


def _birth(rng: random.Random, low: int, high: int) -> dt.date:
    today = dt.date(2022, 1, 15)
    days = rng.randint(low * 365 + 1, high * 365 + 300)
    return today - dt.timedelta(days=days)


def _mainland_id(rng: random.Random, area: str, birth: dt.date, sex: str, used: set[str]) -> str:
    while True:
        seq = rng.randrange(0, 1000)
        if (seq % 2 == 1) != (sex == "M"):
            seq = (seq + 1) % 1000
        body = f"{area}{birth:%Y%m%d}{seq:03d}"
        # calc_check_digit reads the first 17 characters of an 18-character number.
        number = body + ric.calc_check_digit(body + "0")
        if number not in used:
            used.add(number)
            return number


def _phone(rng: random.Random) -> str:
    return rng.choice(["13", "15", "18", "17", "19"]) + f"{rng.randrange(10**9):09d}"


def _household_plan(rng: random.Random) -> list[tuple[str, int, int]]:
    """Members as (role, youngest age, oldest age); the first is the head."""
    roll = rng.random()
    if roll < 0.12:  # an old person living alone
        return [("head", 70, 92)]
    if roll < 0.25:  # an old couple
        return [("head", 62, 85), ("spouse", 60, 83)]
    plan = [("head", 30, 58), ("spouse", 28, 56)]
    plan += [("child", 0, 17)] * rng.choice((0, 1, 1, 2, 2, 3))
    if rng.random() < 0.4:
        plan.append(("elder", 65, 90))
    return plan


def _populate_village(ctx: Any, code: str, target: int, used: set[str]) -> dict[str, int]:
    rng: random.Random = ctx.rng
    area = code[:6]
    village_name = code
    from fangkong.geo.models import Region

    region = Region.objects.filter(code=code).first()
    if region is not None:
        village_name = region.short_name
    made = {"people": 0, "returnees": 0, "tags": 0, "households": 0}
    door = 0
    while made["people"] < target:
        door += 1
        surname = rng.choice(SURNAMES)
        address = f"{village_name}{rng.choice(STREETS)}{door}号"
        household = None
        plan = _household_plan(rng)
        for role, low, high in plan:
            sex = (
                rng.choice("MF")
                if role in ("child", "elder")
                else ("M" if role == "head" and rng.random() < 0.85 else "F")
            )
            if role == "spouse":
                sex = "F"
            family = surname if role in ("head", "child") else rng.choice(SURNAMES)
            birth = _birth(rng, low, high)
            age = (dt.date(2022, 1, 15) - birth).days // 365
            values: dict[str, Any] = {
                "name": _name(rng, family, sex),
                "region_code": code,
                "address": address,
                "residence_status": rng.choices(
                    ["resident", "temporary", "away"], weights=[90, 4, 6]
                )[0],
            }
            if age < 1 or rng.random() < 0.01:
                values.update(id_type="none", sex=sex, birth_date=birth)
            elif rng.random() < 0.01:
                values.update(
                    id_type="passport",
                    id_number=f"E{rng.randrange(10**8):08d}",
                    sex=sex,
                    birth_date=birth,
                )
            else:
                values.update(id_number=_mainland_id(rng, area, birth, sex, used))
            if age >= 14 or role != "child":
                values["phone"] = _phone(rng)
            try:
                person = actions.create_person(actor=None, household=household, **values)
            except actions.DuplicatePerson:
                continue
            made["people"] += 1
            if household is None:
                household = actions.create_household(actor=None, head=person)
                made["households"] += 1
            made["tags"] += _tag(rng, person, age, sex, alone=len(plan) == 1)
            if 16 <= age <= 55 and rng.random() < 0.05:
                origin, risk = rng.choice(ORIGINS)
                actions.add_returnee(
                    actor=None,
                    person=person,
                    origin=origin,
                    arrival_date=dt.date(2022, 1, rng.randint(1, 20)),
                    transport=rng.choice(TRANSPORT),
                    origin_risk=risk,
                )
                made["returnees"] += 1
                if risk in ("high", "medium"):
                    actions.tag_persons(actor=None, persons=[person], group="risk_area")
                    made["tags"] += 1
    return made


def _tag(rng: random.Random, person: Person, age: int, sex: str, alone: bool) -> int:
    groups = []
    if alone:
        groups.append("elderly_alone")
    if age >= 65 and rng.random() < 0.04:
        groups.append("bedridden")
    if age >= 50 and rng.random() < 0.10:
        groups.append("chronic")
    if sex == "F" and 22 <= age <= 38 and rng.random() < 0.06:
        groups.append("pregnant")
    if age <= 6:
        groups.append("child")
    if rng.random() < 0.01:
        groups.append("disabled")
    for group in groups:
        actions.tag_persons(actor=None, persons=[person], group=group)
    return len(groups)


def demo_villages() -> list[tuple[str, int]]:
    """(village code, people wanted): every village of 高庄镇 and a few of 伏道镇."""
    from fangkong.geo.models import Region

    villages = list(
        Region.objects.filter(parent_id=GAOZHUANG, level=5)
        .order_by("code")
        .values_list("code", flat=True)
    )
    wanted = [(c, WELL_POPULATED.get(c, OTHER_VILLAGE_PEOPLE)) for c in villages]
    fudao = (
        Region.objects.filter(parent_id=FUDAO, level=5)
        .order_by("code")
        .values_list("code", flat=True)[:FUDAO_VILLAGES]
    )
    wanted += [(c, FUDAO_VILLAGE_PEOPLE) for c in fudao]
    return wanted


def populate(ctx: Any) -> None:
    """Make the synthetic population; villages that already have people are kept."""
    used = set(Person.objects.exclude(id_number="").values_list("id_number", flat=True))
    totals = {"people": 0, "returnees": 0, "tags": 0, "households": 0}
    kept = 0
    for code, target in demo_villages():
        if Person.objects.filter(region_code=code).exists():
            kept += 1
            continue
        for key, value in _populate_village(ctx, code, target, used).items():
            totals[key] += value
    ctx.say(
        "people: {people} new in {households} households, {returnees} returnees, "
        "{tags} key-group tags; {kept} villages kept".format(kept=kept, **totals)
    )
