"""The posting fast path (prepared SQL): the same rows, links and audit as the ORM wrote."""

from __future__ import annotations

import importlib
import re
from typing import Any

from django.db import connection, transaction

from fangkong.accounts.roles import Role
from fangkong.core import audit
from fangkong.core.models import AuditEntry
from fangkong.supplies.actions.documents import LineInput, post_stock_document
from fangkong.supplies.models import (
    DOCUMENT_PREFIX,
    DocumentLine,
    DocumentStatus,
    Movement,
    StockDocument,
)
from fangkong.supplies.numbering import next_document_number
from tests.conftest import FUDAO
from tests.supplies.conftest import Stock

KEEPER = Role.WAREHOUSE_KEEPER


def test_posted_document_row_instance_lines_movements_and_audit(
    stock: Stock, make_user: Any, django_assert_num_queries: Any
) -> None:
    keeper = make_user("keeper-fast", role=KEEPER, region=FUDAO)
    post_stock_document(
        kind="receipt",
        actor=keeper,
        destination=stock.depot,
        receipt_source="purchase",
        supplier="  安阳市社科联  ",
        lines=[
            LineInput(
                item=stock.suits,
                lot=stock.lot(stock.suits),
                quantity=1500,
                pack=stock.suit_box,
                pack_count=30,
                note="到货 30 箱",
            )
        ],
    )
    document = post_stock_document(
        kind="transfer",
        actor=keeper,
        source=stock.depot,
        destination=stock.village,
        note="夜间配送",
        lines=[LineInput(item=stock.suits, lot=stock.lot(stock.suits), quantity=100)],
    )
    # The returned instance is saved and holds what it was given: no query to show it.
    with django_assert_num_queries(0):
        assert document.pk and not document._state.adding
        assert document.source == stock.depot and document.destination == stock.village
        assert document.created_by == keeper and document.posted_by == keeper
        assert document.status == DocumentStatus.POSTED
    stored = StockDocument.objects.get(pk=document.pk)
    assert stored.number == document.number and stored.kind == "transfer"
    assert stored.status == DocumentStatus.POSTED and stored.note == "夜间配送"
    assert stored.region_code == stock.depot.region_code
    assert stored.counterpart_region_code == stock.village.region_code
    assert stored.created_by_id == stored.posted_by_id == keeper.pk
    assert stored.posted_at == document.posted_at and stored.effective_at == document.effective_at
    assert stored.idempotency_key is None
    receipt = StockDocument.objects.get(kind="receipt")
    assert receipt.supplier == "安阳市社科联"
    line = DocumentLine.objects.get(document=receipt)
    assert (line.pack_id, line.pack_count, line.note) == (stock.suit_box.pk, 30, "到货 30 箱")
    moves = sorted(Movement.objects.filter(document=document).values_list("quantity", flat=True))
    assert moves == [-100, 100]
    entry = AuditEntry.objects.get(action="supplies.post_transfer")
    assert (entry.actor_id, entry.actor_name) == (keeper.pk, keeper.username)
    assert entry.object_type == "supplies.stockdocument" and entry.object_id == str(document.pk)
    assert entry.object_repr == document.number and entry.region_code == document.region_code
    assert entry.before is None and entry.after["number"] == document.number
    assert entry.after["lines"] == [{"item": stock.suits.pk, "lot": "", "quantity": 100}]
    # SQL NULL (not a JSON null), as the ORM stores a JSONField's None.
    assert AuditEntry.objects.filter(pk=entry.pk, before__isnull=True).exists()


def test_record_still_returns_a_saved_entry(stock: Stock) -> None:
    entry = audit.record(None, "supplies.test", stock.suits, after={"n": 1})
    assert entry.pk is not None and not entry._state.adding and entry.created_at is not None
    stored = AuditEntry.objects.get(pk=entry.pk)
    assert (stored.actor_name, stored.after, stored.before) == ("system", {"n": 1}, None)
    assert stored.object_type == "supplies.item" and stored.object_id == str(stock.suits.pk)


def test_document_numbers_are_unique_and_increasing_per_prefix(stock: Stock) -> None:
    def receive() -> str:
        return post_stock_document(
            kind="receipt",
            actor=None,
            destination=stock.depot,
            receipt_source="purchase",
            lines=[LineInput(item=stock.suits, lot=stock.lot(stock.suits), quantity=5)],
        ).number

    numbers = [receive() for _ in range(3)]
    assert len(set(numbers)) == 3
    # Six digits on both databases: the day's counter (SQLite) or the prefix's sequence.
    assert all(re.fullmatch(r"RK\d{8}-\d{6,}", n) for n in numbers)
    values = [int(n.split("-")[1]) for n in numbers]
    assert values == sorted(values)
    if connection.vendor == "sqlite":
        assert [n[-7:] for n in numbers] == ["-000001", "-000002", "-000003"]
    with transaction.atomic():
        assert next_document_number("CK").startswith("CK")


def test_every_document_prefix_has_a_sequence_in_the_migration() -> None:
    migration = importlib.import_module("fangkong.supplies.migrations.0001_initial")
    assert set(migration.DOCUMENT_PREFIXES) == set(DOCUMENT_PREFIX.values())
