"""The bulk write path: ids drawn ahead of a COPY/executemany do not collide."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, transaction

from fangkong.core.importing import bulk
from fangkong.people.models import KeyGroup

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
