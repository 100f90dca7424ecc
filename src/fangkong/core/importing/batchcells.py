"""The original cells of a checked batch's rows, carried to the writing process as one
blob and unpickled there only if one of them is needed.

A checked row keeps its cells for one reason: if the writing stage rejects it (a village
not found, a second row for the same person), the error workbook shows the row as the
user wrote it. That is rare, yet sending the cells of every row through the checking
process's pipe as Python lists cost the writing process about 0.1 s per 100,000 rows to
unpickle (1.3 million small objects, freed again a batch later).
"""

from __future__ import annotations

import pickle
from typing import Any


def _from_blob(blob: bytes) -> BatchCells:
    cells = BatchCells()
    cells._rows = None
    cells._blob = blob
    return cells


class BatchCells:
    """Rows' cells by index; pickled as one bytes object (``pickle`` keeps a batch's
    single instance once, however many rows refer to it)."""

    __slots__ = ("_blob", "_rows")

    def __init__(self) -> None:
        self._rows: list[list[Any]] | None = []
        self._blob: bytes | None = None

    def add(self, cells: list[Any]) -> int:
        """Keep one row's cells; returns its index."""
        rows = self._rows
        assert rows is not None, "cells are added in the checking stage only"
        rows.append(cells)
        return len(rows) - 1

    def get(self, index: int) -> list[Any]:
        if self._rows is None:
            self._rows = pickle.loads(self._blob or b"")  # noqa: S301 - our own pipe
            self._blob = None
        return self._rows[index]

    def __reduce__(self) -> tuple[Any, ...]:
        blob = (
            self._blob
            if self._rows is None
            else pickle.dumps(self._rows, protocol=pickle.HIGHEST_PROTOCOL)
        )
        return (_from_blob, (blob,))
