"""The person's tags and returns are found by person through their unique indexes.

people migration 0004 dropped the single-column person_id indexes: each unique constraint
leads with person_id and serves the lookup, and an import writes one index fewer per row.
Migration 0005 dropped their region_code indexes: nothing lists tags or returns by region.
"""

from __future__ import annotations

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("table", "unique"),
    [
        ("people_persontag", ["person_id", "group_id"]),
        ("people_returneerecord", ["person_id", "arrival_date", "origin"]),
    ],
)
def test_person_lookups_use_the_unique_index(table: str, unique: list[str]) -> None:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    indexed = [c["columns"] for c in constraints.values() if c["index"] or c["unique"]]
    assert unique in indexed
    assert ["person_id"] not in indexed
    assert not [c for c in indexed if c and c[0] == "region_code"]
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(f'EXPLAIN QUERY PLAN SELECT * FROM "{table}" WHERE person_id = 1')  # noqa: S608
            plan = " ".join(str(row[-1]) for row in cursor.fetchall())
        assert "USING INDEX" in plan or "USING COVERING INDEX" in plan, plan
