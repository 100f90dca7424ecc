"""One people import run: batches of rows checked, then written in one transaction each.

``PeopleImporter`` is the ``BatchImporter`` that ``core.importing.run_import`` drives: it
checks each row (``checking``), rejects a second row for the same person naming the first,
and writes the batch (``writing``) atomically; a dry run rolls each batch back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils.translation import gettext as _

from fangkong.core import audit
from fangkong.core.importing.batchcells import BatchCells, pickled_cells
from fangkong.core.importing.fingerprints import (
    Fingerprint,
    KnownRecords,
    UnchangedRows,
    fingerprinter,
)
from fangkong.core.importing.headers import ImportSchema
from fangkong.core.importing.runner import CheckedBatch, Rejection, Row, write_checked
from fangkong.people.importing.cells import RowError
from fangkong.people.importing.checking import Candidate, RowChecker
from fangkong.people.importing.schema import JOB_KIND, PEOPLE_SCHEMA
from fangkong.people.importing.writing import BatchWriter, same_person_as


def drop_tracebacks(exc: BaseException | None) -> None:
    """Forget the tracebacks of a handled rejection and of the exceptions it arose from.

    Django's ValidationError refers to itself (``error_list = [self]``), so it lives until
    the cyclic collector runs, and so do the frames of its traceback, each holding its
    caller: up to ``process`` and its batch. With the collector paused for the import
    (core.importing.runner.collector_paused) a bad phone number kept its whole batch of
    rows alive until the end.
    """
    for _depth in range(8):
        if exc is None:
            return
        exc.__traceback__ = None
        exc = exc.__context__


@dataclass
class PeopleImporter(RowChecker, BatchWriter):
    """One import run. ``region_code`` is the chosen region; ``actor`` None is the system."""

    dry_run: bool = False
    filename: str = ""
    schema: ImportSchema = field(default_factory=lambda: PEOPLE_SCHEMA)
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    # The first row of each person seen in this file (its key → row number).
    _seen: dict[tuple[Any, ...], int] = field(default_factory=dict)
    _seen_ids: dict[int, int] = field(default_factory=dict)  # BatchWriter's
    # Set by ``prepare``: the rows' fingerprint, and those of the people in the region.
    _fingerprint: Fingerprint | None = None
    _known: KnownRecords | None = None

    def counts(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged}

    def known_loader(self) -> Callable[[], None]:
        """A function that reads the fingerprints of the people the import may meet again
        (before a checking process forks and inherits them), callable from another thread
        while this one parses the file: its query and its cursor are made here, in this
        thread, whose connection (and transaction) a helper's own would not see, and which
        this thread does not use meanwhile (Django opens SQLite connections with
        ``check_same_thread=False``; psycopg's are thread-safe)."""
        query, cursor = self.known_records_query(), connection.cursor()

        def load() -> None:
            self._known = self.known_records(query, cursor)

        return load

    def prepare(self, mapping: dict[int, str]) -> None:
        """Before the first batch: the rows' fingerprint function for this mapping (and
        the known fingerprints, if ``known_loader``'s function has not run)."""
        self._fingerprint = fingerprinter(
            JOB_KIND,
            self.region_code,
            tuple(sorted(mapping.items())),
            tuple(sorted(self._groups.items())),
        )
        if self._known is None:
            self.known_loader()()

    def process(self, rows: list[Row]) -> list[Rejection]:
        return write_checked(self, self.check(rows))

    def check(self, rows: list[Row]) -> CheckedBatch:
        """Every row's own checks; no database (this may run in the checking process).

        A row whose fingerprint a person in the region holds is not checked: it is the
        row that person was last imported from (core.importing.fingerprints). Its cells
        go to the writer all the same: it rejects the row if an earlier row of the file
        named the same person, which no checking process can know (each may check only
        some of the batches).
        """
        fingerprint, known = self._fingerprint, self._known
        assert fingerprint is not None and known is not None, "prepare() comes first"
        find = known.get
        rejections: list[Rejection] = []
        candidates: list[Candidate] = []
        cells_of = BatchCells()
        unchanged = UnchangedRows(cells_of)
        for row in rows:
            pickled = pickled_cells(row.cells)
            printed = fingerprint(pickled)
            person_id = find(printed)
            if person_id is not None:
                unchanged.add(row.number, person_id, cells_of.add(pickled))
                continue
            try:
                candidate = self.clean_row(row, cells_of, pickled, printed)
            except RowError as exc:
                rejections.append(Rejection(row, str(exc)))
                drop_tracebacks(exc)
                continue
            except ValidationError as exc:
                rejections.append(Rejection(row, " ".join(exc.messages)))
                drop_tracebacks(exc)
                continue
            candidates.append(candidate)
        return CheckedBatch(len(rows), candidates, rejections, unchanged or None)

    def write(self, checked: CheckedBatch) -> list[Rejection]:
        """Place the checked rows in their villages, skip a second row for one person,
        and write the rest in one transaction (rolled back for a dry run)."""
        rejections: list[Rejection] = []
        candidates: list[Candidate] = []
        seen = self._seen
        for candidate in checked.items:
            try:
                self.place(candidate)
            except RowError as exc:
                rejections.append(Rejection(candidate.row(), str(exc)))
                drop_tracebacks(exc)
                continue
            first = seen.get(candidate.key)
            if first is not None:
                rejections.append(Rejection(candidate.row(), same_person_as(first)))
                continue
            seen[candidate.key] = candidate.number
            candidates.append(candidate)
        if candidates or checked.unchanged:
            with transaction.atomic():
                rejections += self._write(candidates, checked.unchanged)
                if self.dry_run:
                    transaction.set_rollback(True)
        return rejections

    def record_summary(self, rejected: int, job_id: str = "") -> None:
        """The one audit entry of the whole import (not written for a dry run)."""
        if self.dry_run:
            return
        audit.record(
            self.actor,
            JOB_KIND,
            object_type="people.person",
            object_id=job_id,
            region_code=self.region_code,
            after={
                "file": self.filename,
                "created": self.created,
                "updated": self.updated,
                "unchanged": self.unchanged,
                "rejected": rejected,
            },
        )


def import_people_file(
    path: Path,
    *,
    actor: Any,
    region_code: str = "",
    dry_run: bool = False,
    header_row: int | None = None,
    mapping: dict[int, str] | None = None,
    progress: Any = None,
    error_path: Path | None = None,
    job_id: str = "",
    filename: str = "",
) -> dict[str, Any]:
    """Import one file (the job handler and the tests call this); returns the summary."""
    from fangkong.core.importing.runner import collector_paused

    # Paused around the importer's whole life, not only run_import's loop: its caches
    # (names, the rows seen) are freed before the collector runs again, instead of being
    # walked by the first collection after it (0.4 s for 100,000 rows).
    with collector_paused():
        return _import_file(
            path,
            actor=actor,
            region_code=region_code,
            dry_run=dry_run,
            header_row=header_row,
            mapping=mapping,
            progress=progress,
            error_path=error_path,
            job_id=job_id,
            filename=filename,
        )


def _import_file(
    path: Path,
    *,
    actor: Any,
    region_code: str,
    dry_run: bool,
    header_row: int | None,
    mapping: dict[int, str] | None,
    progress: Any,
    error_path: Path | None,
    job_id: str,
    filename: str,
) -> dict[str, Any]:
    from fangkong.core.importing.readers import open_table
    from fangkong.core.importing.runner import resolve_header, run_import
    from fangkong.people.names import load_dictionaries

    importer = PeopleImporter(
        actor=actor, region_code=region_code, dry_run=dry_run, filename=filename or path.name
    )
    load_known = importer.known_loader()

    def while_reading() -> None:
        load_dictionaries()
        load_known()

    table = open_table(path, while_reading=while_reading)
    guess = resolve_header(table, PEOPLE_SCHEMA, header_row, mapping)
    importer.prepare(guess.mapping)
    result = run_import(
        table,
        importer,
        guess,
        progress=progress,
        error_path=error_path,
        reason_header=_("Error reason"),
    )
    importer.record_summary(result.rejected, job_id)
    summary = result.as_dict()
    summary["dry_run"] = dry_run
    if result.error_file is not None:
        summary["error_file"] = result.error_file.name
    return summary
