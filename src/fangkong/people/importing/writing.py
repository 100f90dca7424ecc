"""Writing a checked batch of people: plain tuples through executemany (SQLite) or COPY
(PostgreSQL), in the caller's transaction.

Existing persons are looked up per batch with one indexed query per document type (and
one by name key for people without a document); only changed fields are updated, and each
updated person gets an audit entry with before and after. New rows never become Django
model objects.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from fangkong.accounts.roles import Perm
from fangkong.core import audit
from fangkong.core.importing import bulk
from fangkong.core.importing.fingerprints import KnownRecords, UnchangedRows
from fangkong.core.importing.runner import Rejection, Row
from fangkong.core.regioncodes import upper_bound
from fangkong.core.scoping import restrict
from fangkong.people.importing.checking import (
    FIRST_PERSON_FIELD,
    INSERT_FIELDS,
    PERSON_FIELDS,
    Candidate,
)
from fangkong.people.models import Person, PersonTag, ReturneeRecord

INSERT_COLUMNS = (
    "id",
    "created_at",
    "updated_at",
    *INSERT_FIELDS,
    "region_code",
    "import_fingerprint",
)
RETURN_COLUMNS = (
    "region_code",
    "created_at",
    "updated_at",
    "person_id",
    "origin",
    "arrival_date",
    "transport",
    "origin_risk",
    "note",
)
TAG_COLUMNS = ("region_code", "created_at", "updated_at", "person_id", "group_id", "note")
# What ``_existing`` reads of a stored person: its id and document, then PERSON_FIELDS
# (region_code last), in the order of ``Candidate.insert_values`` from "name" on, then
# the fingerprint of the row it was last imported from.
STORED_COLUMNS = ("id", "id_type", "id_number", *PERSON_FIELDS, "import_fingerprint")
_STORED_ID = STORED_COLUMNS.index("id")
_STORED_ID_TYPE = STORED_COLUMNS.index("id_type")
_STORED_ID_NUMBER = STORED_COLUMNS.index("id_number")
_STORED_FIRST_FIELD = STORED_COLUMNS.index(PERSON_FIELDS[0])
_STORED_NAME_KEY = STORED_COLUMNS.index("name_key")
_STORED_BIRTH = STORED_COLUMNS.index("birth_date")
_STORED_PHONE = STORED_COLUMNS.index("phone")
_STORED_REGION = STORED_COLUMNS.index("region_code")
_STORED_FINGERPRINT = STORED_COLUMNS.index("import_fingerprint")


def same_person_as(first_row: int) -> str:
    """Why a second row for one person is rejected."""
    return _("The same person as row %(row)d of this file; this row was skipped.") % {
        "row": first_row
    }


class BatchWriter:
    """The write half of the people importer (mixed into ``PeopleImporter``)."""

    actor: Any
    dry_run: bool
    created: int
    updated: int
    unchanged: int
    region_code: str
    _db_date: Callable[[dt.date | None], Any]
    # The first row naming each stored person in this file (person id → row number).
    _seen_ids: dict[int, int]

    def in_scope(self, code: str) -> bool:  # pragma: no cover - provided by RowChecker
        raise NotImplementedError

    def known_records_query(self) -> tuple[str, tuple[Any, ...]]:
        """The SQL (and its parameters) of the fingerprints of the people this import may
        update: the actor's scope (``restrict``), within the import's region, not merged;
        sorted, with their ids. Built in the importing thread; ``known_records`` may run
        it in another."""
        people = Person.objects.filter(import_fingerprint__isnull=False, merged_into=None)
        if self.actor is not None:
            people = restrict(people, self.actor, Perm.IMPORT_PEOPLE)
        if self.region_code:
            people = people.filter(
                region_code__gte=self.region_code, region_code__lt=upper_bound(self.region_code)
            )
        query = people.order_by("import_fingerprint").values_list("import_fingerprint", "id")
        sql, params = query.query.sql_with_params()
        return sql, tuple(params)

    @staticmethod
    def known_records(query: tuple[str, tuple[Any, ...]], cursor: Any) -> KnownRecords:
        """Run ``known_records_query`` on ``cursor`` (a Django cursor, which it closes),
        fetching 10,000 rows at a time into ``KnownRecords``."""
        sql, params = query
        try:
            cursor.execute(sql, params)
            return KnownRecords(
                row for rows in iter(lambda: cursor.fetchmany(10_000), []) for row in rows
            )
        finally:
            cursor.close()

    def _existing(self, candidates: list[Candidate]) -> dict[tuple[Any, ...], tuple[Any, ...]]:
        """The stored persons the candidates name, by ``Candidate.key``, each as the row
        ``STORED_COLUMNS`` (dates in the form the candidates' ``insert_values`` hold them,
        so an unchanged person compares equal as one tuple)."""
        found: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        # SQLite: the date column read as the text it stores; selected bare, Django's
        # converter would make a date of every one (and the comparison would need the text).
        birth = '"birth_date"' if bulk.is_postgres() else "(\"birth_date\" || '')"
        select = ", ".join(birth if c == "birth_date" else f'"{c}"' for c in STORED_COLUMNS)
        table = self._table(Person)
        by_type: dict[str, set[str]] = {}
        for c in candidates:
            if c.id_number:
                by_type.setdefault(c.id_type, set()).add(c.id_number)
        for id_type, wanted in by_type.items():
            # Written so the partial unique index (id_type, id_number) is used.
            sql = (
                f'SELECT {select} FROM "{table}" WHERE "id_type" = {{p}} AND "id_number" '  # noqa: S608
                'IN ({in}) AND NOT ("id_number" = \'\') AND "merged_into_id" IS NULL'
            )
            for row in bulk.select_in(sql, sorted(wanted), [id_type]):
                found[(row[_STORED_ID_TYPE], row[_STORED_ID_NUMBER])] = row
        loose = [c for c in candidates if not c.id_number]
        if loose:
            keys = sorted({c.name_key for c in loose})
            regions = {c.region for c in loose}
            sql = (
                f'SELECT {select} FROM "{table}" WHERE "name_key" IN ({{in}}) '  # noqa: S608
                'AND "id_number" = \'\' AND "merged_into_id" IS NULL'
            )
            for row in bulk.select_in(sql, keys):
                region = row[_STORED_REGION]
                if region not in regions:
                    continue
                # Keyed like Candidate.key: by birth date, by phone, or by name alone when
                # the ledger knew neither (so such a row is found again, not duplicated).
                birth_date = bulk.as_date(row[_STORED_BIRTH])
                phone = row[_STORED_PHONE]
                seconds = [v for v in (birth_date, phone) if v] or [""]
                name_key = row[_STORED_NAME_KEY]
                for second in seconds:
                    found.setdefault((region, name_key, second), row)
        return found

    @staticmethod
    def _stored_fields(row: tuple[Any, ...]) -> dict[str, Any]:
        """A stored row's PERSON_FIELDS as Python values (for the comparison field by
        field and the audit entry)."""
        values = dict(zip(PERSON_FIELDS, row[_STORED_FIRST_FIELD:_STORED_FINGERPRINT], strict=True))
        values["birth_date"] = bulk.as_date(values["birth_date"])
        return values

    def _first_of_each_person(
        self,
        matched: list[tuple[Candidate, tuple[Any, ...]]],
        unchanged: UnchangedRows | None,
        rejections: list[Rejection],
    ) -> list[tuple[Candidate, tuple[Any, ...]]]:
        """Of the rows that name a stored person, checked (``matched``) or not
        (``unchanged``: the row it was last imported from), only the first in the file is
        applied; a later one is rejected, as a second row with the same key is
        (``PeopleImporter.write``). Returns the matched rows that are applied; each
        unchanged row that is the first counts as unchanged."""
        seen = self._seen_ids
        # (row number, person id, index): >= 0 into matched, < 0 into unchanged (~index).
        entries = [(c.number, stored[_STORED_ID], i) for i, (c, stored) in enumerate(matched)]
        if unchanged is not None:
            entries.extend(
                zip(
                    unchanged.numbers,
                    unchanged.record_ids,
                    range(-1, -len(unchanged) - 1, -1),
                    strict=True,
                )
            )
            if matched:
                entries.sort()
        kept: list[tuple[Candidate, tuple[Any, ...]]] = []
        for number, pk, index in entries:
            first = seen.get(pk)
            if first is None:
                seen[pk] = number
                if index >= 0:
                    kept.append(matched[index])
                else:
                    self.unchanged += 1
                continue
            if index >= 0:
                row = matched[index][0].row()
            else:
                assert unchanged is not None
                row = Row(number, {}, unchanged.cells.get(unchanged.cells_indexes[~index]))
            rejections.append(Rejection(row, same_person_as(first)))
        return kept

    def _write(
        self, candidates: list[Candidate], unchanged: UnchangedRows | None = None
    ) -> list[Rejection]:
        rejections: list[Rejection] = []
        existing = self._existing(candidates) if candidates else {}
        now = timezone.now()
        new: list[Candidate] = []
        matched: list[tuple[Candidate, tuple[Any, ...]]] = []
        for candidate in candidates:
            stored = existing.get(candidate.key)
            if stored is None:
                new.append(candidate)
                continue
            region = stored[_STORED_REGION]
            if region != candidate.region and not self.in_scope(region):
                rejections.append(
                    Rejection(candidate.row(), _("This ID is registered in another jurisdiction."))
                )
                continue
            matched.append((candidate, stored))
        if matched or unchanged:
            matched = self._first_of_each_person(matched, unchanged, rejections)
        if not new and not matched:
            return rejections
        changed: list[tuple[Candidate, dict[str, Any], dict[str, Any]]] = []
        known: list[tuple[Candidate, int]] = []
        fingerprints: list[tuple[int, int]] = []
        for candidate, stored in matched:
            region = stored[_STORED_REGION]
            pk = stored[_STORED_ID]
            known.append((candidate, pk))
            if stored[_STORED_FINGERPRINT] != candidate.fingerprint:
                fingerprints.append((candidate.fingerprint, pk))
            # A re-imported row usually says exactly what is stored: one tuple comparison
            # (the field-by-field one below cost a re-import of 100,000 rows about 0.5 s).
            if (
                stored[_STORED_FIRST_FIELD:_STORED_REGION]
                == candidate.insert_values[FIRST_PERSON_FIELD:]
                and region == candidate.region
            ):
                continue
            after = candidate.filled()
            current = self._stored_fields(stored)
            diff = sorted(k for k in after if after[k] != current[k])
            if diff:
                changed.append(
                    (
                        candidate,
                        {k: current[k] for k in diff} | {"id": pk},
                        {k: after[k] for k in diff},
                    )
                )
        ids = bulk.allocate_ids(self._table(Person), len(new))
        person_ids = {id(c): pk for c, pk in zip(new, ids, strict=True)}
        person_ids.update({id(c): pk for c, pk in known})
        added = self._write_related(candidates, person_ids, {pk for _c, pk in known}, now)
        if not self.dry_run:
            self._insert_people(new, ids, now)
            self._update_people(changed, now)
            # Not a change of the person (no updated_at, no audit): which row it is now.
            bulk.update_rows(self._table(Person), ("import_fingerprint",), fingerprints)
        self.created += len(new)
        changed_ids = {before["id"] for _c, before, _a in changed}
        for _candidate, pk in known:
            if pk in changed_ids or pk in added:
                self.updated += 1
            else:
                self.unchanged += 1
        self._audit_updates(changed, added, {pk: c.region for c, pk in known})
        return rejections

    def _table(self, model: Any) -> str:
        return str(model._meta.db_table)

    def _insert_people(self, new: list[Candidate], ids: list[int], now: dt.datetime) -> None:
        stamp = bulk.db_datetime(now)
        rows = [
            (pk, stamp, stamp, *c.insert_values, c.region, c.fingerprint)
            for c, pk in zip(new, ids, strict=True)
        ]
        bulk.insert_rows(self._table(Person), INSERT_COLUMNS, rows)

    def _update_people(
        self, changed: list[tuple[Candidate, dict[str, Any], dict[str, Any]]], now: dt.datetime
    ) -> None:
        # Grouped by the set of changed columns: one executemany per shape.
        shapes: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
        stamp = bulk.db_datetime(now)
        for _candidate, before, after in changed:
            columns = (*after.keys(), "updated_at")
            values = [self._db_date(v) if isinstance(v, dt.date) else v for v in after.values()]
            shapes.setdefault(columns, []).append((*values, stamp, before["id"]))
        for columns, rows in shapes.items():
            bulk.update_rows(self._table(Person), columns, rows)

    def _write_related(
        self,
        candidates: list[Candidate],
        person_ids: dict[int, int],
        known_ids: set[int],
        now: dt.datetime,
    ) -> dict[int, dict[str, Any]]:
        """Returns and key-group tags not stored yet; {person id: what was added} for
        people already known (their audit entries mention it)."""
        have_returns: set[tuple[int, dt.date, str]] = set()
        have_tags: set[tuple[int, int]] = set()
        # What known people already have is read only for those whose row brings a
        # return or key groups (in a ledger, about half and under half of them).
        with_return: set[int] = set()
        with_groups: set[int] = set()
        if known_ids:
            for candidate in candidates:
                pk = person_ids.get(id(candidate))
                if pk in known_ids:
                    if candidate.returnee is not None:
                        with_return.add(pk)
                    if candidate.groups:
                        with_groups.add(pk)
        if with_return:
            returns_table = self._table(ReturneeRecord)
            for pk, arrival, origin in bulk.select_in(
                f'SELECT "person_id", "arrival_date", "origin" FROM "{returns_table}" '  # noqa: S608
                'WHERE "person_id" IN ({in})',
                sorted(with_return),
            ):
                have_returns.add((pk, bulk.as_date(arrival), origin))  # type: ignore[arg-type]
        if with_groups:
            tags_table = self._table(PersonTag)
            have_tags.update(
                bulk.select_in(
                    f'SELECT "person_id", "group_id" FROM "{tags_table}" '  # noqa: S608
                    'WHERE "person_id" IN ({in})',
                    sorted(with_groups),
                )  # type: ignore[arg-type]
            )
        stamp = bulk.db_datetime(now)
        returns: list[tuple[Any, ...]] = []
        tags: list[tuple[Any, ...]] = []
        added: dict[int, dict[str, Any]] = {}
        for candidate in candidates:
            pk = person_ids.get(id(candidate))
            if pk is None:
                continue
            region = candidate.region
            if candidate.returnee is not None:
                arrival, origin, transport, risk = candidate.returnee
                if (pk, arrival, origin) not in have_returns:
                    have_returns.add((pk, arrival, origin))
                    returns.append(
                        (
                            region,
                            stamp,
                            stamp,
                            pk,
                            origin,
                            self._db_date(arrival),
                            transport,
                            risk,
                            "",
                        )
                    )
                    if pk in known_ids:
                        added.setdefault(pk, {})["return"] = f"{arrival.isoformat()} {origin}"
            for group in candidate.groups:
                if (pk, group) not in have_tags:
                    have_tags.add((pk, group))
                    tags.append((region, stamp, stamp, pk, group, ""))
                    if pk in known_ids:
                        added.setdefault(pk, {}).setdefault("groups", []).append(group)
        if not self.dry_run:
            bulk.insert_rows(self._table(ReturneeRecord), RETURN_COLUMNS, returns)
            bulk.insert_rows(self._table(PersonTag), TAG_COLUMNS, tags)
        return added

    def _audit_updates(
        self,
        changed: list[tuple[Candidate, dict[str, Any], dict[str, Any]]],
        added: dict[int, dict[str, Any]],
        regions: dict[int, str],
    ) -> None:
        """One entry per updated person: the changed fields before and after, plus the
        returns and key groups the import added."""
        if self.dry_run:
            return
        entries: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}
        for _candidate, before, after in changed:
            entries[before["id"]] = ({k: v for k, v in before.items() if k != "id"}, dict(after))
        for pk, extra in added.items():
            before, after = entries.get(pk, ({}, {}))
            entries[pk] = (before, {**after, **extra})
        for pk, (before, after) in entries.items():
            audit.record(
                self.actor,
                "people.import_update",
                object_type="people.person",
                object_id=str(pk),
                region_code=regions.get(pk, ""),
                before=before,
                after=after,
            )
