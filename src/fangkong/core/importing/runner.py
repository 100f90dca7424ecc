"""Driving an import: header, mapping, batches with progress, rejected rows collected.

The app's ``BatchImporter`` sees rows already mapped to fields and answers with the
rows it rejects; it writes its batch atomically itself (its writes are its actions).

An importer may split its work in two (``TwoStageImporter``): ``check`` needs no database
and may run in a second process (``checking_process``) while ``write`` stores the
previous batch in this one; both stages run in this process when forking is not safe or
not worth it, with the same results.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Generator, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from django.db import transaction
from django.utils.translation import gettext as _

from fangkong.core.importing import bulk, checking_process
from fangkong.core.importing.errors import ErrorWorkbook
from fangkong.core.importing.fingerprints import UnchangedRows
from fangkong.core.importing.headers import HeaderGuess, ImportSchema, auto_map, find_header
from fangkong.core.importing.readers import ImportFileError, Table

# Rows per batch: one transaction each (a commit costs SQLite ~40 ms with its WAL sync).
BATCH_ROWS = 10000
# With checking in a second process: a small first batch lets writing start early, and
# smaller batches keep the two processes' memory under 350 MB together (10,000-row
# batches peaked at about 345 MB, 5,000-row ones at about 305 MB, the same speed).
FIRST_CHILD_BATCH = 1000
CHILD_BATCH_ROWS = 5000


class RowShape:
    """Which cell of a row holds which field (the mapping), picked in one C call for a
    full-width row."""

    __slots__ = ("_items", "_names", "_need", "_pick")

    def __init__(self, mapping: dict[int, str]) -> None:
        self._items = sorted(mapping.items())
        self._names = tuple(name for _col, name in self._items)
        columns = [col for col, _name in self._items]
        self._need = (columns[-1] + 1) if columns else 0
        self._pick = itemgetter(*columns) if len(columns) > 1 else None

    def values_of(self, cells: list[Any]) -> dict[str, Any]:
        if self._pick is not None and len(cells) >= self._need:
            return dict(zip(self._names, self._pick(cells), strict=True))
        width = len(cells)
        return {name: (cells[col] if col < width else None) for col, name in self._items}


class Row:
    """One data row: its 1-based number in the sheet (as the user sees it), the original
    cells (for the error workbook), and ``values``, field name → raw cell.

    ``values`` is made from the cells when first asked for: a re-import never asks for
    the rows it recognises by their fingerprint (core.importing.fingerprints), and a dict
    per row cost 0.1 s per 100,000 rows.
    """

    __slots__ = ("_shape", "_values", "cells", "number")

    def __init__(
        self,
        number: int,
        values: dict[str, Any] | None = None,
        cells: list[Any] | None = None,
        shape: RowShape | None = None,
    ) -> None:
        self.number = number
        self.cells: list[Any] = [] if cells is None else cells
        if values is None and shape is None:
            values = {}
        self._values = values
        self._shape = shape

    @property
    def values(self) -> dict[str, Any]:
        values = self._values
        if values is None:
            assert self._shape is not None
            values = self._values = self._shape.values_of(self.cells)
        return values

    def __reduce__(self) -> tuple[Any, ...]:
        return (Row, (self.number, self.values, self.cells))

    def __repr__(self) -> str:
        return f"Row({self.number}, {self.values!r})"


@dataclass
class Rejection:
    row: Row
    reason: str


class BatchImporter(Protocol):
    schema: ImportSchema

    def process(self, rows: list[Row]) -> list[Rejection]: ...

    def counts(self) -> dict[str, int]: ...


@dataclass(slots=True)
class CheckedBatch:
    """A batch after the checks that need no database: what to write, and what not."""

    rows: int  # how many rows the batch had (progress)
    items: list[Any]  # the importer's own picklable records, in row order
    rejections: list[Rejection]
    # Rows not checked: their fingerprint is a stored record's (core.importing.fingerprints).
    unchanged: UnchangedRows | None = None


@runtime_checkable
class TwoStageImporter(Protocol):
    """A BatchImporter whose ``process`` is ``write(check(rows))``.

    ``check`` must not touch the database (in a forked child it cannot) and must return
    something picklable; ``write`` runs in the importing process and writes atomically.
    """

    schema: ImportSchema

    def check(self, rows: list[Row]) -> CheckedBatch: ...

    def write(self, batch: CheckedBatch) -> list[Rejection]: ...

    def counts(self) -> dict[str, int]: ...


@dataclass
class ImportResult:
    counts: dict[str, int]
    rejected: int
    rows: int
    header_row: int  # 1-based
    error_file: Path | None = None
    reasons: dict[str, int] = field(default_factory=dict)  # most frequent reasons

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.counts,
            "rejected": self.rejected,
            "rows": self.rows,
            "header_row": self.header_row,
            "reasons": dict(sorted(self.reasons.items(), key=lambda kv: -kv[1])[:10]),
        }


def resolve_header(
    table: Table,
    schema: ImportSchema,
    header_row: int | None = None,
    mapping: dict[int, str] | None = None,
) -> HeaderGuess:
    """The header (found, or the 0-based row the user chose) and its mapping."""
    if not table.head:
        raise ImportFileError(_("The file is empty."))
    if header_row is not None:
        if not 0 <= header_row < len(table.head):
            raise ImportFileError(_("The chosen header row is not among the first rows."))
        cells = table.head[header_row]
        header = ["" if c is None else str(c).strip() for c in cells]
        guess = HeaderGuess(header_row, header, auto_map(cells, schema))
    else:
        found = find_header(table.head, schema)
        if found is None:
            raise ImportFileError(
                _(
                    "No header row was found: the file has a title but none of the expected "
                    "columns (such as 姓名, 身份证号, 联系电话)."
                )
            )
        guess = found
    if mapping is not None:
        guess.mapping = mapping
    missing = guess.missing(schema)
    if missing:
        raise ImportFileError(
            _("These required columns are missing: %(names)s.")
            % {"names": ", ".join(str(spec.label) for spec in missing)}
        )
    return guess


_BLANK = ("", None)


def _is_empty(cells: list[Any]) -> bool:
    # Two C-level passes instead of a generator per row (calamine gives "" for a blank).
    return cells.count("") + cells.count(None) == len(cells)


def iter_rows(table: Table, guess: HeaderGuess) -> Iterator[Row]:
    shape = RowShape(guess.mapping)
    skip = guess.row_index + 1
    for index, cells in enumerate(table.rows(), start=1):
        if index <= skip:
            continue
        # A row whose first cell is filled (most are: 序号 or 姓名) is not empty.
        if not cells or (cells[0] in _BLANK and _is_empty(cells)):
            continue
        yield Row(index, None, cells, shape)


def batched_rows(
    table: Table, guess: HeaderGuess, size: int, first: int | None = None
) -> Iterator[list[Row]]:
    """The data rows in lists of ``size`` (the first list of ``first``, when given)."""
    batch: list[Row] = []
    limit = first or size
    for row in iter_rows(table, guess):
        batch.append(row)
        if len(batch) >= limit:
            yield batch
            batch = []
            limit = size
    if batch:
        yield batch


def _checked_batches(
    table: Table, guess: HeaderGuess, importer: TwoStageImporter, batch_size: int
) -> Generator[CheckedBatch, None, None]:
    if not checking_process.may_check_in_child(table.total_rows):
        for rows in batched_rows(table, guess, batch_size):
            yield importer.check(rows)
        return
    batches = batched_rows(table, guess, min(batch_size, CHILD_BATCH_ROWS), FIRST_CHILD_BATCH)
    # The child has its own copy of the table: unless this process helps check (a first
    # batch with nothing to write, as in a re-import), it lets go of the rows it will
    # never read (calamine's parsed sheet is freed then). A CSV is never shared: its
    # file position is the child's too.
    checked = checking_process.checked_in_child(
        batches,
        importer.check,
        share_if=None if table.format == "csv" else _nothing_to_write,
        on_alone=table.release,
    )
    try:
        yield from checked
    finally:
        checked.close()


def _nothing_to_write(checked: CheckedBatch) -> bool:
    return not checked.items


def write_checked(importer: TwoStageImporter, checked: CheckedBatch) -> list[Rejection]:
    """Write one checked batch; the rejections of both stages, in row order."""
    rejections = checked.rejections + importer.write(checked)
    rejections.sort(key=lambda r: r.row.number)
    return rejections


def _write_in_transactions(
    importer: TwoStageImporter,
    batches: Iterator[CheckedBatch],
    rows_per_transaction: int,
    record: Callable[[list[Rejection], int], None],
) -> None:
    """Write every checked batch (each atomic in itself, a savepoint here), committing
    after about ``rows_per_transaction`` rows.

    A checking process sends batches of 5,000 rows; a commit for each cost SQLite about
    0.2 s per 100,000 rows, since every commit writes again the index pages the previous
    one wrote. Progress recorded inside a transaction shows once it commits.

    On PostgreSQL these commits do not wait for the WAL to reach the disk (as the lab
    results import, D29): an import is idempotent, so a crash that loses the last of them
    costs a re-run of the file, and the job's own final commit, which is synchronous,
    flushes the WAL up to it before the job is reported done.
    """
    while True:
        written = 0
        with transaction.atomic():
            bulk.commit_without_flush_wait()
            for checked in batches:
                record(write_checked(importer, checked), checked.rows)
                written += checked.rows
                if written >= rows_per_transaction:
                    break
            else:
                return


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while the rows stream (back on afterwards,
    if it was on).

    An import keeps a batch of rows alive as dicts, lists and small objects: each batch
    crosses the collector's thresholds again and again, and its full collections walk
    everything Django and the apps hold too. Measured on 100,000 ledger rows: 6.0 s with
    the collector, 4.3 s without (re-import 4.5 → 2.9 s). What an import frees is freed by
    reference counting as before; only reference cycles wait until the end (an import's
    code makes few: a rejection is cached as a message, never as an exception). The
    collector is process-wide: other threads of the process (another job) collect no
    cycles for that long either.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def run_import(
    table: Table,
    importer: BatchImporter | TwoStageImporter,
    guess: HeaderGuess,
    *,
    progress: Any = None,
    error_path: Path | None = None,
    reason_header: str = "",
    batch_size: int = BATCH_ROWS,
) -> ImportResult:
    """Feed every data row to ``importer`` in batches; rejected rows go to ``error_path``."""
    if progress is not None and table.total_rows is not None:
        progress.set_total(max(0, table.total_rows - guess.row_index - 1))
    errors: ErrorWorkbook | None = None
    rejected = rows = 0
    reasons: dict[str, int] = {}

    def record(rejections: list[Rejection], count: int) -> None:
        nonlocal errors, rejected, rows
        rows += count
        for rejection in rejections:
            rejected += 1
            reasons[rejection.reason] = reasons.get(rejection.reason, 0) + 1
            if error_path is not None:
                if errors is None:
                    errors = ErrorWorkbook(
                        error_path, guess.header, reason_header or _("Error reason")
                    )
                errors.add(rejection.row.cells, rejection.reason)
        if progress is not None:
            progress.advance(count)

    try:
        with collector_paused(), bulk.small_page_cache():
            if isinstance(importer, TwoStageImporter):
                # Closed here, not when the generator is collected: after a failed write
                # the exception's traceback would keep it, and the checking process
                # blocked on its pipe, alive.
                with closing(_checked_batches(table, guess, importer, batch_size)) as checked:
                    _write_in_transactions(importer, checked, batch_size, record)
            else:
                for batch in batched_rows(table, guess, batch_size):
                    record(importer.process(batch), len(batch))
    finally:
        if errors is not None:
            errors.close()
    return ImportResult(
        counts=importer.counts(),
        rejected=rejected,
        rows=rows,
        header_row=guess.row_index + 1,
        error_file=errors.path if errors is not None else None,
        reasons=reasons,
    )
