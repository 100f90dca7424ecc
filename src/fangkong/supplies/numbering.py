"""Document numbers: prefix + local date + a per-day counter (RK20220121-0003).

The counter row is created with ON CONFLICT DO NOTHING and then incremented by an UPDATE,
which takes the row lock: two writers never get the same number, and the first number of
a day is race-free. Call inside the posting transaction, before any balance is locked
(the lock order is sequence → domain rows → balances, see supplies.ledger).
"""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.utils import timezone

from fangkong.supplies.models import DocumentSequence

_TABLE = DocumentSequence._meta.db_table
_CREATE_SQL = f"INSERT INTO {_TABLE} (key, value) VALUES (%s, 0) ON CONFLICT (key) DO NOTHING"  # noqa: S608
_NEXT_SQL = f"UPDATE {_TABLE} SET value = value + 1 WHERE key = %s RETURNING value"  # noqa: S608


def next_number(prefix: str, when: dt.datetime | None = None) -> str:
    day = timezone.localdate(when) if when is not None else timezone.localdate()
    key = f"{prefix}{day:%Y%m%d}"
    with connection.cursor() as cursor:
        cursor.execute(_CREATE_SQL, [key])
        cursor.execute(_NEXT_SQL, [key])
        (value,) = cursor.fetchone()
    return f"{key}-{value:04d}"
