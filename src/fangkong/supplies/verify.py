"""Checking the stock ledger against the balances (库存核对).

Every balance must equal the sum of its key's movements and never be negative. This
recomputes every key from the ledger in one grouped query over the union of movements and
balances (portable: no FULL OUTER JOIN needed on older SQLite), streams the groups, and
returns what disagrees. The number of keys is small (locations × items × lots), so only
the grouping is heavy: one pass over the movement table.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import connection
from django.utils.translation import gettext_lazy as _

from fangkong.supplies.models import Balance, Item, Location, Lot, Movement

_BALANCE = Balance._meta.db_table
_MOVEMENT = Movement._meta.db_table

MISSING = "missing"  # movements but no balance row
EXTRA = "extra"  # a non-zero balance row without movements
DIFFERENT = "different"  # both exist and disagree
NEGATIVE = "negative"  # a balance below zero (the constraint should make this impossible)

KIND_LABELS = {
    MISSING: _("balance row missing"),
    EXTRA: _("balance without movements"),
    DIFFERENT: _("balance differs from the ledger"),
    NEGATIVE: _("negative balance"),
}


@dataclass(frozen=True)
class Difference:
    location_id: int
    item_id: int
    lot_id: int
    ledger: int  # sum of the key's movements
    balance: int | None  # None when the balance row is missing
    kind: str
    location: str = ""
    item: str = ""
    lot: str = ""

    @property
    def delta(self) -> int:
        return (self.balance or 0) - self.ledger


@dataclass
class VerifyResult:
    keys: int = 0  # balance keys checked
    movements: int = 0
    differences: list[Difference] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.differences


def _sql(location_ids: list[int] | None) -> tuple[str, list[int]]:
    where = ""
    params: list[int] = []
    if location_ids is not None:
        marks = ", ".join(["%s"] * len(location_ids))
        where = f" WHERE location_id IN ({marks})"
        params = location_ids * 2
    # Table names come from model meta, never from input.
    sql = (
        "SELECT location_id, item_id, lot_id, SUM(ledger), SUM(balance), SUM(movements), "  # noqa: S608
        "SUM(balance_rows), MIN(lowest) FROM ("
        f"SELECT location_id, item_id, lot_id, quantity AS ledger, 0 AS balance, "
        f"1 AS movements, 0 AS balance_rows, 0 AS lowest FROM {_MOVEMENT}{where} "
        "UNION ALL "
        f"SELECT location_id, item_id, lot_id, 0, quantity, 0, 1, quantity FROM {_BALANCE}{where}"
        ") AS keys GROUP BY location_id, item_id, lot_id"
    )
    return sql, params


def verify_ledger(location_ids: Iterable[int] | None = None) -> VerifyResult:
    """Compare every balance (or those of ``location_ids``) with the ledger."""
    ids = sorted(set(location_ids)) if location_ids is not None else None
    result = VerifyResult()
    if ids == []:
        return result
    sql, params = _sql(ids)
    raw: list[tuple[int, int, int, int, int | None, str]] = []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(2000):
            for location_id, item_id, lot_id, ledger, balance, moves, balance_rows, lowest in rows:
                result.keys += 1
                result.movements += int(moves)
                ledger, balance = int(ledger), int(balance)
                if not balance_rows:
                    if ledger != 0:
                        raw.append((location_id, item_id, lot_id, ledger, None, MISSING))
                elif int(lowest) < 0:
                    raw.append((location_id, item_id, lot_id, ledger, balance, NEGATIVE))
                elif not moves:
                    if balance != 0:
                        raw.append((location_id, item_id, lot_id, ledger, balance, EXTRA))
                elif ledger != balance:
                    raw.append((location_id, item_id, lot_id, ledger, balance, DIFFERENT))
    result.differences = _named(raw)
    return result


def find_differences(location_ids: Iterable[int] | None = None) -> list[Difference]:
    """The differences alone (empty when the ledger and the balances agree)."""
    return verify_ledger(location_ids).differences


def _named(raw: list[tuple[int, int, int, int, int | None, str]]) -> list[Difference]:
    """Attach names to the few differing keys (three queries, whatever their number)."""
    if not raw:
        return []
    locations = dict(Location.objects.filter(pk__in={r[0] for r in raw}).values_list("pk", "name"))
    items = {item.pk: str(item) for item in Item.objects.filter(pk__in={r[1] for r in raw})}
    lots = dict(Lot.objects.filter(pk__in={r[2] for r in raw}).values_list("pk", "code"))
    return sorted(
        (
            Difference(
                location_id=r[0],
                item_id=r[1],
                lot_id=r[2],
                ledger=r[3],
                balance=r[4],
                kind=r[5],
                location=locations.get(r[0], ""),
                item=items.get(r[1], ""),
                lot=lots.get(r[2], ""),
            )
            for r in raw
        ),
        key=lambda d: (d.location, d.item, d.lot, d.location_id, d.item_id, d.lot_id),
    )
