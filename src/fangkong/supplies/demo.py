"""Demo supplies: the 伏道镇 depot as the seed report describes it.

A cadre of 安阳市社科联 drove supplies around 伏道镇 at night and counted every box in and
out: 1500 protective suits that came in 40-odd boxes, 2000 N95 masks, 2000 pairs of
gloves, 60000 sampling tubes, 9761 bags of flour, 60 boxes of dried tofu skin. On 21 Jan
2022 安阳市社科联 gave 伏道镇政府 and its cadres 2000 N95 masks and 210 bottles of 84
disinfectant (7 boxes). Everything goes through the supplies actions, as the demo users
who would do it; times fall inside the back-dating window so the daily report has days.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from fangkong.demo import DemoContext

FUDAO = "410523106"
ANYANG_CITY = "4105"
DEPOT_NAME = "伏道镇防疫物资库"
ERJIE = "410523106201"  # 伏道二街村
HOUZHUANG = "410523106202"  # 侯庄村
HOUXIAOTAN = "410523106203"  # 后小滩村

# (code, name, specification, category, base unit, tracks lots, packs)
CATALOGUE: list[tuple[str, str, str, str, str, bool, list[tuple[str, int]]]] = [
    ("FHF", "医用防护服", "连体式", "protective", "套", False, [("箱", 50)]),
    ("N95", "N95医用防护口罩", "", "protective", "个", False, [("盒", 50), ("箱", 400)]),
    ("XJST", "橡胶手套", "", "protective", "副", False, [("盒", 100)]),
    ("GLM", "护目镜", "", "protective", "个", False, [("箱", 60)]),
    ("CYG", "核酸单采管", "", "testing", "套", True, [("箱", 1000)]),
    ("HYG", "核酸混采管", "10混1", "testing", "套", True, [("箱", 500)]),
    ("84", "84消毒液", "500ml", "disinfection", "瓶", False, [("箱", 30)]),
    ("JJ", "75%酒精", "500ml", "disinfection", "瓶", False, [("箱", 24)]),
    ("MF", "面粉", "5kg", "food", "袋", False, []),
    ("FZ", "腐竹", "", "food", "箱", False, []),
    ("FBM", "方便面", "", "food", "箱", False, []),
    ("FC", "份餐", "", "food", "份", False, []),
    ("WSZ", "卫生纸", "", "daily", "提", False, []),
]

VILLAGE_POINTS = [
    ("伏道二街村物资点", ERJIE, "伏道二街村村委会"),
    ("侯庄村物资点", HOUZHUANG, "侯庄村村委会"),
    ("后小滩村物资点", HOUXIAOTAN, "后小滩村村委会"),
]


def populate(ctx: DemoContext) -> None:
    from fangkong.supplies.models import Item

    if Item.objects.filter(code="FHF").exists():
        ctx.say("supplies: kept")
        return
    now = timezone.now()
    users = ctx.users
    depot_user = users.get("depot")
    township = users.get("fudao")
    erjie = users.get("erjie")
    unit_admin = users.get("unitadmin")

    items = _catalogue(users.get("hq_tangyin"))
    depot, points = _locations(depot_user, erjie)
    _receipts(depot_user, depot, items, now)
    _donation(depot_user, township, unit_admin, depot, items, now)
    request = _requests(erjie, township, points, items)
    run = _night_run(depot_user, erjie, depot, points, items, request, now)
    households = _flour_per_household(erjie, points[ERJIE], items["MF"])
    _stock_take(depot_user, depot, items["FZ"])
    _minimums(depot_user, depot, items)
    days = _snapshots(now)
    ctx.say(
        f"supplies: {len(items)} items, depot stocked, donation of 21 Jan received, "
        f"night run {run.number}, {households} households got flour, "
        f"open request from 侯庄村, snapshots for {days} days"
    )


def _catalogue(actor: Any) -> dict[str, Any]:
    from fangkong.supplies.actions.catalogue import add_pack, create_item

    items = {}
    for code, name, spec, category, unit, lots, packs in CATALOGUE:
        item = create_item(
            actor=actor,
            code=code,
            name=name,
            specification=spec,
            category=category,
            base_unit=unit,
            tracks_lots=lots,
        )
        for pack_name, size in packs:
            add_pack(actor=actor, item=item, name=pack_name, size=size)
        items[code] = item
    return items


def _locations(depot_user: Any, village_user: Any) -> tuple[Any, dict[str, Any]]:
    from fangkong.geo.actions import create_site
    from fangkong.geo.models import Site
    from fangkong.supplies.actions.catalogue import stock_location

    depot_site = Site.objects.get(region_code=FUDAO, name=DEPOT_NAME)
    depot = stock_location(actor=depot_user, site=depot_site)
    points = {}
    for name, code, address in VILLAGE_POINTS:
        site = Site.objects.filter(region_code=code, name=name).first() or create_site(
            actor=None, name=name, kind="warehouse", region_code=code, address=address
        )
        points[code] = stock_location(actor=None, site=site)
    return depot, points


def _line(item: Any, quantity: int, lot: Any = None, pack: str = "") -> Any:
    from fangkong.supplies.actions.documents import LineInput
    from fangkong.supplies.keys import default_lot

    chosen = item.packs.filter(name=pack).first() if pack else None
    return LineInput(
        item=item,
        lot=lot or default_lot(item),
        quantity=quantity,
        pack=chosen,
        pack_count=quantity // chosen.size if chosen else None,
    )


def _receipts(actor: Any, depot: Any, items: dict[str, Any], now: dt.datetime) -> None:
    from fangkong.supplies.actions.documents import post_stock_document
    from fangkong.supplies.keys import lot_for

    today = timezone.localdate(now)
    soon = lot_for(items["CYG"], "CYG2201A", today + dt.timedelta(days=20))
    later = lot_for(items["CYG"], "CYG2201B", today + dt.timedelta(days=400))
    pooled = lot_for(items["HYG"], "HYG2201", today + dt.timedelta(days=300))
    # Two night deliveries from the county HQ (上级调拨), counted box by box.
    post_stock_document(
        kind="receipt",
        actor=actor,
        destination=depot,
        receipt_source="allocation",
        supplier="汤阴县疫情防控指挥部",
        effective_at=now - dt.timedelta(hours=50),
        note="凌晨接运，40余箱，逐箱清点",
        lines=[
            _line(items["FHF"], 1500),
            _line(items["XJST"], 2000, pack="盒"),
            _line(items["GLM"], 120, pack="箱"),
            _line(items["CYG"], 20000, soon, pack="箱"),
            _line(items["CYG"], 40000, later, pack="箱"),
            _line(items["HYG"], 10000, pooled, pack="箱"),
            _line(items["JJ"], 240, pack="箱"),
        ],
    )
    post_stock_document(
        kind="receipt",
        actor=actor,
        destination=depot,
        receipt_source="allocation",
        supplier="汤阴县疫情防控指挥部",
        effective_at=now - dt.timedelta(hours=47),
        note="生活物资",
        lines=[
            _line(items["MF"], 9761),
            _line(items["FZ"], 60),
            _line(items["FBM"], 200),
            _line(items["WSZ"], 300),
            _line(items["FC"], 800),
        ],
    )


def _donation(
    depot_user: Any,
    township: Any,
    unit_admin: Any,
    depot: Any,
    items: dict[str, Any],
    now: dt.datetime,
) -> None:
    from fangkong.supplies.actions.donations import (
        DonationLineInput,
        acknowledge_donation,
        post_donation_stock,
        record_donation,
    )

    gift = [
        DonationLineInput(item=items["N95"], quantity=2000),
        DonationLineInput(item=items["84"], pack=items["84"].packs.get(name="箱"), pack_count=7),
    ]
    common: dict[str, Any] = {
        "donated_on": dt.date(2022, 1, 21),
        "donor_name": "安阳市社会科学界联合会",
        "donor_type": "government",
        "recipient_name": "伏道镇人民政府及下沉干部",
        "recipient_type": "government",
        "lines": gift,
        "note": "第一批防疫物资，保障核酸检测人员",
    }
    # The office's own register: what it gave (no stock of its own in the ledger).
    given = record_donation(
        actor=unit_admin, region_code=ANYANG_CITY, direction="outbound", **common
    )
    acknowledge_donation(actor=unit_admin, donation=given)
    # 伏道镇's register: what it received, into the depot.
    received = record_donation(actor=township, region_code=FUDAO, direction="inbound", **common)
    post_donation_stock(
        actor=depot_user,
        donation=received,
        location=depot,
        effective_at=now - dt.timedelta(hours=30),
    )
    acknowledge_donation(actor=township, donation=received)


def _requests(
    village_user: Any, township: Any, points: dict[str, Any], items: dict[str, Any]
) -> Any:
    from fangkong.supplies.actions.requests import (
        RequestLineInput,
        approve_request,
        submit_request,
    )

    erjie_site = points[ERJIE].site
    request = submit_request(
        actor=village_user,
        site=erjie_site,
        note="封控村每户一袋面粉，卡点和采样点防护用品",
        lines=[
            RequestLineInput(item=items["MF"], quantity=300),
            RequestLineInput(item=items["N95"], quantity=800),
            RequestLineInput(item=items["FHF"], quantity=100),
        ],
    )
    flour_line = request.lines.get(item=items["MF"])
    approve_request(request, actor=township, approved={flour_line.pk: 250}, note="面粉先批250袋")
    # Still open: 侯庄村 asks, the township has not decided yet.
    submit_request(
        actor=None,
        site=points[HOUZHUANG].site,
        note="夜间卡点值守需要",
        lines=[
            RequestLineInput(item=items["MF"], quantity=200),
            RequestLineInput(item=items["N95"], quantity=500),
            RequestLineInput(item=items["84"], quantity=60),
        ],
    )
    return request


def _night_run(
    depot_user: Any,
    village_user: Any,
    depot: Any,
    points: dict[str, Any],
    items: dict[str, Any],
    request: Any,
    now: dt.datetime,
) -> Any:
    from fangkong.supplies.actions.runs import (
        StopInput,
        StopLineInput,
        confirm_stop,
        dispatch_run,
        plan_run,
    )
    from fangkong.supplies.keys import default_lot
    from fangkong.supplies.models import SupplyRequestLine

    def stop_line(code: str, quantity: int, request_line: Any = None) -> Any:
        item = items[code]
        return StopLineInput(
            item=item, lot=default_lot(item), quantity=quantity, request_line=request_line
        )

    # Read the lines afresh: their request must be the approved one, not the object we
    # submitted (approval updated a locked copy).
    lines = {
        line.item.code: line
        for line in SupplyRequestLine.objects.filter(request_id=request.pk).select_related(
            "item", "request"
        )
    }
    run = plan_run(
        actor=depot_user,
        origin=depot,
        vehicle_plate="豫E·5A128",
        driver_name="赵师傅",
        driver_phone="13803720158",
        departure_at=now - dt.timedelta(hours=3),
        note="凌晨配送，先二街后侯庄",
        stops=[
            StopInput(
                destination=points[ERJIE],
                lines=[
                    stop_line("MF", 250, lines["MF"]),
                    stop_line("N95", 800, lines["N95"]),
                    stop_line("FHF", 100, lines["FHF"]),
                ],
            ),
            StopInput(
                destination=points[HOUZHUANG],
                lines=[stop_line("N95", 400), stop_line("84", 30), stop_line("FBM", 20)],
            ),
        ],
    )
    dispatch_run(run, actor=depot_user)
    first = run.stops.order_by("sequence").first()
    assert first is not None
    flour = first.lines.get(item=items["MF"])
    # Two bags split on the way: recorded as a shortfall, still in the van.
    confirm_stop(
        first,
        actor=village_user,
        delivered={flour.pk: 248},
        receiver_name="伏道二街村村委会",
        note="面粉破袋2袋",
    )
    return run


def _flour_per_household(actor: Any, point: Any, flour: Any) -> int:
    from fangkong.people.models import Household
    from fangkong.supplies.actions.documents import post_stock_document

    households = list(Household.objects.filter(region_code=ERJIE).order_by("pk")[:40])
    for household in households:
        post_stock_document(
            kind="issue",
            actor=actor,
            source=point,
            recipient_kind="household",
            recipient_household=household,
            recipient_name=household.label,
            lines=[_line(flour, 1)],
        )
    return len(households)


def _stock_take(actor: Any, depot: Any, tofu: Any) -> None:
    from fangkong.supplies.actions.counts import close_count, enter_count, start_count

    count = start_count(actor=actor, location=depot, category="food", note="夜班交接盘点")
    for line in count.lines.select_related("item"):
        counted = line.system_quantity - 1 if line.item_id == tofu.pk else line.system_quantity
        enter_count(actor=actor, line=line, counted=counted)
    close_count(actor=actor, count=count)


def _minimums(actor: Any, depot: Any, items: dict[str, Any]) -> None:
    from fangkong.supplies.actions.catalogue import set_minimum_level

    for code, minimum in (("N95", 3000), ("FHF", 500), ("CYG", 20000), ("84", 100)):
        set_minimum_level(actor=actor, location=depot, item=items[code], quantity=minimum)


def _snapshots(now: dt.datetime) -> int:
    from fangkong.supplies.actions.snapshots import take_snapshot

    today = timezone.localdate(now)
    days = [today - dt.timedelta(days=n) for n in (3, 2, 1)]
    for day in days:
        take_snapshot(day)
    return len(days)
