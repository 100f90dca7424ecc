"""Stock alerts, scoped to the user: low stock, lots expiring or expired, blocked lots.

- low stock: a location's quantity of an item (all lots) below its ``MinimumLevel``;
- expiry: a usable (or expired) lot with stock that expires within
  ``EXPIRY_ALERT_DAYS`` days, or has already expired and is still on the shelf;
- blocked: a recalled or on-hold lot that still has stock somewhere.

Each function runs a fixed number of queries; the home page shows them and a dashboard
may reuse them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import F, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from fangkong.accounts.roles import Perm
from fangkong.supplies.models import Balance, LotStatus, MinimumLevel
from fangkong.supplies.quantities import PackSize, format_quantity
from fangkong.supplies.queries import (
    EXPIRY_ALERT_DAYS,
    Permission,
    pack_sizes,
    scoped,
    visible_balances,
)

Packs = dict[int, list[PackSize]]


@dataclass
class LowStock:
    location_id: int
    location_name: str
    region_code: str
    item_id: int
    item_name: str
    base_unit: str
    quantity: int
    minimum: int
    display: str = ""
    minimum_display: str = ""

    @property
    def shortfall(self) -> int:
        return self.minimum - self.quantity


@dataclass
class LotAlert:
    location_id: int
    location_name: str
    region_code: str
    item_id: int
    item_name: str
    base_unit: str
    lot_id: int
    lot_code: str
    expiry_date: dt.date | None
    status: str
    quantity: int
    display: str = ""
    expired: bool = False
    days_left: int | None = None
    status_label: str = ""


@dataclass
class Alerts:
    low_stock: list[LowStock] = field(default_factory=list)
    expiring: list[LotAlert] = field(default_factory=list)
    blocked: list[LotAlert] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.low_stock) + len(self.expiring) + len(self.blocked)


_LOCATION_ITEM = (
    "location_id",
    "location__name",
    "location__region_code",
    "item_id",
    "item__name",
    "item__base_unit",
)


def low_stock(
    user: Any, *, permission: Permission = Perm.VIEW_STOCK, packs: Packs | None = None
) -> list[LowStock]:
    """Locations whose stock of an item (all lots) is below its minimum: one query (the
    minimum levels in scope, each with its location's total from the balance index)."""
    held = (
        Balance.objects.filter(location_id=OuterRef("location_id"), item_id=OuterRef("item_id"))
        .values("location_id", "item_id")
        .annotate(total=Sum("quantity"))
        .values("total")
    )
    minimums = list(
        scoped(MinimumLevel.objects.filter(quantity__gt=0), user, permission)
        .annotate(held=Coalesce(Subquery(held), 0))
        .filter(held__lt=F("quantity"))
        .values_list(*_LOCATION_ITEM, "quantity", "held")
        .order_by()
    )
    if packs is None:
        packs = pack_sizes() if minimums else {}
    found = []
    for row in minimums:
        location_id, location_name, region_code, item_id, item_name, unit, minimum, quantity = row
        alert = LowStock(
            location_id, location_name, region_code, item_id, item_name, unit, quantity, minimum
        )
        item_packs = packs.get(alert.item_id, ())
        alert.display = format_quantity(quantity, alert.base_unit, item_packs)
        alert.minimum_display = format_quantity(alert.minimum, alert.base_unit, item_packs)
        found.append(alert)
    found.sort(key=lambda a: (a.region_code, a.location_name, a.item_name))
    return found


def _lot_alerts(
    user: Any, condition: Q, permission: Permission, today: dt.date, packs: Packs | None
) -> list[LotAlert]:
    rows = (
        visible_balances(user, permission)
        .filter(condition, quantity__gt=0)
        .values_list(
            *_LOCATION_ITEM, "lot_id", "lot__code", "lot__expiry_date", "lot__status", "quantity"
        )
        .order_by("lot__expiry_date", "location__region_code", "location__name", "item__name")
    )
    alerts = [LotAlert(*row) for row in rows]
    if packs is None:
        packs = pack_sizes() if alerts else {}
    statuses = {k: str(v) for k, v in LotStatus.choices}
    for alert in alerts:
        alert.status_label = statuses.get(alert.status, alert.status)
        alert.display = format_quantity(
            alert.quantity, alert.base_unit, packs.get(alert.item_id, ())
        )
        if alert.expiry_date is not None:
            alert.days_left = (alert.expiry_date - today).days
        alert.expired = alert.status == LotStatus.EXPIRED or (
            alert.days_left is not None and alert.days_left < 0
        )
    return alerts


def expiring_lots(
    user: Any,
    *,
    within_days: int = EXPIRY_ALERT_DAYS,
    today: dt.date | None = None,
    permission: Permission = Perm.VIEW_STOCK,
    packs: Packs | None = None,
) -> list[LotAlert]:
    """Usable lots with stock expiring within ``within_days`` (or expired), soonest first."""
    today = today or timezone.localdate()
    limit = today + dt.timedelta(days=within_days)
    condition = Q(lot__status=LotStatus.USABLE, lot__expiry_date__lte=limit) | Q(
        lot__status=LotStatus.EXPIRED
    )
    return _lot_alerts(user, condition, permission, today, packs)


def blocked_lots(
    user: Any,
    *,
    today: dt.date | None = None,
    permission: Permission = Perm.VIEW_STOCK,
    packs: Packs | None = None,
) -> list[LotAlert]:
    """Recalled or on-hold lots that still have stock."""
    today = today or timezone.localdate()
    condition = Q(lot__status__in=[LotStatus.RECALLED, LotStatus.ON_HOLD])
    return _lot_alerts(user, condition, permission, today, packs)


def stock_alerts(
    user: Any, *, today: dt.date | None = None, permission: Permission = Perm.VIEW_STOCK
) -> Alerts:
    """All three kinds of alert for the user's scope: five queries."""
    packs = pack_sizes()
    return Alerts(
        low_stock=low_stock(user, permission=permission, packs=packs),
        expiring=expiring_lots(user, today=today, permission=permission, packs=packs),
        blocked=blocked_lots(user, today=today, permission=permission, packs=packs),
    )
