"""Demo mass testing: 第9轮全员核酸 over 高庄镇, in progress.

Four testing sites sample the township's synthetic population through the same scan the
station page uses: 蒋台屯村 and 东正寺村 have finished, 遵贵屯村 (a sealed zone, 1 per tube)
and 伯台村 (one tube per household) lag behind, the other villages sit in between. The
finished villages' tubes went to the lab in boxes; their results are in, all negative
except one pooled tube of 东正寺村 (混管阳性) whose members are being traced.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.utils import timezone

from fangkong.demo import DemoContext

GAOZHUANG = "410522116"
JIANGTAITUN = "410522116215"
ZUNGUITUN = "410522116216"
BOTAI = "410522116219"
DONGZHENGSI = "410522116220"
ROUND_NAME = "第9轮全员核酸"
LAB = "安阳县疾控中心实验室"
BARCODE_PREFIX = "AY"
BARCODE_LENGTH = 12

# Share of each village's target population sampled so far; other villages get
# OTHER_SHARES in turn (two of them lag).
SHARES = {JIANGTAITUN: 1.0, DONGZHENGSI: 1.0, ZUNGUITUN: 0.42, BOTAI: 0.55}
OTHER_SHARES = [0.96, 0.88, 0.93, 0.35, 0.81, 0.97, 0.9, 0.28, 0.86]
# (site name, the demo login that scans there)
SITE_SCANNERS = {
    "蒋台屯村核酸采样点": "jiangtaitun",
    "东正寺村核酸采样点": "dongzhengsi",
    "遵贵屯村核酸采样点": "sampler",
    "伯台村核酸采样点": "skl_staff3",
}
SITE_OF_VILLAGE = {
    JIANGTAITUN: "蒋台屯村核酸采样点",
    DONGZHENGSI: "东正寺村核酸采样点",
    ZUNGUITUN: "遵贵屯村核酸采样点",
    BOTAI: "伯台村核酸采样点",
}
FINISHED = (JIANGTAITUN, DONGZHENGSI)


def populate(ctx: DemoContext) -> None:
    from fangkong.screening.models import Round

    if Round.objects.filter(name=ROUND_NAME).exists():
        ctx.say("screening: kept")
        return
    now = timezone.now()
    round_ = _round(ctx, now)
    sites = _sites()
    tubes = _sample(ctx, round_, sites, now)
    _walk_in_and_visitor(ctx, round_, sites)
    _spread_over_the_morning(round_, now)
    boxes = _ship(ctx, round_, sites, tubes, now)
    positive = _results(ctx, tubes, now)
    _trace(ctx, positive)
    round_.refresh_from_db()
    ctx.say(
        f"screening: {ROUND_NAME} over 高庄镇, {round_.target_count} to sample, "
        f"{sum(len(t) for t in tubes.values())} tubes at {len(sites)} sites, "
        f"{boxes} boxes handed to the lab, one pool positive in 东正寺村 ({positive})"
    )


def _round(ctx: DemoContext, now: dt.datetime) -> Any:
    from fangkong.screening.actions.rounds import ZoneInput, create_round, start_sampling

    township = ctx.users.get("gaozhuang")
    local = timezone.localtime(now)
    # The seed's rounds ran 07:00-12:00; the demo's runs around "now" so it is live.
    starts = local - dt.timedelta(hours=3)
    round_ = create_round(
        actor=township,
        name=ROUND_NAME,
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=5),
        zones=[
            ZoneInput(GAOZHUANG, 10, "防范区"),
            ZoneInput(ZUNGUITUN, 1, "封控区"),
            ZoneInput(BOTAI, 0, "管控区"),
        ],
        default_pool_size=10,
        barcode_prefix=BARCODE_PREFIX,
        barcode_length=BARCODE_LENGTH,
        notes="全员核酸检测，采样时间 07:00-12:00；封控区单采，管控区一户一管，防范区10混1。",
    )
    return start_sampling(actor=township, round_=round_)


def _sites() -> dict[str, Any]:
    from fangkong.geo.models import Site

    return {site.name: site for site in Site.objects.filter(name__in=SITE_SCANNERS)}


def _people_to_sample(round_: Any) -> dict[str, list[Any]]:
    """Per site, the people sampled there so far, households kept together."""
    from fangkong.people.models import Person
    from fangkong.screening.models import RoundTarget

    by_village: dict[str, list[int]] = defaultdict(list)
    for person_id, code in (
        RoundTarget.objects.filter(round=round_)
        .order_by("region_code", "person_id")
        .values_list("person_id", "region_code")
    ):
        by_village[code].append(person_id)
    wanted: list[int] = []
    others = 0
    site_of: dict[int, str] = {}
    spare_sites = ["蒋台屯村核酸采样点", "东正寺村核酸采样点"]
    for code in sorted(by_village):
        ids = by_village[code]
        if code in SHARES:
            share = SHARES[code]
            site = SITE_OF_VILLAGE[code]
        else:
            share = OTHER_SHARES[others % len(OTHER_SHARES)]
            site = spare_sites[others % 2]
            others += 1
        chosen = ids[: round(len(ids) * share)]
        wanted.extend(chosen)
        site_of.update(dict.fromkeys(chosen, site))
    people = Person.objects.filter(pk__in=wanted).exclude(id_number="")
    per_site: dict[str, list[Any]] = defaultdict(list)
    for person in people.order_by("household_id", "id"):
        per_site[site_of[person.pk]].append(person)
    return per_site


def _sample(
    ctx: DemoContext, round_: Any, sites: dict[str, Any], now: dt.datetime
) -> dict[str, list[Any]]:
    from fangkong.screening.actions.sampling import close_tube, open_tube
    from fangkong.screening.actions.scan import scan
    from fangkong.screening.models import Tube, TubeStatus

    counter = 0
    tubes: dict[str, list[Any]] = defaultdict(list)
    for site_name, people in _people_to_sample(round_).items():
        site = sites[site_name]
        actor = ctx.users.get(SITE_SCANNERS[site_name])
        tube = None
        for person in people:
            for _attempt in range(2):
                if tube is None:
                    counter += 1
                    barcode = f"{BARCODE_PREFIX}{2201210000 + counter:010d}"
                    tube = open_tube(actor=actor, round_=round_, site=site, barcode=barcode)
                    tubes[site_name].append(tube)
                outcome = scan(actor=actor, tube_barcode=tube.barcode, person_code=person.id_number)
                if outcome.ok:
                    if outcome.tube_status != TubeStatus.OPEN:
                        tube = None
                    break
                # A household tube refuses the next household: start a new tube for it.
                tube.refresh_from_db()
                if tube.status == TubeStatus.OPEN and tube.member_count:
                    close_tube(actor=actor, tube=tube)
                tube = None
        # The finished villages closed their last tube; the others keep one open.
        if tube is not None and site.region_code in FINISHED:
            tube.refresh_from_db()
            if tube.status == TubeStatus.OPEN and tube.member_count:
                close_tube(actor=actor, tube=tube)
    for site_name in tubes:
        tubes[site_name] = list(
            Tube.objects.filter(pk__in=[t.pk for t in tubes[site_name]]).order_by("id")
        )
    return tubes


def _spread_over_the_morning(round_: Any, now: dt.datetime) -> None:
    """The demo scans everything in a second: give the samples the times of a morning's
    work instead (each site from the round's start until a few minutes ago, busier in the
    first hours), so the dashboard's samples per hour look like a real round. Tubes open
    and close with their first and last member; targets take their first sampling."""
    from fangkong.geo.models import Site
    from fangkong.screening.models import RoundTarget, Sample, Tube, TubeStatus

    start = round_.starts_at + dt.timedelta(minutes=5)
    samples = list(
        Sample.objects.filter(round=round_).order_by("site_id", "id").only("id", "site_id")
    )
    per_site: dict[int, list[Any]] = defaultdict(list)
    for sample in samples:
        per_site[sample.site_id].append(sample)
    regions = dict(Site.objects.filter(pk__in=per_site).values_list("id", "region_code"))
    for site_id, site_samples in per_site.items():
        # The finished villages' sites were done before their boxes left (_ship).
        end = now - dt.timedelta(minutes=100 if regions[site_id] in FINISHED else 5)
        count = len(site_samples)
        for index, sample in enumerate(site_samples):
            # A morning rush: more scans early, fewer towards the end.
            sample.scanned_at = start + (end - start) * ((index / count) ** 1.4)
    Sample.objects.bulk_update(samples, ["scanned_at"], batch_size=500)
    times: dict[int, list[dt.datetime]] = defaultdict(list)
    first: dict[int, dt.datetime] = {}
    for sample in Sample.objects.filter(round=round_).only("tube_id", "person_id", "scanned_at"):
        times[sample.tube_id].append(sample.scanned_at)
        first[sample.person_id] = min(first.get(sample.person_id, now), sample.scanned_at)
    tubes = list(Tube.objects.filter(pk__in=times).only("id", "status", "closed_at"))
    for tube in tubes:
        tube.opened_at = min(times[tube.pk]) - dt.timedelta(seconds=30)
        if tube.status != TubeStatus.OPEN:
            tube.closed_at = max(times[tube.pk]) + dt.timedelta(seconds=20)
    Tube.objects.bulk_update(tubes, ["opened_at", "closed_at"], batch_size=500)
    targets = list(
        RoundTarget.objects.filter(round=round_, person_id__in=first).only("id", "person_id")
    )
    for target in targets:
        target.first_sampled_at = first[target.person_id]
    RoundTarget.objects.bulk_update(targets, ["first_sampled_at"], batch_size=500)


def _walk_in_and_visitor(ctx: DemoContext, round_: Any, sites: dict[str, Any]) -> None:
    """A returnee not yet in the ledger registered at 遵贵屯村 (现场登记), and a visitor
    from 伏道镇 sampled at 东正寺村 (outside the round's area: flagged)."""
    from stdnum.cn import ric

    from fangkong.people.models import Person
    from fangkong.screening.actions.sampling import open_tube, register_walk_in
    from fangkong.screening.actions.scan import scan

    site = sites["遵贵屯村核酸采样点"]
    actor = ctx.users.get("sampler")
    body = "41052219960815" + "372"
    walk_in = register_walk_in(
        actor=actor,
        round_=round_,
        site=site,
        name="郭晓燕",
        id_type="mainland",
        id_number=body + ric.calc_check_digit(body + "0"),
        phone="15937201234",
        address="遵贵屯村北街8号",
    )
    tube = open_tube(actor=actor, round_=round_, site=site, barcode=f"{BARCODE_PREFIX}2201219001")
    scan(actor=actor, tube_barcode=tube.barcode, person_code=walk_in.id_number)
    visitor = Person.objects.filter(region_code__startswith="410523106").exclude(id_number="")
    first = visitor.order_by("id").first()
    site = sites["东正寺村核酸采样点"]
    actor = ctx.users.get("dongzhengsi")
    if first is not None:
        tube = open_tube(
            actor=actor, round_=round_, site=site, barcode=f"{BARCODE_PREFIX}2201219002"
        )
        scan(actor=actor, tube_barcode=tube.barcode, person_code=first.id_number)


def _ship(
    ctx: DemoContext,
    round_: Any,
    sites: dict[str, Any],
    tubes: dict[str, list[Any]],
    now: dt.datetime,
) -> int:
    from fangkong.screening.actions.boxes import add_tube, create_box, hand_over
    from fangkong.screening.models import TubeStatus

    boxes = 0
    for n, code in enumerate(FINISHED):
        site_name = SITE_OF_VILLAGE[code]
        actor = ctx.users.get(SITE_SCANNERS[site_name])
        closed = [t for t in tubes[site_name] if t.status == TubeStatus.CLOSED]
        made = []
        for start in range(0, len(closed), 20):
            boxes += 1
            box = create_box(
                actor=actor, round_=round_, site=sites[site_name], barcode=f"ZY{n + 1}{boxes:03d}"
            )
            for tube in closed[start : start + 20]:
                add_tube(actor=actor, box=box, tube_barcode=tube.barcode)
            made.append(box)
        if made:
            hand_over(
                actor=actor,
                boxes=made,
                lab_name=LAB,
                courier_name="县疾控转运组",
                courier_phone="13703720110",
                handed_at=now - dt.timedelta(minutes=90 - 20 * n),
            )
    return boxes


def _results(ctx: DemoContext, tubes: dict[str, list[Any]], now: dt.datetime) -> str:
    from fangkong.screening.actions.results import ResultLine, apply_results
    from fangkong.screening.models import Sample, TestResult

    lines = []
    # The positive pool: the third full tube of 东正寺村 whose members all live there.
    village_only = [
        tube
        for tube in tubes[SITE_OF_VILLAGE[DONGZHENGSI]]
        if tube.member_count == tube.capacity > 1
        and not Sample.objects.filter(tube=tube).exclude(region_code=DONGZHENGSI).exists()
    ]
    positive = village_only[2].barcode if len(village_only) > 2 else ""
    for code in FINISHED:
        for tube in tubes[SITE_OF_VILLAGE[code]]:
            result = TestResult.NEGATIVE
            if tube.barcode == positive:
                result = TestResult.POOL_POSITIVE
            lines.append(
                ResultLine(None, tube.barcode, result, now - dt.timedelta(minutes=20), lab=LAB)
            )
    apply_results(ctx.users.get("gaozhuang"), lines, filename="demo")
    return positive


def _trace(ctx: DemoContext, barcode: str) -> None:
    from fangkong.screening.actions.tracing import mark_controlled
    from fangkong.screening.models import ControlMeasure, ResampleTask

    actor = ctx.users.get("dongzhengsi")
    tasks = ResampleTask.objects.filter(case__tube__barcode=barcode).order_by("id")[:3]
    for task in tasks:
        if task.region_code == DONGZHENGSI:
            mark_controlled(actor, task, ControlMeasure.IN_PLACE, "村干部已电话通知，居家等待单采")
