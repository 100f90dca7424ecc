"""The bulk write path of imports: executemany on SQLite, COPY on PostgreSQL.

Django's bulk_create builds a model object per row and costs about 6x a bare executemany
on SQLite (DESIGN "Measured"); imports write plain tuples instead. Callers run these
inside their own ``transaction.atomic()`` and have already checked every value.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.db import connection


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def _raw_cursor() -> Any:
    connection.ensure_connection()
    # The DB-API cursor, not Django's wrapper: no per-call SQL rewriting or logging.
    return connection.connection.cursor()


def db_datetime(value: dt.datetime) -> Any:
    """A timestamp as the backend stores it (SQLite: text in UTC)."""
    if is_postgres():
        return value
    return connection.ops.adapt_datetimefield_value(value)


def db_date(value: dt.date | None) -> Any:
    if value is None or is_postgres():
        return value
    return value.isoformat()


def _iso_date(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def _same_date(value: dt.date | None) -> dt.date | None:
    return value


def date_adapter() -> Callable[[dt.date | None], Any]:
    """``db_date`` for the current backend, decided once (for a loop over many rows)."""
    return _same_date if is_postgres() else _iso_date


# SQLite's page cache while an import writes, in KiB (the connection's own is 64 MB).
IMPORT_PAGE_CACHE_KIB = 16000


@contextmanager
def small_page_cache() -> Iterator[None]:
    """On SQLite, a 16 MB page cache for the connection while an import runs.

    An import's writes go no faster with a larger cache (8, 16 and 64 MB measured the
    same), but it fills whatever it is given and the pages stay cached after it: 64 MB of
    a job worker's memory, and with the checking process alongside, the two went over
    350 MB. The connection's own size is restored afterwards (which frees the excess).
    """
    if is_postgres():
        yield
        return
    cursor = _raw_cursor()
    try:
        cursor.execute("PRAGMA cache_size")
        before = int(cursor.fetchone()[0])
        cursor.execute(f"PRAGMA cache_size = -{IMPORT_PAGE_CACHE_KIB}")
    finally:
        cursor.close()
    try:
        yield
    finally:
        cursor = _raw_cursor()
        try:
            cursor.execute(f"PRAGMA cache_size = {before}")
        finally:
            cursor.close()


def commit_without_flush_wait() -> None:
    """PostgreSQL: this transaction's commit returns before its WAL is flushed (``SET
    LOCAL synchronous_commit = off``); for idempotent import batches only. A no-op on
    SQLite, whose commits in WAL mode with ``synchronous=NORMAL`` never wait for a sync."""
    if not is_postgres():
        return
    cursor = _raw_cursor()
    try:
        cursor.execute("SET LOCAL synchronous_commit = off")
    finally:
        cursor.close()


def allocate_ids(table: str, count: int) -> list[int]:
    """``count`` fresh primary keys for ``table`` (so dependent rows can refer to them).

    PostgreSQL draws them from the column's sequence; SQLite continues after MAX(id),
    safe because the caller holds the write lock (IMMEDIATE transaction, or its own write).
    """
    if count <= 0:
        return []
    cursor = _raw_cursor()
    try:
        if is_postgres():
            # The sequence is looked up once: pg_get_serial_sequence is not folded into a
            # constant and, called per row, cost 2.5 µs each (0.25 s per 100,000 ids).
            cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
            sequence = cursor.fetchone()[0]
            cursor.execute(
                "SELECT nextval(%s::regclass) FROM generate_series(1, %s)", [sequence, count]
            )
            return [int(row[0]) for row in cursor.fetchall()]
        cursor.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{table}"')  # noqa: S608
        start = int(cursor.fetchone()[0]) + 1
        return list(range(start, start + count))
    finally:
        cursor.close()


def insert_rows(table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> int:
    """Insert plain tuples into ``table``; values must already be in the backend's form."""
    if not rows:
        return 0
    names = ", ".join(f'"{name}"' for name in columns)
    cursor = _raw_cursor()
    try:
        if is_postgres():
            with cursor.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" for _ in columns)
            cursor.executemany(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', rows)  # noqa: S608
    finally:
        cursor.close()
    return len(rows)


def update_rows(
    table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], key: str = "id"
) -> int:
    """UPDATE table SET columns... WHERE key = last value of each row tuple."""
    if not rows:
        return 0
    mark = "%s" if is_postgres() else "?"
    sets = ", ".join(f'"{name}" = {mark}' for name in columns)
    cursor = _raw_cursor()
    try:
        cursor.executemany(f'UPDATE "{table}" SET {sets} WHERE "{key}" = {mark}', rows)  # noqa: S608
    finally:
        cursor.close()
    return len(rows)


IN_CHUNK = 2000


def select_in(
    sql: str, values: Sequence[Any], params: Sequence[Any] = (), chunk: int = IN_CHUNK
) -> list[tuple[Any, ...]]:
    """Run ``sql`` (with one ``{in}`` placeholder for an IN list and ``{p}`` for each other
    parameter, which come first) over ``values`` (keys of one indexed column) in chunks;
    the rows of every chunk. A key given twice is looked up once: in two chunks, or twice
    in PostgreSQL's array, it would find its rows twice.

    The ORM's ``__in`` prepares each value through the field (about 10 µs a value), which
    for 100,000 keys costs more than the queries themselves.

    On PostgreSQL each chunk is one query that probes the index once per key: the keys
    are one array parameter, unnested, and the query runs for each of them as a LATERAL
    subquery (``OFFSET 0`` keeps the planner from merging it into a join). Given the keys
    as ``= ANY(array)`` instead, the planner chose by the table's statistics, and while an
    import fills a table those are stale: it scanned the whole index of the document type
    per batch (a cost that grew with the table, quadratic over a large first import), or,
    once analyzed, the whole table.
    """
    values = list(dict.fromkeys(values))
    mark = "%s" if is_postgres() else "?"
    found: list[tuple[Any, ...]] = []
    cursor = _raw_cursor()
    try:
        if is_postgres():
            text = probe_each_sql(sql, values)
            step = chunk * 5
            for start in range(0, len(values), step):
                cursor.execute(text, [list(values[start : start + step]), *params])
                found.extend(cursor.fetchall())
            return found
        for start in range(0, len(values), chunk):
            part = list(values[start : start + chunk])
            text = sql.format(p=mark, **{"in": ", ".join([mark] * len(part))})
            cursor.execute(text, [*params, *part])
            found.extend(cursor.fetchall())
    finally:
        cursor.close()
    return found


def probe_each_sql(sql: str, values: Sequence[Any]) -> str:
    """PostgreSQL: ``select_in``'s ``sql`` run once per key of an array, the first
    parameter (bigint[] for integer keys, text[] otherwise), then ``sql``'s own."""
    array = "bigint[]" if values and isinstance(values[0], int) else "text[]"
    inner = sql.replace("IN ({in})", "= wanted.value").format(p="%s")
    # The callers' SQL is their own constant text; only the keys are parameters.
    return (
        f"SELECT found.* FROM unnest(%s::{array}) AS wanted(value) "  # noqa: S608
        f"CROSS JOIN LATERAL ({inner} OFFSET 0) AS found"
    )


def as_date(value: Any) -> dt.date | None:
    """A date column's value as read by a raw cursor (SQLite gives text)."""
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))
