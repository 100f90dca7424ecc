"""Reads and aggregates on the stock ledger: stock on hand, movements over a period, the
daily report, the ledger itself. Other apps and helpers use these, not the models.

Every function is scoped (``core.scoping.restrict`` on ``region_code``, Perm.VIEW_STOCK
unless told otherwise) and runs a fixed number of queries whatever the size of the
result: sums are taken in SQL, names and packs are read once.

Days are local (Asia/Shanghai) calendar days; times are stored in UTC. A period report
reads the movements of the period only (``movement_scope_idx``/``movement_time_idx``) and
takes its opening and closing from the daily snapshots (``StockSnapshot``), taking the
missing ones of the last ``SNAPSHOT_WINDOW_DAYS`` days on demand.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from operator import attrgetter, itemgetter
from typing import Any, TypeVar, cast

from django.core.exceptions import EmptyResultSet, ValidationError
from django.db import connections
from django.db.models import BigIntegerField, Model, QuerySet, Sum
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from fangkong.accounts.roles import Perm
from fangkong.core.scoping import restrict
from fangkong.supplies.actions.snapshots import day_end, day_start, snapshot_exists, take_snapshot
from fangkong.supplies.models import (
    Balance,
    DocumentKind,
    Item,
    ItemCategory,
    Location,
    LotStatus,
    MinimumLevel,
    Movement,
    Pack,
    StockSnapshot,
)
from fangkong.supplies.quantities import PackSize, format_quantity

# Lots expiring within this many days (or already expired) are an alert.
EXPIRY_ALERT_DAYS = 30
# The reports take missing snapshots on demand for this many past days; older days need
# `fangkong stock snapshot DAY` (each one reads the movements since that day).
SNAPSHOT_WINDOW_DAYS = 31
# A period report covers at most this many days.
MAX_PERIOD_DAYS = 366
MAX_EXPIRY_FILTER_DAYS = 3650

Key = tuple[int, int]  # (location_id, item_id)
M = TypeVar("M", bound=Model)


# ---------------------------------------------------------------- shared reads


# One permission, or several that must all hold (an export: Perm.VIEW_STOCK and Perm.EXPORT).
Permission = str | tuple[str, ...]
EXPORT_SCOPE = (Perm.VIEW_STOCK, Perm.EXPORT)


def scoped(queryset: QuerySet[M], user: Any, permission: Permission) -> QuerySet[M]:
    for name in (permission,) if isinstance(permission, str) else permission:
        queryset = restrict(queryset, user, name)
    return queryset


def visible_balances(user: Any, permission: Permission = Perm.VIEW_STOCK) -> QuerySet[Balance]:
    return scoped(Balance.objects.all(), user, permission)


def visible_locations(user: Any, permission: Permission = Perm.VIEW_STOCK) -> QuerySet[Location]:
    return scoped(Location.objects.all(), user, permission).order_by("region_code", "name")


def visible_movements(user: Any, permission: Permission = Perm.VIEW_STOCK) -> QuerySet[Movement]:
    return scoped(cast(QuerySet[Movement], Movement.objects.all()), user, permission)


def pack_sizes() -> dict[int, list[PackSize]]:
    """Every item's packs, read once (the catalogue is county-wide and small)."""
    packs: dict[int, list[PackSize]] = defaultdict(list)
    for item_id, name, size in Pack.objects.values_list("item_id", "name", "size"):
        packs[item_id].append(PackSize(name, size))
    return packs


def on_hand(location: Location, item: Item) -> int:
    """Quantity of ``item`` at ``location``, all lots (no scope: callers have checked)."""
    total = Balance.objects.filter(location=location, item=item).aggregate(t=Sum("quantity"))["t"]
    return int(total or 0)


# ---------------------------------------------------------------- stock on hand


@dataclass(frozen=True)
class StockQuery:
    """The stock-on-hand filters, shared by the page, the API and the export."""

    location_id: int | None = None
    category: str = ""
    item_id: int | None = None
    low_only: bool = False
    expiring_within: int | None = None  # days; lots expiring on or before today + N
    by_lot: bool = False


_NO_PACKS: list[PackSize] = []


@dataclass(slots=True)
class StockLine:
    """A line of stock on hand. Built for every key in scope (10,000 for a county), so it
    is slim: the text in units and packs and the labels are made only for lines shown."""

    location_id: int
    location_name: str
    region_code: str
    item_id: int
    item_code: str
    item_name: str
    category: str
    base_unit: str
    quantity: int
    lot_id: int | None = None
    lot_code: str = ""
    expiry_date: dt.date | None = None
    lot_status: str = ""
    minimum: int | None = None
    low: bool = False  # the location's total of the item is below its minimum
    expiring: bool = False  # expires within EXPIRY_ALERT_DAYS, or has expired
    packs: list[PackSize] = field(default_factory=lambda: _NO_PACKS, repr=False)

    @property
    def display(self) -> str:
        """ "1500 套 (30 箱)" """
        return format_quantity(self.quantity, self.base_unit, self.packs)

    @property
    def category_label(self) -> str:
        try:
            return str(ItemCategory(self.category).label)
        except ValueError:
            return self.category

    @property
    def status_label(self) -> str:
        try:
            return str(LotStatus(self.lot_status).label) if self.lot_status else ""
        except ValueError:
            return self.lot_status


@dataclass
class ItemTotal:
    item_id: int
    item_code: str
    item_name: str
    base_unit: str
    quantity: int = 0
    locations: int = 0
    display: str = ""


@dataclass
class StockOnHand:
    lines: list[StockLine]
    totals: list[ItemTotal]
    today: dt.date
    query: StockQuery


_ITEM_FIELDS = (
    "location_id",
    "location__name",
    "location__region_code",
    "item_id",
    "item__code",
    "item__name",
    "item__category",
    "item__base_unit",
)
_LOT_FIELDS = ("lot_id", "lot__code", "lot__expiry_date", "lot__status")


def _filtered(queryset: QuerySet[Any], query: StockQuery) -> QuerySet[Any]:
    if query.location_id is not None:
        queryset = queryset.filter(location_id=query.location_id)
    if query.item_id is not None:
        queryset = queryset.filter(item_id=query.item_id)
    if query.category:
        queryset = queryset.filter(item__category=query.category)
    return queryset


def _expiring(expiry: dt.date | None, status: str, today: dt.date) -> bool:
    if status == LotStatus.EXPIRED:
        return True
    return expiry is not None and expiry <= today + dt.timedelta(days=EXPIRY_ALERT_DAYS)


def stock_on_hand(
    user: Any,
    query: StockQuery | None = None,
    *,
    today: dt.date | None = None,
    permission: Permission = Perm.VIEW_STOCK,
    packs: dict[int, list[PackSize]] | None = None,
) -> StockOnHand:
    """Stock by location and item (or by lot with ``by_lot``) in the user's scope.

    A fixed number of queries whatever the size: the balances summed in SQL, the
    locations and items that name them (or the lots joined, by lot), the minimum levels,
    the packs. A minimum level with nothing on hand shows as a 0 line.
    """
    query = query or StockQuery()
    today = today or timezone.localdate()
    balances = _filtered(visible_balances(user, permission).filter(quantity__gt=0), query)
    if query.expiring_within is not None:
        limit = today + dt.timedelta(days=query.expiring_within)
        balances = balances.filter(lot__expiry_date__lte=limit)
    if query.by_lot:
        rows = _fetch(balances.values_list(*_ITEM_FIELDS, "quantity", *_LOT_FIELDS))
        rows.sort(key=itemgetter(2, 1, 6, 5, 10))
    else:
        # Sum per (location, item) on the ids alone and name them from the two small
        # tables: grouping on the joined names cost PostgreSQL twice the time.
        sums = _fetch(
            balances.values("location_id", "item_id")
            # PostgreSQL's SUM of a bigint is numeric; the cast keeps it an int.
            .annotate(total=Cast(Sum("quantity"), BigIntegerField()))
            .values_list("location_id", "item_id", "total")
            .order_by()
        )
        places = {
            pk: (pk, name, region)
            for pk, name, region in _fetch(
                visible_locations(user, permission).values_list("pk", "name", "region_code")
            )
        }
        items = {
            pk: (pk, *rest)
            for pk, *rest in _fetch(
                Item.objects.values_list("pk", "code", "name", "category", "base_unit").order_by()
            )
        }
        rows = [
            (*places[location_id], *items[item_id], total)
            for location_id, item_id, total in sums
            if location_id in places
        ]
        rows.sort(key=itemgetter(2, 1, 6, 5))
    lines = [StockLine(*row) for row in rows]
    if query.by_lot:
        for line in lines:
            if isinstance(line.expiry_date, str):  # SQLite hands dates back as text
                line.expiry_date = dt.date.fromisoformat(line.expiry_date)
            line.expiring = _expiring(line.expiry_date, line.lot_status, today)

    minimums = {
        (row[0], row[3]): row
        for row in _filtered(scoped(MinimumLevel.objects.all(), user, permission), query)
        .values_list(*_ITEM_FIELDS, "quantity")
        .order_by()
    }
    packs = pack_sizes() if packs is None else packs

    per_key: dict[Key, int] = defaultdict(int)
    for line in lines:
        per_key[(line.location_id, line.item_id)] += line.quantity
    if not query.by_lot and query.expiring_within is None:
        missing = [row for key, row in minimums.items() if key not in per_key]
        for row in sorted(missing, key=itemgetter(2, 1, 6, 5)):
            lines.append(_zero_line(row))
            per_key[(row[0], row[3])] = 0
        if missing:
            lines.sort(key=attrgetter("region_code", "location_name", "category", "item_name"))
    for line in lines:
        line.packs = packs.get(line.item_id, _NO_PACKS)
        if minimums:
            minimum = minimums.get((line.location_id, line.item_id))
            if minimum is not None:
                line.minimum = minimum[8]
                line.low = per_key[(line.location_id, line.item_id)] < minimum[8]
    if query.low_only:
        lines = [line for line in lines if line.low]
    return StockOnHand(lines=lines, totals=_totals(lines, packs), today=today, query=query)


def _zero_line(row: tuple[Any, ...]) -> StockLine:
    location_id, location_name, region_code, item_id, code, name, category, unit = row[:8]
    return StockLine(
        location_id, location_name, region_code, item_id, code, name, category, unit, 0
    )


def _fetch(queryset: QuerySet[Any]) -> list[tuple[Any, ...]]:
    """All rows of a values_list query as plain tuples, straight from the cursor.

    Skips the ORM's per-row converters and chunked iteration: for the 10,000 lines of a
    county that is most of the Python time. Only ints, text and dates come back.
    """
    compiler = queryset.query.get_compiler(using=queryset.db)
    try:
        sql, params = compiler.as_sql()
    except EmptyResultSet:
        return []
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _totals(lines: list[StockLine], packs: dict[int, list[PackSize]]) -> list[ItemTotal]:
    totals: dict[int, ItemTotal] = {}
    seen: set[Key] = set()
    for line in lines:
        total = totals.get(line.item_id)
        if total is None:
            total = totals[line.item_id] = ItemTotal(
                line.item_id, line.item_code, line.item_name, line.base_unit
            )
        total.quantity += line.quantity
        if (line.location_id, line.item_id) not in seen and line.quantity:
            seen.add((line.location_id, line.item_id))
            total.locations += 1
    for total in totals.values():
        total.display = format_quantity(
            total.quantity, total.base_unit, packs.get(total.item_id, ())
        )
    return sorted(totals.values(), key=lambda t: t.item_name)


# ---------------------------------------------------------------- movements over a period


@dataclass(slots=True)
class FlowLine:
    """One location and item over a period: opening + in − out ± adjusted = closing."""

    location_id: int | None
    location_name: str
    region_code: str
    item_id: int
    item_code: str
    item_name: str
    base_unit: str
    opening: int = 0
    received: int = 0
    transferred_in: int = 0
    issued: int = 0
    transferred_out: int = 0
    adjusted: int = 0
    closing: int = 0
    packs: list[PackSize] = field(default_factory=lambda: _NO_PACKS, repr=False)

    @property
    def closing_display(self) -> str:
        return format_quantity(self.closing, self.base_unit, self.packs)

    @property
    def inflow(self) -> int:
        return self.received + self.transferred_in

    @property
    def outflow(self) -> int:
        return self.issued + self.transferred_out

    @property
    def net(self) -> int:
        return self.inflow - self.outflow + self.adjusted

    def add(self, other: FlowLine) -> None:
        for name in (
            "opening",
            "received",
            "transferred_in",
            "issued",
            "transferred_out",
            "adjusted",
            "closing",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class PeriodReport:
    start: dt.date
    end: dt.date
    lines: list[FlowLine]
    totals: list[FlowLine]
    # Where the opening and closing came from: "snapshot", "live" or "derived" (from
    # the other end and the period's movements).
    opening_source: str = "snapshot"
    closing_source: str = "snapshot"
    snapshots_taken: list[dt.date] = field(default_factory=list)


def check_period(start: dt.date, end: dt.date, today: dt.date | None = None) -> None:
    today = today or timezone.localdate()
    if start > end:
        raise ValidationError({"start": _("The start date is after the end date.")})
    if end > today:
        raise ValidationError({"end": _("The period cannot end in the future.")})
    if (end - start).days >= MAX_PERIOD_DAYS:
        raise ValidationError(
            {"start": _("A period covers at most %(days)d days.") % {"days": MAX_PERIOD_DAYS}}
        )


def ensure_snapshots(days: Iterable[dt.date], today: dt.date | None = None) -> list[dt.date]:
    """Take the missing snapshots of recent past days (the report works without cron)."""
    today = today or timezone.localdate()
    oldest = today - dt.timedelta(days=SNAPSHOT_WINDOW_DAYS)
    taken = []
    for day in sorted(set(days)):
        if oldest <= day < today and not snapshot_exists(day):
            take_snapshot(day, actor=None)
            taken.append(day)
    return taken


def _sums(queryset: QuerySet[Any], query: StockQuery) -> dict[Key, int]:
    rows = _fetch(
        _filtered(queryset, query)
        .values("location_id", "item_id")
        .annotate(total=Cast(Sum("quantity"), BigIntegerField()))
        .values_list("location_id", "item_id", "total")
        .order_by()
    )
    return {(loc, item): total for loc, item, total in rows if total}


def _flows(
    user: Any, start: dt.datetime, end: dt.datetime, query: StockQuery, permission: Permission
) -> dict[Key, FlowLine]:
    """The period's movements summed per location, item and kind of document.

    A reversal counts as the kind it reverses (a reversed receipt lowers "received"); a
    transfer's movement is "in" at the destination of the transfer, "out" elsewhere.
    """
    movements = _filtered(
        visible_movements(user, permission).filter(effective_at__gte=start, effective_at__lt=end),
        query,
    )
    rows = _fetch(
        movements.annotate(
            origin_kind=Coalesce("document__reversal_of__kind", "document__kind"),
            origin_destination=Coalesce(
                "document__reversal_of__destination_id", "document__destination_id"
            ),
        )
        .values("location_id", "item_id", "origin_kind", "origin_destination")
        .annotate(total=Cast(Sum("quantity"), BigIntegerField()))
        .values_list("location_id", "item_id", "origin_kind", "origin_destination", "total")
        .order_by()
    )
    flows: dict[Key, FlowLine] = {}
    for location_id, item_id, kind, destination, total in rows:
        line = flows.get((location_id, item_id))
        if line is None:
            line = flows[(location_id, item_id)] = FlowLine(
                location_id, "", "", item_id, "", "", ""
            )
        if kind == DocumentKind.RECEIPT:
            line.received += total
        elif kind == DocumentKind.ISSUE:
            line.issued -= total
        elif kind == DocumentKind.TRANSFER:
            if destination == location_id:
                line.transferred_in += total
            else:
                line.transferred_out -= total
        else:
            line.adjusted += total
    return flows


def _snapshot_sums(
    user: Any, day: dt.date, query: StockQuery, permission: Permission
) -> dict[Key, int]:
    return _sums(scoped(StockSnapshot.objects.filter(day=day), user, permission), query)


def _live_sums(user: Any, query: StockQuery, permission: Permission) -> dict[Key, int]:
    return _sums(visible_balances(user, permission), query)


def _after_sums(
    user: Any, since: dt.datetime, query: StockQuery, permission: Permission
) -> dict[Key, int]:
    return _sums(visible_movements(user, permission).filter(effective_at__gte=since), query)


def _minus(a: dict[Key, int], b: dict[Key, int]) -> dict[Key, int]:
    out = dict(a)
    for key, value in b.items():
        out[key] = out.get(key, 0) - value
    return out


def period_report(
    user: Any,
    start: dt.date,
    end: dt.date,
    query: StockQuery | None = None,
    *,
    today: dt.date | None = None,
    permission: Permission = Perm.VIEW_STOCK,
) -> PeriodReport:
    """Opening, received, transferred in, issued, transferred out, adjusted and closing
    per location and item for the local days ``start``..``end`` (both included).

    Reads the snapshots of ``start − 1`` and ``end`` (taking them if missing and recent),
    the live balances when ``end`` is today, and the movements of the period only.
    """
    query = query or StockQuery()
    today = today or timezone.localdate()
    check_period(start, end, today)
    before = start - dt.timedelta(days=1)
    taken = ensure_snapshots([before] + ([end] if end < today else []), today)
    flows = _flows(user, day_start(start), day_end(end), query, permission)
    net = {key: line.net for key, line in flows.items()}

    if end >= today:
        closing, closing_source = _live_sums(user, query, permission), "live"
    elif snapshot_exists(end):
        closing, closing_source = _snapshot_sums(user, end, query, permission), "snapshot"
    else:  # an old day nobody snapshotted: the balance now minus what came after
        closing = _minus(
            _live_sums(user, query, permission), _after_sums(user, day_end(end), query, permission)
        )
        closing_source = "derived"
    if snapshot_exists(before):
        opening, opening_source = _snapshot_sums(user, before, query, permission), "snapshot"
    else:
        opening, opening_source = _minus(closing, net), "derived"

    keys = set(flows) | {k for k, v in closing.items() if v} | {k for k, v in opening.items() if v}
    lines = []
    for key in keys:
        line = flows.get(key) or FlowLine(key[0], "", "", key[1], "", "", "")
        line.opening = opening.get(key, 0)
        line.closing = closing.get(key, 0)
        lines.append(line)
    packs = _label(lines)
    lines.sort(key=lambda x: (x.region_code, x.location_name, x.item_name))
    totals: dict[int, FlowLine] = {}
    for line in lines:
        total = totals.get(line.item_id)
        if total is None:
            total = totals[line.item_id] = FlowLine(
                None, "", "", line.item_id, line.item_code, line.item_name, line.base_unit
            )
        total.add(line)
    for line in [*lines, *totals.values()]:
        line.packs = packs.get(line.item_id, _NO_PACKS)
    return PeriodReport(
        start=start,
        end=end,
        lines=lines,
        totals=sorted(totals.values(), key=lambda t: t.item_name),
        opening_source=opening_source,
        closing_source=closing_source,
        snapshots_taken=taken,
    )


def _label(lines: list[FlowLine]) -> dict[int, list[PackSize]]:
    """Fill in location and item names (two queries) and return the packs (one)."""
    locations = {
        pk: (name, region)
        for pk, name, region in Location.objects.filter(
            pk__in={line.location_id for line in lines}
        ).values_list("pk", "name", "region_code")
    }
    items = {
        pk: rest
        for pk, *rest in Item.objects.filter(pk__in={line.item_id for line in lines}).values_list(
            "pk", "code", "name", "base_unit"
        )
    }
    for line in lines:
        assert line.location_id is not None
        line.location_name, line.region_code = locations.get(line.location_id, ("", ""))
        line.item_code, line.item_name, line.base_unit = items.get(line.item_id, ("", "", ""))
    return pack_sizes()


def daily_report(
    user: Any,
    day: dt.date,
    query: StockQuery | None = None,
    *,
    today: dt.date | None = None,
    permission: Permission = Perm.VIEW_STOCK,
) -> PeriodReport:
    """The daily stock report (日报) of local ``day``: a one-day period report.

    Opening is the closing snapshot of the day before, closing the snapshot of the day
    (or the live balance for today); only the day's own movements are read.
    """
    return period_report(user, day, day, query, today=today, permission=permission)


# ---------------------------------------------------------------- the ledger


def ledger(user: Any, permission: Permission = Perm.VIEW_STOCK) -> QuerySet[Movement]:
    """Movements in scope, oldest first, with their document, location, item and lot.

    ``forms.reports.MovementFilter`` narrows it (period, location, item, kind) for the
    ledger page, the API and the export.
    """
    return (
        visible_movements(user, permission)
        .select_related("document", "location", "item", "lot")
        .order_by("effective_at", "id")
    )


def signed_kind(movement: Movement) -> str:
    """What a movement was, for the ledger: the document kind, with the direction of a
    transfer (in or out)."""
    kind = movement.document.kind
    if kind == DocumentKind.TRANSFER:
        return "transfer_in" if movement.quantity > 0 else "transfer_out"
    return str(kind)
