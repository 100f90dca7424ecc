"""The bulk write path: ids drawn ahead of a COPY/executemany do not collide."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone

from fangkong.core.importing import bulk
from fangkong.people.models import KeyGroup, Person

pytestmark = pytest.mark.django_db


def test_allocated_ids_are_fresh_and_later_rows_do_not_reuse_them(regions: Any) -> None:
    table = KeyGroup._meta.db_table
    before = set(KeyGroup.objects.values_list("pk", flat=True))
    with transaction.atomic():
        ids = bulk.allocate_ids(table, 5)
    assert len(set(ids)) == 5 and ids == sorted(ids)
    assert not before & set(ids)
    assert bulk.allocate_ids(table, 0) == []
    # What the import then does: insert rows with those ids, and the app goes on.
    with transaction.atomic():
        bulk.insert_rows(
            table,
            ("id", "code", "name", "priority", "active"),
            [(pk, f"bulk{pk}", f"组{pk}", 0, True) for pk in ids],
        )
    later = KeyGroup.objects.create(code="later", name="之后")
    assert later.pk not in ids and later.pk > max(ids)


def _synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return str(cursor.fetchone()[0])


@pytest.mark.django_db(transaction=True)
def test_commit_without_flush_wait_holds_for_its_transaction_only() -> None:
    if connection.vendor != "postgresql":
        with transaction.atomic():
            bulk.commit_without_flush_wait()  # nothing to set on SQLite
        return
    with transaction.atomic():
        bulk.commit_without_flush_wait()
        assert _synchronous_commit() == "off"
    assert _synchronous_commit() == "on"


def _insert_people(count: int) -> list[str]:
    """``count`` people with 18-character document numbers, written as an import does."""
    table = Person._meta.db_table
    numbers = [f"41052219900101{n:04d}" for n in range(count)]
    stamp = bulk.db_datetime(timezone.now())
    rest = ("张三", "张三", "zhangsan", "zs", "M", "", "", "", "", "resident", "", "410522116200")
    with transaction.atomic():
        ids = bulk.allocate_ids(table, count)
        bulk.insert_rows(
            table,
            _PERSON_COLUMNS,
            [
                (pk, stamp, stamp, "mainland", number, number[::-1], *rest)
                for pk, number in zip(ids, numbers, strict=True)
            ],
        )
    return numbers


_PERSON_COLUMNS = (
    *("id", "created_at", "updated_at", "id_type", "id_number", "id_reversed", "name"),
    *("name_key", "name_pinyin", "name_initials", "sex", "phone", "phone_reversed"),
    *("phone_alt", "address", "residence_status", "notes", "region_code"),
)
_BY_DOCUMENT = (
    'SELECT "id", "id_number" FROM "people_person" WHERE "id_type" = {p} AND "id_number" '
    'IN ({in}) AND NOT ("id_number" = \'\') AND "merged_into_id" IS NULL'
)


@pytest.mark.parametrize("chunk", [2, bulk.IN_CHUNK])
def test_select_in_finds_each_key_once_by_text_and_by_integer(chunk: int) -> None:
    numbers = _insert_people(5)
    wanted = [numbers[0], "X" * 18, numbers[2], numbers[4]]
    found = bulk.select_in(_BY_DOCUMENT, wanted, ["mainland"], chunk=chunk)
    assert sorted(number for _pk, number in found) == [numbers[0], numbers[2], numbers[4]]
    assert bulk.select_in(_BY_DOCUMENT, wanted, ["passport"], chunk=chunk) == []
    ids = sorted(pk for pk, _number in found)
    by_id = 'SELECT "id" FROM "people_person" WHERE "id" IN ({in})'
    assert sorted(pk for (pk,) in bulk.select_in(by_id, [*ids, 10**9], chunk=chunk)) == ids
    assert bulk.select_in(by_id, []) == []


@pytest.mark.parametrize("chunk", [2, bulk.IN_CHUNK])
def test_select_in_finds_a_key_given_twice_once(chunk: int) -> None:
    numbers = _insert_people(3)
    wanted = [numbers[0], numbers[1], numbers[0], numbers[2], numbers[0]]
    found = bulk.select_in(_BY_DOCUMENT, wanted, ["mainland"], chunk=chunk)
    assert sorted(number for _pk, number in found) == sorted(numbers)


def test_postgres_probes_the_document_index_per_key_without_statistics() -> None:
    """While an import fills the table its statistics are stale (here: never gathered);
    each key must still be one probe of the unique index on both columns, not a scan of
    every document of the type filtered against the keys (a cost growing with the
    table)."""
    if connection.vendor != "postgresql":
        pytest.skip("the plan in question is PostgreSQL's")
    numbers = _insert_people(3000)
    sql = bulk.probe_each_sql(_BY_DOCUMENT, numbers)
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, [numbers[:1000], "mainland"])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "unique_identity_document" in plan, plan
    assert "Seq Scan on people_person" not in plan, plan
    index_condition = next(line for line in plan.splitlines() if "Index Cond" in line)
    assert "id_number" in index_condition and "wanted.value" in index_condition, plan
