"""Document numbers: prefix + local date + a counter (RK20220121-0003, RK20220121-000123).

``next_number`` (requests, runs, counts, donations; stock documents on SQLite): one
counter row per prefix and day, taken with one upsert that holds the row lock to commit.
Two writers never get the same number, the first number of a day is race-free, and a
rolled-back transaction gives its number back (no gaps). Call inside the transaction,
before any balance is locked (lock order: sequence → domain rows → balances, see
supplies.ledger).

``next_document_number`` (stock documents, the hot path): on PostgreSQL the per-day row
would make every writer of one kind wait for the one before it to commit (its lock is
held to commit), which capped 16 concurrent writers near one writer's rate. There a
database SEQUENCE per prefix gives the counter instead: ``nextval`` takes no lock that
lasts, numbers increase per prefix (across days: ``RK20220121-000123`` then
``RK20220122-000124``) and stay unique, but a rolled-back posting leaves a gap (D25 in
docs/decisions.md). On SQLite, where writers are serialized anyway, it is ``next_number``.
The sequences are created by the supplies migration.
"""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.utils import timezone

from fangkong.supplies.models import DOCUMENT_PREFIX, DocumentSequence

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
    """The next stock document number for ``prefix`` (one of DOCUMENT_PREFIX)."""
    if connection.vendor != "postgresql":
        return next_number(prefix)
    with connection.cursor() as cursor:
        cursor.execute(_NEXTVAL_SQL[prefix])
        (value,) = cursor.fetchone()
    return f"{prefix}{timezone.localdate():%Y%m%d}-{value:06d}"
