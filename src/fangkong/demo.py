"""The demo: the seed's places around Anyang, January 2022, with synthetic people.

Places and quantities come from the seed report (安阳市社科联 sends cadres to 高庄镇 of
安阳县 and 伏道镇 of 汤阴县); every person here is generated, so no real person named in the
report gets made-up records. Running it twice reuses what the first run made.
Later apps add their part by appending a step to ``STEPS``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import transaction

from fangkong.accounts.roles import Role

DEMO_PASSWORD = "fangkong-demo"  # noqa: S105  (the demo's published password, see README)
DEMO_COUNTIES = ["410522", "410523"]  # 安阳县, 汤阴县

GAOZHUANG = "410522116"
JIANGTAITUN = "410522116215"
DONGZHENGSI = "410522116220"
ZUNGUITUN = "410522116216"
BOTAI = "410522116219"
FUDAO = "410523106"
FUDAO_ERJIE = "410523106201"
ANYANG_CITY = "4105"
ANYANG_COUNTY = "410522"
TANGYIN_COUNTY = "410523"

OFFICE_NAME = "安阳市社科联"


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    region_code: str
    what: str  # shown in the printout and README
    office_staff: bool = False


LOGINS = [
    DemoLogin("hq_anyang", Role.HQ_COMMANDER, ANYANG_COUNTY, "安阳县指挥部"),
    DemoLogin("hq_tangyin", Role.HQ_COMMANDER, TANGYIN_COUNTY, "汤阴县指挥部"),
    DemoLogin("gaozhuang", Role.TOWNSHIP_OFFICER, GAOZHUANG, "高庄镇干部"),
    DemoLogin("fudao", Role.TOWNSHIP_OFFICER, FUDAO, "伏道镇干部"),
    DemoLogin("jiangtaitun", Role.VILLAGE_CADRE, JIANGTAITUN, "蒋台屯村下沉干部", True),
    DemoLogin("dongzhengsi", Role.VILLAGE_CADRE, DONGZHENGSI, "东正寺村村干部"),
    DemoLogin("erjie", Role.VILLAGE_CADRE, FUDAO_ERJIE, "伏道二街村村干部"),
    DemoLogin("depot", Role.WAREHOUSE_KEEPER, FUDAO, "伏道镇物资库仓管员", True),
    DemoLogin("sampler", Role.SAMPLER, ZUNGUITUN, "遵贵屯村采样点扫码员"),
    DemoLogin("inspector", Role.INSPECTOR, GAOZHUANG, "高庄镇督导", True),
    DemoLogin("unitadmin", Role.UNIT_ADMIN, ANYANG_CITY, "安阳市社科联单位管理员", True),
    DemoLogin("auditor", Role.AUDITOR, ANYANG_COUNTY, "安阳县审计"),
]

# The office has 8 staff (seed): four hold the logins above, four more are listed here.
EXTRA_OFFICE_STAFF = [
    ("skl_staff1", Role.VILLAGE_CADRE, DONGZHENGSI),
    ("skl_staff2", Role.VILLAGE_CADRE, ZUNGUITUN),
    ("skl_staff3", Role.VILLAGE_CADRE, BOTAI),
    ("skl_duty", Role.UNIT_ADMIN, ANYANG_CITY),
]

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂英华建国志红玉兵鹏辉晓东海燕"


def synthetic_name(rng: random.Random) -> str:
    given = "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
    return rng.choice(SURNAMES) + given


@dataclass
class DemoContext:
    rng: random.Random
    say: Callable[[str], None]
    users: dict[str, object] = field(default_factory=dict)


def load_regions(ctx: DemoContext) -> None:
    from fangkong.geo.divisions import load_divisions

    result = load_divisions(DEMO_COUNTIES)
    ctx.say(f"regions 安阳县, 汤阴县: {result}")


SITES = [
    # (name, kind, region code, address)
    ("高庄镇疫情防控指挥部", "office", GAOZHUANG, "高庄镇政府院内"),
    ("伏道镇疫情防控指挥部", "office", FUDAO, "伏道镇政府院内"),
    (OFFICE_NAME, "office", ANYANG_CITY, "安阳市"),
    ("伏道镇防疫物资库", "warehouse", FUDAO, "伏道镇政府西侧仓库"),
    ("蒋台屯村核酸采样点", "testing_site", JIANGTAITUN, "蒋台屯村村委会广场"),
    ("东正寺村核酸采样点", "testing_site", DONGZHENGSI, "东正寺村小学操场"),
    ("遵贵屯村核酸采样点", "testing_site", ZUNGUITUN, "遵贵屯村文化广场"),
    ("伯台村核酸采样点", "testing_site", BOTAI, "伯台村村委会"),
    ("蒋台屯村东口卡点", "checkpoint", JIANGTAITUN, "蒋台屯村东出口"),
    ("蒋台屯村西口卡点", "checkpoint", JIANGTAITUN, "蒋台屯村西出口"),
    ("东正寺村南口卡点", "checkpoint", DONGZHENGSI, "东正寺村南出口"),
    ("遵贵屯村北口卡点", "checkpoint", ZUNGUITUN, "遵贵屯村北出口"),
    ("伯台村东口卡点", "checkpoint", BOTAI, "伯台村东出口"),
    ("高庄镇工业园区卡点", "checkpoint", GAOZHUANG, "高庄镇工业园区入口"),
    ("安阳县集中隔离点", "isolation_site", ANYANG_COUNTY, "安阳县城郊"),
]


def make_sites(ctx: DemoContext) -> None:
    from fangkong.geo.actions import create_site
    from fangkong.geo.models import Site

    made = 0
    for name, kind, code, address in SITES:
        if Site.objects.filter(region_code=code, name=name).exists():
            continue
        create_site(actor=None, name=name, kind=kind, region_code=code, address=address)
        made += 1
    ctx.say(f"sites: {made} new, {len(SITES) - made} kept")


def make_users(ctx: DemoContext) -> None:
    from fangkong.accounts.actions import create_user
    from fangkong.accounts.models import User

    made = 0
    wanted = [(x.username, x.role, x.region_code, x.office_staff) for x in LOGINS]
    wanted += [(name, role, code, True) for name, role, code in EXTRA_OFFICE_STAFF]
    for username, role, code, office in wanted:
        existing = User.objects.filter(username=username).first()
        if existing is not None:
            ctx.users[username] = existing
            continue
        ctx.users[username] = create_user(
            actor=None,
            username=username,
            password=DEMO_PASSWORD,
            region_code=code,
            display_name=synthetic_name(ctx.rng),
            organization=OFFICE_NAME if office else "",
            roles=[(role, code)],
        )
        made += 1
    ctx.say(f"users: {made} new, {len(wanted) - made} kept")


def make_people(ctx: DemoContext) -> None:
    from fangkong.people.demo import populate

    populate(ctx)


def make_supplies(ctx: DemoContext) -> None:
    from fangkong.supplies.demo import populate

    populate(ctx)


def make_screening(ctx: DemoContext) -> None:
    from fangkong.screening.demo import populate

    populate(ctx)


STEPS: list[Callable[[DemoContext], None]] = [
    load_regions,
    make_sites,
    make_users,
    make_people,
    make_supplies,
    make_screening,
]


def build_demo(say: Callable[[str], None] = print, seed: int = 20220121) -> DemoContext:
    ctx = DemoContext(rng=random.Random(seed), say=say)
    for step in STEPS:
        with transaction.atomic():
            step(ctx)
    return ctx


def logins_table() -> str:
    lines = [f"  {'login':<12} {'password':<14} role / scope"]
    for login in LOGINS:
        lines.append(
            f"  {login.username:<12} {DEMO_PASSWORD:<14} {login.what} ({login.region_code})"
        )
    return "\n".join(lines)
