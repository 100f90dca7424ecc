"""The original cells of a checked batch's rows, carried to the writing process as one
bytes object per row, unpickled there only for a row that is rejected.

A checked row keeps its cells for one reason: if the writing stage rejects it (a village
not found, a second row for the same person), the error workbook shows the row as the
user wrote it. That is rare, yet sending the cells of every row through the checking
process's pipe as Python lists cost the writing process about 0.2 s per 100,000 rows to
unpickle and free (1.3 million small objects). Pickled row by row they cost the checking
process less, too (0.19 s against 0.29 s per 100,000 rows: a whole batch in one pickle
memoizes every cell). The checking stage pickles each row before anything else, since the
same bytes give the row's fingerprint (``core.importing.fingerprints``).
"""

from __future__ import annotations

import pickle
from typing import Any

PROTOCOL = pickle.HIGHEST_PROTOCOL


def pickled_cells(cells: list[Any]) -> bytes:
    return pickle.dumps(cells, PROTOCOL)


def _from_pickled(pickled: list[bytes]) -> BatchCells:
    cells = BatchCells()
    cells._pickled = pickled
    return cells


class BatchCells:
    """Rows' cells by index, kept pickled. Pickled as a list of bytes (``pickle`` keeps a
    batch's single instance once, however many rows refer to it)."""

    __slots__ = ("_pickled",)

    def __init__(self) -> None:
        self._pickled: list[bytes] = []

    def add(self, pickled: bytes) -> int:
        """Keep one row's cells (``pickled_cells`` of them); returns its index."""
        self._pickled.append(pickled)
        return len(self._pickled) - 1

    def get(self, index: int) -> list[Any]:
        row: list[Any] = pickle.loads(self._pickled[index])  # noqa: S301 - our own bytes
        return row

    def __reduce__(self) -> tuple[Any, ...]:
        return (_from_pickled, (self._pickled,))
