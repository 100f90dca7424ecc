"""Document numbers: prefix + local date + a counter (RK20220121-0003, RK20220121-000123).

``next_number`` (requests, runs, counts, donations): one counter row per prefix and day,
taken with one upsert that holds the row lock to commit. Two writers never get the same
number, the first number of a day is race-free, and a rolled-back transaction gives its
number back (no gaps). Call inside the transaction, before any balance is locked (lock
order: sequence → domain rows → balances, see supplies.ledger).

Stock documents (the hot path, D25 in docs/decisions.md) have six-digit numbers and no
counter row of their own:

- PostgreSQL: the per-day row would make every writer of one kind wait for the one
  before it to commit (its lock is held to commit), which capped 16 concurrent writers
  near one writer's rate. A database SEQUENCE per prefix gives the counter instead:
  ``nextval`` takes no lock that lasts, numbers increase per prefix (across days:
  ``RK20220121-000123`` then ``RK20220122-000124``) and stay unique, but a rolled-back
  posting leaves a gap. The sequences are created by the supplies migration.
- SQLite: writers are serialized (the write lock is taken at BEGIN), so the next number
  of a day is one more than the day's highest, read from the unique index on the number
  (one index seek, no row to write: ``RK20220121-000001``, gap-free per prefix and day).
  Numbers of the day that do not have six digits (four-digit ones written before this
  scheme, or past 999,999) make it take the maximum over the day's numbers instead.

The posting fast path (``supplies.ledger_sql``) draws the number inside the document's
own INSERT: ``number_sql`` (PostgreSQL) and ``sqlite_number_sql`` are the expressions.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import connection
from django.utils import timezone

from fangkong.supplies.models import DOCUMENT_PREFIX, DocumentSequence, StockDocument

_TABLE = DocumentSequence._meta.db_table
# Table name from model meta, never from input.
_NEXT_SQL = (
    f"INSERT INTO {_TABLE} (key, value) VALUES (%s, 1) "  # noqa: S608
    f"ON CONFLICT (key) DO UPDATE SET value = {_TABLE}.value + 1 RETURNING value"
)


def sequence_name(prefix: str) -> str:
    """The PostgreSQL sequence behind a stock document prefix (supplies_docno_rk)."""
    return f"supplies_docno_{prefix.lower()}"


# Only the document prefixes have a sequence; the SQL is fixed per prefix, never input.
_NEXTVAL_SQL = {
    prefix: f"SELECT nextval('{sequence_name(prefix)}')" for prefix in DOCUMENT_PREFIX.values()
}


def next_number(prefix: str, when: dt.datetime | None = None) -> str:
    day = timezone.localdate(when) if when is not None else timezone.localdate()
    key = f"{prefix}{day:%Y%m%d}"
    with connection.cursor() as cursor:
        cursor.execute(_NEXT_SQL, [key])
        (value,) = cursor.fetchone()
    return f"{key}-{value:04d}"


def next_document_number(prefix: str) -> str:
    """The next stock document number for ``prefix`` (one of DOCUMENT_PREFIX).

    On SQLite it is the next number not yet used: call it inside the transaction that
    inserts the document, right before the insert.
    """
    key = document_day_key(prefix, timezone.now())
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_NEXTVAL_SQL[prefix])
            (value,) = cursor.fetchone()
            return f"{key}-{value:06d}"
        # A write that changes nothing takes the database's write lock (BEGIN IMMEDIATE)
        # before the read, as the posting's own INSERT does.
        cursor.execute(_TAKE_WRITE_LOCK_SQL)
        cursor.execute(f"SELECT {sqlite_number_sql('%s')}", sqlite_number_params(key))
        (number,) = cursor.fetchone()
    return str(number)


_TAKE_WRITE_LOCK_SQL = f"UPDATE {_TABLE} SET value = value WHERE 0 = 1"  # noqa: S608
_DOCUMENTS = StockDocument._meta.db_table


def sqlite_number_sql(mark: str = "?") -> str:
    """SQLite: an expression giving the next stock document number of a day.

    ``mark`` is the placeholder; the parameters are ``sqlite_number_params(key)``. The
    day's highest six-digit number is the last entry of the number index in the day's
    range; anything else (no six digits, or 999999) takes the maximum over the range.
    """
    day = f"number >= {mark} AND number < {mark}"
    # Table name from model meta, never from input.
    return (
        f"(SELECT {mark} || printf('%06d', 1 + CASE WHEN m IS NULL THEN 0 "  # noqa: S608
        f"WHEN length(m) = {mark} AND substr(m, -6) < '999999' "
        "THEN CAST(substr(m, -6) AS INTEGER) "
        f"ELSE (SELECT max(CAST(substr(number, {mark}) AS INTEGER)) FROM {_DOCUMENTS} "
        f"WHERE {day}) END) FROM (SELECT (SELECT number FROM {_DOCUMENTS} WHERE {day} "
        "ORDER BY number DESC LIMIT 1) AS m))"
    )


def sqlite_number_params(key: str) -> tuple[str | int, ...]:
    """The parameters of ``sqlite_number_sql`` for a day key (``RK20220121``)."""
    first, after = f"{key}-", f"{key}."  # "." follows "-": the day's numbers lie between
    return (first, len(key) + 7, len(key) + 2, first, after, first, after)


# The day last asked for: (time zone, its first and first-after instants, YYYYMMDD).
_day: tuple[Any, dt.datetime, dt.datetime, str] | None = None


def document_day_key(prefix: str, now: dt.datetime) -> str:
    """``RK20220121``: the prefix and the day of ``now`` (an aware datetime) in the
    configured TIME_ZONE (the same day whatever zone a request has activated; reading the
    active zone costs more than the rest of this function)."""
    global _day
    zone = timezone.get_default_timezone()
    day = _day
    if day is None or day[0] is not zone or not day[1] <= now < day[2]:
        date = timezone.localdate(now, zone)
        start = dt.datetime.combine(date, dt.time.min, zone)
        end = dt.datetime.combine(date + dt.timedelta(days=1), dt.time.min, zone)
        day = _day = (zone, start, end, f"{date:%Y%m%d}")
    return prefix + day[3]


def number_sql(prefix: str) -> str:
    """PostgreSQL: an expression giving ``next_document_number`` in a statement.

    Its one parameter is ``document_day_key(prefix, now) + "-"``; the sequence value is
    padded to six digits and never cut (lpad alone would truncate a seventh).
    """
    assert prefix in DOCUMENT_PREFIX.values()  # a fixed name, never input
    return (
        "(SELECT %s || CASE WHEN n.v < 1000000 THEN lpad(n.v::text, 6, '0') "  # noqa: S608
        f"ELSE n.v::text END FROM (SELECT nextval('{sequence_name(prefix)}') AS v) n)"
    )
