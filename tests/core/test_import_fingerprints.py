"""Row fingerprints: stable across processes, sensitive to every cell and to the context."""

from __future__ import annotations

import datetime as dt
import pickle
import subprocess
import sys
from typing import Any

import pytest

from fangkong.core.importing import fingerprints
from fangkong.core.importing.batchcells import BatchCells, pickled_cells
from fangkong.core.importing.fingerprints import KnownRecords, UnchangedRows, fingerprinter

ROW: list[Any] = [1, "张三", "410522199001011234", 13800138000.0, dt.datetime(2022, 1, 20), None]
CONTEXT = ("people", "410522116", ((1, "name"), (2, "id_number")))


def test_the_same_row_gives_the_same_fingerprint_in_another_process() -> None:
    here = fingerprinter(*CONTEXT)(pickled_cells(list(ROW)))
    code = (
        "import datetime\n"
        "from fangkong.core.importing.batchcells import pickled_cells\n"
        "from fangkong.core.importing.fingerprints import fingerprinter\n"
        f"print(fingerprinter(*{CONTEXT!r})(pickled_cells({ROW!r})))\n"
    )
    there = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert int(there) == here
    assert -(2**63) <= here < 2**63  # fits a signed 64-bit column


@pytest.mark.parametrize("index", range(len(ROW)))
def test_any_changed_cell_changes_it(index: int) -> None:
    fingerprint = fingerprinter(*CONTEXT)
    changed = list(ROW)
    changed[index] = "x"
    assert fingerprint(pickled_cells(changed)) != fingerprint(pickled_cells(ROW))


def test_the_context_changes_it() -> None:
    cells = pickled_cells(ROW)
    prints = {
        fingerprinter(*CONTEXT)(cells),
        fingerprinter("people", "410522116001", CONTEXT[2])(cells),
        fingerprinter("people", "410522116", ((1, "name"), (3, "id_number")))(cells),
        fingerprinter("screening", *CONTEXT[1:])(cells),
    }
    assert len(prints) == 4


def test_a_cell_typed_differently_is_another_row() -> None:
    """13800138000 typed as a number and as text are different cells (checked again)."""
    fingerprint = fingerprinter(*CONTEXT)
    as_text = [*ROW[:3], "13800138000", *ROW[4:]]
    assert fingerprint(pickled_cells(as_text)) != fingerprint(pickled_cells(ROW))


def test_known_records_find_exactly_the_stored_fingerprints() -> None:
    pairs = [(-(2**63), 7), (-5, 1), (0, 3), (42, 2), (2**63 - 1, 9)]
    known = KnownRecords(iter(pairs))
    assert len(known) == 5
    assert [known.get(f) for f, _id in pairs] == [7, 1, 3, 2, 9]
    assert [known.get(f) for f in (-6, 1, 43, 2**62)] == [None] * 4
    assert KnownRecords([]).get(0) is None


def test_many_known_records_are_searched_in_sorted_arrays(monkeypatch: pytest.MonkeyPatch) -> None:
    """Above DICT_LIMIT the same answers come from two sorted arrays (16 bytes a record)."""
    monkeypatch.setattr(fingerprints, "DICT_LIMIT", 3)
    pairs = [(-(2**63), 7), (-5, 1), (0, 3), (42, 2), (2**63 - 1, 9)]
    known = KnownRecords(pairs)
    assert len(known._fingerprints) == 5
    assert [known.get(f) for f, _id in pairs] == [7, 1, 3, 2, 9]
    assert [known.get(f) for f in (-(2**63) + 1, -6, 1, 43, 2**62)] == [None] * 5


def test_known_records_must_come_sorted() -> None:
    with pytest.raises(ValueError, match="sorted"):
        KnownRecords([(5, 1), (3, 2)])


def test_unchanged_rows_cross_the_pipe_with_their_cells() -> None:
    cells = BatchCells()
    unchanged = UnchangedRows(cells)
    unchanged.add(12, 700, cells.add(pickled_cells(["张三", 1])))
    unchanged.add(15, 701, cells.add(pickled_cells(["李四", 2])))
    loaded = pickle.loads(pickle.dumps(unchanged))  # noqa: S301 - our own bytes
    assert (loaded.numbers, loaded.record_ids, len(loaded)) == ([12, 15], [700, 701], 2)
    assert loaded.cells.get(loaded.cells_indexes[1]) == ["李四", 2]
