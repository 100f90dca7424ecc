"""Row fingerprints (D20): a re-import checks only the rows that changed since the last one.

An import stores, with each record it writes or updates, a 64-bit fingerprint of the row
it came from: the row's cells exactly as read (pickled, as they cross to the writing
process anyway), keyed by what gives those cells their meaning (the importer, the chosen
region, the column mapping, the importer's configuration). Before a row is checked, its
fingerprint is looked up among the records of the import's region: a hit means that
record was last written from this very row, so the row is counted unchanged without being
checked, matched or compared.

This is what a user means by "re-importing the same file changes nothing", and more: a
correction made by hand since the last import is kept, instead of being overwritten by
the stale row the file still holds. A row that differs in any cell is checked and applied
as usual (the file wins for that row).

A fingerprint that matches by accident needs two different rows with the same 64 bits
among the records of one region: about one chance in 10^8 for a million records.
"""

from __future__ import annotations

import hashlib
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from fangkong.core.importing.batchcells import PROTOCOL, BatchCells

# Raise when a checking rule changes what an unchanged row means: every stored
# fingerprint then stops matching, and the next import of each file checks all its rows.
FINGERPRINT_VERSION = 1

Fingerprint = Callable[[bytes], int]


def fingerprinter(*context: object) -> Fingerprint:
    """The fingerprint function of one import: ``context`` is what the cells mean (its
    ``repr`` must be stable across processes: strings, numbers and tuples of them)."""
    # The cells' bytes depend on the pickle protocol (batchcells.PROTOCOL): part of the key.
    seed = repr((FINGERPRINT_VERSION, PROTOCOL, context)).encode()
    # The context's digest leads the hashed bytes (blake2b's own key costs a block more
    # per row: twice the time of a row this size).
    prefix = hashlib.blake2b(seed, digest_size=16).digest()
    blake2b = hashlib.blake2b
    from_bytes = int.from_bytes

    def fingerprint(pickled_cells: bytes) -> int:
        digest = blake2b(prefix + pickled_cells, digest_size=8).digest()
        return from_bytes(digest, "big", signed=True)  # a signed 64-bit column holds it

    return fingerprint


# Up to this many records a dict answers (about 110 bytes a record, a lookup 0.2 µs);
# above it, two sorted arrays (16 bytes a record, a lookup 0.8 µs): a county's million
# people would take over 100 MB as a dict in each of the two import processes.
DICT_LIMIT = 250_000


class KnownRecords:
    """Fingerprint → record id of the records an import may meet again; ``get`` answers
    (None for an unknown fingerprint)."""

    __slots__ = ("_count", "_fingerprints", "_ids", "get")

    def __init__(self, pairs: Iterable[tuple[int, int]]) -> None:
        """``pairs``: (fingerprint, record id), sorted by fingerprint."""
        self._fingerprints = array("q")
        self._ids = array("q")
        last = None
        for fingerprint, record_id in pairs:
            if last is not None and fingerprint < last:
                raise ValueError("fingerprints must come sorted")
            last = fingerprint
            self._fingerprints.append(fingerprint)
            self._ids.append(record_id)
        self._count = len(self._fingerprints)
        self.get: Callable[[int], int | None]
        if self._count <= DICT_LIMIT:
            self.get = dict(zip(self._fingerprints, self._ids, strict=True)).get
            self._fingerprints, self._ids = array("q"), array("q")
        else:
            self.get = self._search

    def __len__(self) -> int:
        return self._count

    def _search(self, fingerprint: int) -> int | None:
        fingerprints = self._fingerprints
        index = bisect_left(fingerprints, fingerprint)
        if index < len(fingerprints) and fingerprints[index] == fingerprint:
            return self._ids[index]
        return None


@dataclass(slots=True)
class UnchangedRows:
    """A batch's rows whose fingerprint a stored record holds: their row numbers, the
    records' ids and the rows' cells (by index in ``cells``, for the error workbook if the
    writer finds a second row for the same record)."""

    cells: BatchCells
    numbers: list[int] = field(default_factory=list)
    record_ids: list[int] = field(default_factory=list)
    cells_indexes: list[int] = field(default_factory=list)

    def add(self, number: int, record_id: int, cells_index: int) -> None:
        self.numbers.append(number)
        self.record_ids.append(record_id)
        self.cells_indexes.append(cells_index)

    def __len__(self) -> int:
        return len(self.numbers)
