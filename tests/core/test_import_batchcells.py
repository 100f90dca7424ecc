"""A checked batch's cells cross the pipe as bytes, each row unpickled only when asked for."""

from __future__ import annotations

import pickle
from typing import Any

from fangkong.core.importing.batchcells import BatchCells, pickled_cells


def roundtrip(value: Any) -> Any:
    """What the pipe to the checking process does (our own bytes, never a user's)."""
    return pickle.loads(pickle.dumps(value))  # noqa: S301


def test_cells_come_back_by_index_in_process() -> None:
    cells = BatchCells()
    first = cells.add(pickled_cells(["张三", "410522199001011234"]))
    second = cells.add(pickled_cells(["李四", None, 3.5]))
    assert (first, second) == (0, 1)
    assert cells.get(1) == ["李四", None, 3.5]


def test_pickled_once_for_all_rows_that_refer_to_it() -> None:
    cells = BatchCells()
    items = [(cells, cells.add(pickled_cells([f"row {n}", n]))) for n in range(50)]
    loaded = roundtrip(items)
    shared = {id(of) for of, _index in loaded}
    assert len(shared) == 1  # one instance, as before pickling
    of = loaded[0][0]
    assert all(isinstance(row, bytes) for row in of._pickled)  # nothing unpickled yet
    assert of.get(49) == ["row 49", 49]
    assert of.get(0) == ["row 0", 0]


def test_a_loaded_batch_pickles_again() -> None:
    cells = BatchCells()
    cells.add(pickled_cells(["王五"]))
    once = roundtrip(cells)
    twice = roundtrip(once)
    assert twice.get(0) == ["王五"]
