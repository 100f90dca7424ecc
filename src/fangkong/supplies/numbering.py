"""Document numbers: prefix + local date + a per-day counter (RK20220121-0003).

One upsert takes the next value: the counter row is created at 1 or incremented, and
the statement holds the row lock to commit. Two writers never get the same number, and
the first number of a day is race-free. Call inside the posting transaction, before any
balance is locked (the lock order is sequence → domain rows → balances, see
supplies.ledger).
"""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.utils import timezone

from fangkong.supplies.models import DocumentSequence

_TABLE = DocumentSequence._meta.db_table
# Table name from model meta, never from input.
_NEXT_SQL = (
    f"INSERT INTO {_TABLE} (key, value) VALUES (%s, 1) "  # noqa: S608
    f"ON CONFLICT (key) DO UPDATE SET value = {_TABLE}.value + 1 RETURNING value"
)


def next_number(prefix: str, when: dt.datetime | None = None) -> str:
    day = timezone.localdate(when) if when is not None else timezone.localdate()
    key = f"{prefix}{day:%Y%m%d}"
    with connection.cursor() as cursor:
        cursor.execute(_NEXT_SQL, [key])
        (value,) = cursor.fetchone()
    return f"{key}-{value:04d}"
