"""Checking an import's rows in a forked child while the parent writes.

core.importing.checking_process: results come back in order; the child cannot use the
database; its failures reach the parent (a file error as ImportFileError, anything else
as RuntimeError); a parent that stops early leaves no child behind; and forking is chosen
only where it is safe (one thread, Linux, a large table, the setting on).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import xlsxwriter

from fangkong.core.importing import checking_process, runner
from fangkong.core.importing.checking_process import checked_in_child, may_check_in_child
from fangkong.core.importing.readers import ImportFileError, open_table

pytestmark = pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="needs fork"
)


def _numbers(count: int, size: int) -> Iterator[list[int]]:
    for start in range(0, count, size):
        yield list(range(start, min(count, start + size)))


def _square_with_pid(batch: list[int]) -> tuple[int, list[int]]:
    return os.getpid(), [n * n for n in batch]


def test_batches_come_back_checked_in_order_from_another_process() -> None:
    results = list(checked_in_child(_numbers(25, 10), _square_with_pid))
    assert [squares for _pid, squares in results] == [
        [n * n for n in range(0, 10)],
        [n * n for n in range(10, 20)],
        [n * n for n in range(20, 25)],
    ]
    assert {pid for pid, _squares in results} != {os.getpid()}
    assert multiprocessing.active_children() == []


def test_nothing_to_check_gives_nothing() -> None:
    assert list(checked_in_child(iter([]), _square_with_pid)) == []


def _query(batch: list[int]) -> list[int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return batch


@pytest.mark.django_db
def test_the_child_may_not_use_the_database() -> None:
    with pytest.raises(RuntimeError, match="must not use the database"):
        list(checked_in_child(_numbers(5, 5), _query))
    # The parent's connection is untouched by the child's attempt.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT 2")
        assert cursor.fetchone()[0] == 2


def _fail(batch: list[int]) -> list[int]:
    raise ValueError("a bug in a check")


def test_a_failure_in_the_child_is_raised_with_its_traceback() -> None:
    with pytest.raises(RuntimeError, match=r"(?s)checking process failed.*a bug in a check"):
        list(checked_in_child(_numbers(5, 5), _fail))
    assert multiprocessing.active_children() == []


def _unreadable() -> Iterator[list[int]]:
    yield [1]
    raise ImportFileError("The text file is not in UTF-8 or GB18030")


def test_a_file_error_while_reading_is_a_file_error_in_the_parent() -> None:
    checked = checked_in_child(_unreadable(), _square_with_pid)
    assert next(checked)[1] == [1]
    with pytest.raises(ImportFileError, match="not in UTF-8"):
        next(checked)


def _die(batch: list[int]) -> list[int]:
    os._exit(3)


def test_a_child_that_dies_is_reported() -> None:
    with pytest.raises(RuntimeError, match=r"ended early \(exit code 3\)"):
        list(checked_in_child(_numbers(5, 5), _die))


def test_a_parent_that_stops_early_leaves_no_child() -> None:
    checked = checked_in_child(_numbers(10_000_000, 1000), _square_with_pid)
    next(checked)
    checked.close()
    assert multiprocessing.active_children() == []


def test_forking_only_where_safe_and_worth_it(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The test process's own threads (pytest-xdist's) are not the point here.
    monkeypatch.setattr(checking_process.threading, "active_count", lambda: 1)
    big = checking_process.CHILD_MIN_ROWS
    assert may_check_in_child(big) is True
    assert may_check_in_child(big - 1) is False
    assert may_check_in_child(None) is False  # a CSV: its length is not known
    settings.IMPORT_CHECK_IN_CHILD = False
    assert may_check_in_child(big) is False
    settings.IMPORT_CHECK_IN_CHILD = True
    # Another thread might hold a lock at the moment of the fork (a threaded server).
    monkeypatch.setattr(checking_process.threading, "active_count", lambda: 2)
    assert may_check_in_child(big) is False


def _workbook(path: Path, rows: int) -> Path:
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = book.add_worksheet()
    for n in range(rows):
        sheet.write_row(n, 0, [f"row {n}", n])
    book.close()
    return path


def test_a_released_workbook_table_lets_go_of_its_rows(tmp_path: Path) -> None:
    table = open_table(_workbook(tmp_path / "a.xlsx", 50))
    table.release()
    assert list(table.rest) == []


def test_a_released_csv_table_is_left_to_the_child(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("".join(f"row {n},{n}\n" for n in range(100)), encoding="utf-8")
    table = open_table(path)
    table.release()
    assert len(list(table.rest)) == 100 - len(table.head)


@pytest.mark.django_db
def test_the_runner_checks_a_large_workbook_in_the_child(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """run_import takes the child path by itself for a table of CHILD_MIN_ROWS rows, and
    hands every row to the two stages once, in order."""
    from fangkong.core.importing.headers import FieldSpec, ImportSchema

    rows = checking_process.CHILD_MIN_ROWS + 5
    book = xlsxwriter.Workbook(str(tmp_path / "big.xlsx"), {"constant_memory": True})
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["name", "number"])
    for n in range(rows):
        sheet.write_row(n + 1, 0, [f"row {n}", n])
    book.close()

    forked: list[bool] = []
    real = checking_process.checked_in_child

    def spy(batches: Any, check: Any, **options: Any) -> Any:
        forked.append(True)
        return real(batches, check, **options)

    monkeypatch.setattr(checking_process, "checked_in_child", spy)
    monkeypatch.setattr(checking_process.threading, "active_count", lambda: 1)  # xdist's

    class Importer:
        schema = ImportSchema(
            [FieldSpec("name", "name", required=True), FieldSpec("number", "number")]
        )

        def __init__(self) -> None:
            self.written: list[int] = []
            self.batches: list[int] = []

        def check(self, batch: list[runner.Row]) -> runner.CheckedBatch:
            odd = [r for r in batch if int(r.values["number"]) % 2]
            even = [int(r.values["number"]) for r in batch if not int(r.values["number"]) % 2]
            return runner.CheckedBatch(len(batch), even, [runner.Rejection(r, "odd") for r in odd])

        def write(self, checked: runner.CheckedBatch) -> list[runner.Rejection]:
            from django.db import connection

            # Written inside a transaction that spans about BATCH_ROWS rows, whose commit
            # on PostgreSQL does not wait for the WAL flush.
            assert connection.in_atomic_block
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SHOW synchronous_commit")
                    assert cursor.fetchone()[0] == "off"
            self.batches.append(checked.rows)
            self.written.extend(checked.items)
            return []

        def counts(self) -> dict[str, int]:
            return {"written": len(self.written)}

    table = open_table(tmp_path / "big.xlsx")
    importer = Importer()
    guess = runner.resolve_header(table, importer.schema)
    result = runner.run_import(table, importer, guess)
    assert forked == [True]
    assert result.rows == rows
    # A small first batch (writing starts early), then batches of CHILD_BATCH_ROWS.
    assert importer.batches[0] == runner.FIRST_CHILD_BATCH
    assert set(importer.batches[1:-1]) == {runner.CHILD_BATCH_ROWS}
    assert importer.written == list(range(0, rows, 2))
    assert result.rejected == rows // 2


def test_something_loads_while_the_workbook_is_read(tmp_path: Path) -> None:
    loaded: list[str] = []
    threads_before = threading.active_count()
    table = open_table(_workbook(tmp_path / "a.xlsx", 50), while_reading=lambda: loaded.append("x"))
    assert loaded == ["x"] and len(table.head) == 30
    # Joined before open_table returns: a fork afterwards sees one thread again.
    assert threading.active_count() == threads_before


def _slow_square_with_pid(batch: list[int]) -> tuple[int, list[int]]:
    import time

    time.sleep(0.005)
    return os.getpid(), [n * n for n in batch]


@pytest.mark.parametrize("share", [True, False])
def test_the_parent_helps_only_when_the_first_batch_says_so(share: bool) -> None:
    """Sharing: both processes check batches (each from its own copy), every batch once,
    in order, and the parent keeps its rows. Without: the parent only receives, and lets
    go of its rows after the first batch."""
    released: list[bool] = []
    results = list(
        checked_in_child(
            _numbers(400, 5),
            _slow_square_with_pid,
            share_if=lambda _first: share,
            on_alone=lambda: released.append(True),
        )
    )
    assert [n for _pid, batch in results for n in batch] == [n * n for n in range(400)]
    pids = [pid for pid, _batch in results]
    assert pids[0] != os.getpid()  # the first is the child's: it decides
    assert (os.getpid() in pids) is share
    assert released == ([] if share else [True])


def test_a_failure_while_reading_is_raised_after_the_file_is_open(tmp_path: Path) -> None:
    def broken() -> None:
        raise LookupError("no dictionaries")

    with pytest.raises(LookupError, match="no dictionaries"):
        open_table(_workbook(tmp_path / "a.xlsx", 5), while_reading=broken)


@pytest.mark.django_db
def test_an_import_runs_with_a_small_sqlite_page_cache_and_restores_it() -> None:
    from django.db import connection

    from fangkong.core.importing import bulk

    if connection.vendor != "sqlite":
        with bulk.small_page_cache():
            pass  # nothing to change on PostgreSQL
        return

    def cache_size() -> int:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA cache_size")
            return int(cursor.fetchone()[0])

    before = cache_size()
    with bulk.small_page_cache():
        assert cache_size() == -bulk.IMPORT_PAGE_CACHE_KIB
    assert cache_size() == before
    with pytest.raises(ZeroDivisionError), bulk.small_page_cache():
        1 / 0  # noqa: B018
    assert cache_size() == before


@pytest.mark.django_db
def test_a_failed_write_leaves_no_checking_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fangkong.core.importing.headers import FieldSpec, ImportSchema

    book = xlsxwriter.Workbook(str(tmp_path / "big.xlsx"), {"constant_memory": True})
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["name", "number"])
    for n in range(20_000):
        sheet.write_row(n + 1, 0, [f"row {n}", n])
    book.close()
    monkeypatch.setattr(checking_process, "may_check_in_child", lambda _total: True)

    class Failing:
        schema = ImportSchema(
            [FieldSpec("name", "name", required=True), FieldSpec("number", "number")]
        )

        def check(self, batch: list[runner.Row]) -> runner.CheckedBatch:
            return runner.CheckedBatch(len(batch), [], [])

        def write(self, checked: runner.CheckedBatch) -> list[runner.Rejection]:
            raise RuntimeError("the disk is full")

        def counts(self) -> dict[str, int]:
            return {}

    table = open_table(tmp_path / "big.xlsx")
    importer = Failing()
    guess = runner.resolve_header(table, importer.schema)
    with pytest.raises(RuntimeError, match="the disk is full") as failure:
        runner.run_import(table, importer, guess)
    # Gone although the exception (and its traceback's frames) are still alive here.
    assert failure.value is not None
    assert multiprocessing.active_children() == []
