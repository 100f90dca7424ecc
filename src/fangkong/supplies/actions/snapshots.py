"""Daily closing snapshots (日结库存): what each balance key held at the end of a local day.

``take_snapshot(day)`` works backwards from the live balances: the closing quantity of a
key is its balance now minus the movements that took effect after the end of ``day``. Only
those recent movements are read (``movement_time_idx``), never the whole ledger, and the
whole computation is one INSERT ... SELECT, so it sees one consistent state.

A back-dated posting later corrects the rows it affects (``ledger._correct_snapshots``);
re-taking a day replaces its rows, so the action is idempotent.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fangkong.accounts.roles import Perm
from fangkong.core import audit
from fangkong.core.scoping import require_permission
from fangkong.supplies.models import Balance, Movement, StockSnapshot
from fangkong.supplies.retry import with_retry

_SNAPSHOT = StockSnapshot._meta.db_table
_BALANCE = Balance._meta.db_table
_MOVEMENT = Movement._meta.db_table

# Keys whose closing quantity is zero get no row: the reports read a missing row as 0,
# and a county with years of history would otherwise store every key ever used, daily.
_INSERT_SQL = (
    f"INSERT INTO {_SNAPSHOT} (day, location_id, item_id, lot_id, quantity, region_code) "  # noqa: S608
    "SELECT %s, b.location_id, b.item_id, b.lot_id, b.quantity - COALESCE(r.total, 0), "
    f"b.region_code FROM {_BALANCE} b LEFT JOIN ("
    f"SELECT location_id, item_id, lot_id, SUM(quantity) AS total FROM {_MOVEMENT} "
    "WHERE effective_at >= %s GROUP BY location_id, item_id, lot_id) r "
    "ON r.location_id = b.location_id AND r.item_id = b.item_id AND r.lot_id = b.lot_id "
    "WHERE b.quantity - COALESCE(r.total, 0) <> 0"
)


def day_start(day: dt.date) -> dt.datetime:
    """The first instant of local day ``day`` (Asia/Shanghai), as an aware datetime."""
    return timezone.make_aware(
        dt.datetime.combine(day, dt.time.min), timezone.get_default_timezone()
    )


def day_end(day: dt.date) -> dt.datetime:
    """The first instant after local day ``day``."""
    return day_start(day + dt.timedelta(days=1))


def snapshot_exists(day: dt.date) -> bool:
    return StockSnapshot.objects.filter(day=day).exists()


@with_retry
def take_snapshot(day: dt.date, *, actor: Any = None) -> int:
    """Write the closing quantity of every balance key at the end of local ``day``.

    Returns the number of rows written. Re-running replaces the day's rows. Today and
    future days are refused: their closing is not known yet (the reports read the live
    balance for today). ``actor`` None is the system (the CLI, the daily report); a user
    needs Perm.VIEW_STOCK somewhere, since a snapshot only restates what the ledger says.
    """
    if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
        raise ValidationError({"day": _("Enter a valid date.")})
    if day >= timezone.localdate():
        raise ValidationError(
            {"day": _("A snapshot can only be taken of a day that has ended.")},
            code="day_not_ended",
        )
    require_permission(actor, Perm.VIEW_STOCK)
    ops = connection.ops
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # Let postings in flight finish and hold new ones for the moment this takes,
            # so no back-dated correction slips between the delete and the insert.
            with connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {_BALANCE} IN SHARE MODE")
        StockSnapshot.objects.filter(day=day).delete()
        with connection.cursor() as cursor:
            cursor.execute(
                _INSERT_SQL,
                [ops.adapt_datefield_value(day), ops.adapt_datetimefield_value(day_end(day))],
            )
            written = max(cursor.rowcount, 0)
        audit.record(
            actor,
            "supplies.take_snapshot",
            object_type="supplies.stocksnapshot",
            object_id=day.isoformat(),
            after={"day": day, "rows": written},
        )
    return written
