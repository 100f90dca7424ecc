"""The posting fast path's SQL (``supplies.ledger.post_new_document``), per driver.

A stock posting is the system's hottest write (issue 4: postings per second against a
bare insert of the same ledger rows, bench/supplies_postings.py). Its statements go
straight to the DB-API cursor: no Django cursor wrapper (a connection lookup, a
placeholder rewrite and datetime adaptation per statement), no ORM compilation, and one
model instance, the document returned, built without ``Model.__init__``. Errors still
come out as Django's (the caller holds ``wrap_database_errors``); the statements do not
show in ``connection.queries``.

- SQLite (writers serialized by BEGIN IMMEDIATE): one INSERT each for the document
  (numbered inside it, ``numbering.sqlite_number_sql``), its lines, the audit entry and
  the movements, then one statement per balance key in lock order (an increase tries a
  plain UPDATE first: cheaper than the upsert when the row exists).
- PostgreSQL (round trips are the cost): one statement of data-modifying CTEs draws the
  number from the prefix's sequence and inserts the document, lines, movements and audit
  entry, and applies the first balance key; the other keys follow one statement each,
  so balances are still locked in (location, item, lot) order.

A decrease is ``UPDATE ... WHERE quantity >= n``: the row count says whether it was
applied. The writer returns the first short posting and applies none after it; the
ledger raises ``InsufficientStock`` and the transaction rolls back.

Table and column names come from model meta, never from input.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple

from django.db import connection
from django.db.models import Model
from django.db.models.base import ModelState

from fangkong.core import audit
from fangkong.supplies import numbering
from fangkong.supplies.models import Balance, DocumentLine, Movement, StockDocument

if TYPE_CHECKING:
    from fangkong.supplies.ledger import LineLike, Posting

_BALANCE = Balance._meta.db_table
RECEIVE_SQL = (
    f"INSERT INTO {_BALANCE} (location_id, item_id, lot_id, quantity, region_code, "  # noqa: S608
    "updated_at) VALUES (%s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (location_id, item_id, lot_id) DO UPDATE SET "
    f"quantity = {_BALANCE}.quantity + excluded.quantity, updated_at = excluded.updated_at"
)
ADD_SQL = (
    f"UPDATE {_BALANCE} SET quantity = quantity + %s, updated_at = %s "  # noqa: S608
    "WHERE location_id = %s AND item_id = %s AND lot_id = %s"
)
# No RETURNING: the row count says whether the decrease was applied.
TAKE_SQL = (
    f"UPDATE {_BALANCE} SET quantity = quantity - %s, updated_at = %s "  # noqa: S608
    "WHERE location_id = %s AND item_id = %s AND lot_id = %s AND quantity >= %s"
)

_DOCUMENT_TYPE = StockDocument._meta.label_lower
_LINE_FIELDS = ("document", "item", "lot", "quantity", "pack", "pack_count", "request_line", "note")
_MOVEMENT_FIELDS = (
    "document", "location", "item", "lot", "quantity", "effective_at", "recorded_at",
    "region_code",
)  # fmt: skip
# Rows per multi-row INSERT on SQLite: far below its 32766 variables.
_CHUNK = 200
_PLAIN_TYPES = {
    "CharField", "TextField", "IntegerField", "BigIntegerField", "PositiveIntegerField",
    "PositiveSmallIntegerField", "SmallIntegerField", "BooleanField",
}  # fmt: skip


class Entry(NamedTuple):
    """The audit entry a posting writes: ``after`` gets the document's number."""

    actor: object
    action: str
    after: dict[str, Any]
    region_code: str

    def row(self, created_at: Any, document_id: Any = "", number: str = "") -> list[Any]:
        """Values in ``audit.entry_columns()`` order."""
        return audit.entry_row(
            self.actor,
            self.action,
            object_type=_DOCUMENT_TYPE,
            object_id=str(document_id),
            object_repr=number,
            region_code=self.region_code,
            created_at=created_at,
            after={"number": number, **self.after} if number else self.after,
        )


@dataclass(frozen=True)
class _Sql:
    """Names and statements for one driver, built once per process."""

    mark: str  # the driver's placeholder
    fields: tuple[Any, ...]  # StockDocument's concrete fields but the primary key
    default_values: dict[str, Any]  # by field name
    pick: Callable[[dict[str, Any]], tuple[Any, ...]]  # values by name → in column order
    # Indexes into ``fields`` of the values that need converting: related objects,
    # datetimes, TextChoices (stored as their value), others (the field's own conversion).
    relations: tuple[int, ...]
    datetimes: tuple[int, ...]
    choices: tuple[int, ...]
    others: tuple[int, ...]
    attnames: tuple[str, ...]  # every concrete field's attname, the primary key first
    number_at: int
    document_head: str  # INSERT INTO ... (columns) VALUES
    line_head: str
    movement_head: str
    audit_head: str
    document_insert: str  # SQLite: the whole INSERT of one document, numbering it
    returning: bool  # SQLite: the INSERT returns the id and number (3.35 and later)
    number_of: str  # SQLite before 3.35: the number of a document by id
    audit_insert: str  # the whole INSERT of one audit entry (SQLite)
    audit_names: tuple[str, ...]  # the columns of ``audit.entry_row``, unquoted
    receive: str
    take: str
    add: str | None  # SQLite: an increase of a key that has its row

    def row(self, count: int, first: str | None = None) -> str:
        """``(?, ?, ...)``; ``first`` replaces the first placeholder."""
        marks = [self.mark] * count
        if first is not None:
            marks[0] = first
        return f"({', '.join(marks)})"


@cache
def _sql(vendor: str) -> _Sql:
    quote = connection.ops.quote_name
    mark = "%s" if vendor == "postgresql" else "?"

    def marks(count: int) -> str:
        return f"({', '.join([mark] * count)})"

    def numbered(row: str, at: int) -> str:
        """SQLite: ``row`` with the number drawn in place of its placeholder ``at``."""
        values = row[1:-1].split(", ")
        values[at] = numbering.sqlite_number_sql(mark)
        return f"({', '.join(values)})"

    returning = vendor == "sqlite" and connection.features.can_return_columns_from_insert

    def head(model: type[Model], names: Sequence[str]) -> str:
        meta = model._meta
        columns = ", ".join(quote(str(meta.get_field(n).column)) for n in names)  # type: ignore[union-attr]
        return f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES "  # noqa: S608

    meta = StockDocument._meta
    assert meta.concrete_fields[0].primary_key
    fields = tuple(f for f in meta.concrete_fields if not f.primary_key)
    kinds = [f.get_internal_type() for f in fields]
    audit_table, audit_names = audit.entry_columns()
    audit_columns = ", ".join(quote(name) for name in audit_names)
    return _Sql(
        mark=mark,
        fields=fields,
        default_values={f.name: f.get_default() for f in fields},
        pick=operator.itemgetter(*(f.name for f in fields)),
        relations=tuple(i for i, f in enumerate(fields) if f.is_relation),
        datetimes=tuple(i for i, k in enumerate(kinds) if k == "DateTimeField"),
        choices=tuple(
            i for i, f in enumerate(fields) if not f.is_relation and kinds[i] in _PLAIN_TYPES
        ),
        others=tuple(
            i
            for i, f in enumerate(fields)
            if not f.is_relation and kinds[i] not in _PLAIN_TYPES and kinds[i] != "DateTimeField"
        ),
        attnames=tuple(f.attname for f in meta.concrete_fields),
        number_at=[f.name for f in fields].index("number"),
        document_head=head(StockDocument, [f.name for f in fields]),
        line_head=head(DocumentLine, _LINE_FIELDS),
        movement_head=head(Movement, _MOVEMENT_FIELDS),
        audit_head=f"INSERT INTO {quote(audit_table)} ({audit_columns}) VALUES ",  # noqa: S608
        document_insert=head(StockDocument, [f.name for f in fields])
        + numbered(marks(len(fields)), [f.name for f in fields].index("number"))
        + (" RETURNING id, number" if returning else ""),
        returning=returning,
        number_of=f"SELECT number FROM {quote(meta.db_table)} WHERE id = {mark}",  # noqa: S608
        audit_insert=f"INSERT INTO {quote(audit_table)} ({audit_columns}) VALUES "  # noqa: S608
        + marks(len(audit_names)),
        audit_names=audit_names,
        receive=RECEIVE_SQL.replace("%s", mark),
        take=TAKE_SQL.replace("%s", mark),
        add=None if vendor == "postgresql" else ADD_SQL.replace("%s", mark),
    )


def _document_values(
    sql: _Sql, values: dict[str, Any], adapt: Callable[[Any], Any]
) -> tuple[list[Any], list[Any], list[tuple[Any, Model]]]:
    """StockDocument's INSERT parameters, its attribute values (the primary key first,
    None) and the related objects given."""
    attributes = list(sql.pick({**sql.default_values, **values}))
    related: list[tuple[Any, Model]] = []
    for i in sql.relations:
        value = attributes[i]
        if value is not None and isinstance(value, Model):
            related.append((sql.fields[i], value))
            attributes[i] = value.pk
    params = attributes.copy()
    for i in sql.datetimes:
        if params[i] is not None:
            params[i] = adapt(params[i])
    for i in sql.choices:
        value = params[i]
        if value is not None and type(value) is not str and isinstance(value, str):
            # A TextChoices member is stored as its value, whatever the driver does with enums.
            params[i] = str(value)
    for i in sql.others:
        if params[i] is not None:
            params[i] = sql.fields[i].get_db_prep_save(params[i], connection)
    attributes.insert(0, None)
    return params, attributes, related


def _line_values(line: LineLike) -> tuple[Any, ...]:
    """A line's columns after the document."""
    return (
        line.item.id,
        line.lot.id,
        line.quantity,
        line.pack.id if line.pack is not None else None,
        line.pack_count,
        line.request_line.id if line.request_line is not None else None,
        line.note[:200],
    )


def _movement_values(
    posting: Posting, effective: Any, stamp: Any, region_of: dict[int, str]
) -> tuple[Any, ...]:
    """A movement's columns after the document."""
    return (
        posting.location_id, posting.item_id, posting.lot_id, posting.quantity, effective,
        stamp, region_of[posting.location_id],
    )  # fmt: skip


def _balance_values(posting: Posting, stamp: Any, region_of: dict[int, str]) -> tuple[Any, ...]:
    if posting.quantity > 0:
        return (
            posting.location_id, posting.item_id, posting.lot_id, posting.quantity,
            region_of[posting.location_id], stamp,
        )  # fmt: skip
    needed = -posting.quantity
    return (needed, stamp, posting.location_id, posting.item_id, posting.lot_id, needed)


def _apply_balances(
    cursor: Any, sql: _Sql, postings: Sequence[Posting], stamp: Any, region_of: dict[int, str]
) -> Posting | None:
    """One statement per key in the order given; the first short decrease ends it.

    With ``sql.add`` (SQLite) an increase first tries a plain UPDATE, which costs less
    than the upsert's failed insert; only a key without a row yet takes the upsert.
    """
    for posting in postings:
        if posting.quantity < 0:
            cursor.execute(sql.take, _balance_values(posting, stamp, region_of))
            if cursor.rowcount != 1:
                return posting
        elif sql.add is not None:
            key = (posting.location_id, posting.item_id, posting.lot_id)
            cursor.execute(sql.add, (posting.quantity, stamp, *key))
            if cursor.rowcount != 1:
                cursor.execute(sql.receive, _balance_values(posting, stamp, region_of))
        else:
            cursor.execute(sql.receive, _balance_values(posting, stamp, region_of))
    return None


def _instance(
    sql: _Sql, attributes: list[Any], related: list[tuple[Any, Model]], alias: str
) -> StockDocument:
    """The saved document as a model instance, built the way unpickling builds one."""
    document = StockDocument.__new__(StockDocument)
    document.__dict__.update(zip(sql.attnames, attributes))  # noqa: B905 (same length)
    state = ModelState()
    state.adding = False
    state.db = alias
    document._state = state
    for field, obj in related:
        field.set_cached_value(document, obj)
    return document


def _sqlite_datetime(value: dt.datetime, zone: dt.tzinfo) -> str:
    """An aware datetime as Django's SQLite backend stores it: naive, in the database's
    zone (UTC unless DATABASES sets TIME_ZONE), as text."""
    return str(value.astimezone(zone).replace(tzinfo=None))


@cache
def _rows_sql(head: str, rows: int) -> str:
    """SQLite: ``head`` with ``rows`` rows of eight placeholders."""
    return head + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?)"] * rows)


def write_sqlite(
    db: Any,
    cursor: Any,
    values: dict[str, Any],
    lines: Sequence[LineLike],
    postings: Sequence[Posting],
    prefix: str,
    region_of: dict[int, str],
    entry: Entry,
) -> tuple[StockDocument, Posting | None]:
    """SQLite: the document (numbered in its INSERT), lines, audit entry, movements,
    then balances. ``values["posted_at"]`` is the posting time."""
    sql = _sql("sqlite")
    now = values["posted_at"]
    zone = db.timezone
    stamp = _sqlite_datetime(now, zone)

    def adapt(value: Any) -> Any:
        # The document's times are mostly ``now`` itself: adapted once.
        return stamp if value is now else _sqlite_datetime(value, zone)

    effective = adapt(values["effective_at"])
    params, attributes, related = _document_values(sql, values, adapt)
    at = sql.number_at
    params[at : at + 1] = numbering.sqlite_number_params(numbering.document_day_key(prefix, now))
    cursor.execute(sql.document_insert, params)
    if sql.returning:
        document_id, number = cursor.fetchone()
    else:  # pragma: no cover - SQLite before 3.35
        document_id = cursor.lastrowid
        cursor.execute(sql.number_of, (document_id,))
        (number,) = cursor.fetchone()
    attributes[0], attributes[1 + at] = document_id, number
    for start in range(0, len(lines), _CHUNK):
        some_lines = lines[start : start + _CHUNK]
        rows = [value for line in some_lines for value in (document_id, *_line_values(line))]
        cursor.execute(_rows_sql(sql.line_head, len(some_lines)), rows)
    cursor.execute(sql.audit_insert, entry.row(stamp, document_id, number))
    for start in range(0, len(postings), _CHUNK):
        some = postings[start : start + _CHUNK]
        rows = [
            value
            for posting in some
            for value in (document_id, *_movement_values(posting, effective, stamp, region_of))
        ]
        cursor.execute(_rows_sql(sql.movement_head, len(some)), rows)
    short = _apply_balances(cursor, sql, postings, stamp, region_of)
    return _instance(sql, attributes, related, db.alias), short


def write_postgresql(
    db: Any,
    cursor: Any,
    values: dict[str, Any],
    lines: Sequence[LineLike],
    postings: Sequence[Posting],
    prefix: str,
    region_of: dict[int, str],
    entry: Entry,
) -> tuple[StockDocument, Posting | None]:
    """PostgreSQL: one statement for the document (numbered from the prefix's sequence),
    lines, movements, audit entry and the first balance key; then the other keys."""
    sql = _sql("postgresql")
    now = values["posted_at"]
    # The number's parameter: the number expression appends the sequence's value.
    values["number"] = numbering.document_day_key(prefix, now) + "-"
    params, attributes, related = _document_values(sql, values, _as_is)
    for line in lines:
        params += _line_values(line)
    for posting in postings:
        params += _movement_values(posting, values["effective_at"], now, region_of)
    params += [
        value
        for name, value in zip(sql.audit_names, entry.row(now), strict=True)
        if name not in _FROM_DOCUMENT
    ]
    first = postings[0] if postings else None
    if first is not None:
        params += _balance_values(first, now, region_of)
    shape = None if first is None else first.quantity > 0
    cursor.execute(_pg_statement(prefix, len(lines), len(postings), shape), params)
    document_id, number, applied = cursor.fetchone()
    attributes[0] = document_id
    attributes[1 + sql.number_at] = number
    document = _instance(sql, attributes, related, db.alias)
    if first is not None and first.quantity < 0 and applied != 1:
        return document, first
    return document, _apply_balances(cursor, sql, postings[1:], now, region_of)


def _as_is(value: Any) -> Any:
    return value


# The audit columns the statement fills from the inserted document, and the JSON ones
# (the parameters are JSON text; "after" gets the number).
_FROM_DOCUMENT = {"object_id": "(SELECT id::text FROM d)", "object_repr": "(SELECT number FROM d)"}
_JSON = {
    "before": "%s::jsonb",
    "after": "jsonb_set(%s::jsonb, '{number}', to_jsonb((SELECT number FROM d)))",
}


@lru_cache(maxsize=128)
def _pg_statement(prefix: str, lines: int, movements: int, first_receives: bool | None) -> str:
    """The one statement of a posting of this shape (lines, movements, first balance)."""
    sql = _sql("postgresql")
    marks = ["%s"] * len(sql.fields)
    marks[sql.number_at] = numbering.number_sql(prefix)
    parts = [f"d AS ({sql.document_head}({', '.join(marks)}) RETURNING id, number)"]
    by_document = "(SELECT id FROM d)"
    if lines:
        rows = ", ".join([sql.row(8, first=by_document)] * lines)
        parts.append(f"l AS ({sql.line_head}{rows})")
    if movements:
        rows = ", ".join([sql.row(8, first=by_document)] * movements)
        parts.append(f"m AS ({sql.movement_head}{rows})")
    audit_values = [_FROM_DOCUMENT.get(name) or _JSON.get(name) or "%s" for name in sql.audit_names]
    parts.append(f"a AS ({sql.audit_head}({', '.join(audit_values)}))")
    applied = "1"
    if first_receives is not None:
        parts.append(f"b AS ({sql.receive if first_receives else sql.take} RETURNING 1)")
        applied = "(SELECT count(*) FROM b)"
    return f"WITH {', '.join(parts)} SELECT id, number, {applied} FROM d"  # noqa: S608
