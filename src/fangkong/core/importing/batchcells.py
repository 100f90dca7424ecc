"""The original cells of a checked batch's rows, carried to the writing process as one
bytes object per row, unpickled there only for a row that is rejected.

A checked row keeps its cells for one reason: if the writing stage rejects it (a village
not found, a second row for the same person), the error workbook shows the row as the
user wrote it. That is rare, yet sending the cells of every row through the checking
process's pipe as Python lists cost the writing process about 0.2 s per 100,000 rows to
unpickle and free (1.3 million small objects). Pickled row by row they cost the checking
process less, too (0.19 s against 0.29 s per 100,000 rows: a whole batch in one pickle
memoizes every cell).
"""

from __future__ import annotations

import pickle
from typing import Any


def _from_pickled(pickled: list[bytes]) -> BatchCells:
    cells = BatchCells()
    cells._rows = None
    cells._pickled = pickled
    return cells


class BatchCells:
    """Rows' cells by index. Pickled as a list of bytes (``pickle`` keeps a batch's single
    instance once, however many rows refer to it)."""

    __slots__ = ("_pickled", "_rows")

    def __init__(self) -> None:
        self._rows: list[list[Any]] | None = []
        self._pickled: list[bytes] | None = None

    def add(self, cells: list[Any]) -> int:
        """Keep one row's cells; returns its index."""
        rows = self._rows
        assert rows is not None, "cells are added in the checking stage only"
        rows.append(cells)
        return len(rows) - 1

    def get(self, index: int) -> list[Any]:
        if self._rows is not None:
            return self._rows[index]
        assert self._pickled is not None
        row: list[Any] = pickle.loads(self._pickled[index])  # noqa: S301 - our own pipe
        return row

    def __reduce__(self) -> tuple[Any, ...]:
        if self._rows is None:
            return (_from_pickled, (self._pickled,))
        dumps, protocol = pickle.dumps, pickle.HIGHEST_PROTOCOL
        return (_from_pickled, ([dumps(row, protocol) for row in self._rows],))
