"""The posting's statements on the DB-API cursor (supplies.ledger_sql), both databases.

What the driver-level path must still do as Django's cursor did: all or nothing, lock
order over several keys, driver errors as Django's (a repeated idempotency key), the
returned instance behaving as a saved model, the audit entry's values.
"""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from django.db import IntegrityError

from fangkong.accounts.roles import Role
from fangkong.core import audit
from fangkong.core.models import AuditEntry
from fangkong.supplies.actions import documents
from fangkong.supplies.actions.documents import LineInput, post_stock_document
from fangkong.supplies.ledger import InsufficientStock
from fangkong.supplies.models import (
    Balance,
    DocumentLine,
    DocumentStatus,
    Lot,
    Movement,
    StockDocument,
)
from tests.conftest import FUDAO
from tests.supplies.conftest import Stock


def _line(stock: Stock, item: Any, quantity: int) -> LineInput:
    return LineInput(item=item, lot=stock.lot(item), quantity=quantity)


def _receive(stock: Stock, *lines: LineInput, key: str | None = None) -> StockDocument:
    return post_stock_document(
        kind="receipt",
        actor=None,
        destination=stock.depot,
        receipt_source="purchase",
        lines=list(lines),
        idempotency_key=key,
    )


def _on_hand(stock: Stock, location: Any, item: Any) -> int:
    row = Balance.objects.filter(location=location, item=item).first()
    return row.quantity if row is not None else 0


def _counts() -> tuple[int, int, int, int]:
    return (
        StockDocument.objects.count(),
        DocumentLine.objects.count(),
        Movement.objects.count(),
        AuditEntry.objects.filter(object_type="supplies.stockdocument").count(),
    )


def test_a_short_key_after_others_rolls_the_whole_posting_back(stock: Stock) -> None:
    _receive(stock, _line(stock, stock.suits, 100), _line(stock, stock.masks, 5))
    before = _counts()
    # Four keys (two items, two locations); the masks at the depot are short. Whichever
    # key comes first in lock order, nothing of this posting may stay.
    with pytest.raises(InsufficientStock) as caught:
        post_stock_document(
            kind="transfer",
            actor=None,
            source=stock.depot,
            destination=stock.village,
            lines=[_line(stock, stock.suits, 30), _line(stock, stock.masks, 6)],
        )
    assert caught.value.item == stock.masks and caught.value.location == stock.depot
    assert (caught.value.on_hand, caught.value.needed) == (5, 6)
    assert _counts() == before
    assert _on_hand(stock, stock.depot, stock.suits) == 100
    assert _on_hand(stock, stock.village, stock.suits) == 0


def test_several_keys_each_in_both_directions(stock: Stock) -> None:
    _receive(stock, _line(stock, stock.suits, 100), _line(stock, stock.masks, 50))
    document = post_stock_document(
        kind="transfer",
        actor=None,
        source=stock.depot,
        destination=stock.village,
        lines=[
            _line(stock, stock.suits, 30),
            _line(stock, stock.masks, 20),
            _line(stock, stock.suits, 5),  # the same key twice: one movement per side
        ],
    )
    assert _on_hand(stock, stock.depot, stock.suits) == 65
    assert _on_hand(stock, stock.village, stock.suits) == 35
    assert _on_hand(stock, stock.depot, stock.masks) == 30
    assert _on_hand(stock, stock.village, stock.masks) == 20
    assert DocumentLine.objects.filter(document=document).count() == 3
    moves = Movement.objects.filter(document=document)
    assert sorted(moves.values_list("quantity", flat=True)) == [-35, -20, 20, 35]
    assert {m.region_code for m in moves} == {stock.depot.region_code, stock.village.region_code}
    # Back again: now the first key in lock order (the depot's) is the increase.
    post_stock_document(
        kind="transfer",
        actor=None,
        source=stock.village,
        destination=stock.depot,
        lines=[_line(stock, stock.suits, 35)],
    )
    assert _on_hand(stock, stock.depot, stock.suits) == 100
    assert _on_hand(stock, stock.village, stock.suits) == 0
    with pytest.raises(InsufficientStock):
        post_stock_document(
            kind="transfer",
            actor=None,
            source=stock.village,
            destination=stock.depot,
            lines=[_line(stock, stock.masks, 21)],
        )
    assert _on_hand(stock, stock.depot, stock.masks) == 30


def test_an_adjustment_that_nets_to_nothing_writes_no_movement(stock: Stock) -> None:
    _receive(stock, _line(stock, stock.suits, 10))
    document = post_stock_document(
        kind="adjustment",
        actor=None,
        source=stock.depot,
        reason="count",
        lines=[_line(stock, stock.suits, 5), _line(stock, stock.suits, -5)],
    )
    assert document.status == DocumentStatus.POSTED and document.number.startswith("TZ")
    assert not Movement.objects.filter(document=document).exists()
    assert DocumentLine.objects.filter(document=document).count() == 2
    assert _on_hand(stock, stock.depot, stock.suits) == 10


def test_a_repeated_key_that_slips_past_the_first_check_returns_the_first(
    stock: Stock, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _receive(stock, _line(stock, stock.suits, 5), key="form-7")
    real = documents._existing_for_key
    calls = []

    def racing(key: str | None) -> StockDocument | None:
        # The first look finds nothing, as when two submissions arrive together.
        calls.append(key)
        return None if len(calls) == 1 else real(key)

    monkeypatch.setattr(documents, "_existing_for_key", racing)
    second = _receive(stock, _line(stock, stock.suits, 5), key="form-7")
    assert second.pk == first.pk and len(calls) == 2
    assert _on_hand(stock, stock.depot, stock.suits) == 5
    assert StockDocument.objects.count() == 1


def test_the_driver_error_is_djangos(stock: Stock, monkeypatch: pytest.MonkeyPatch) -> None:
    _receive(stock, _line(stock, stock.suits, 5), key="form-8")
    monkeypatch.setattr(documents, "_existing_for_key", lambda key: None)
    with pytest.raises(IntegrityError):
        _receive(stock, _line(stock, stock.suits, 5), key="form-8")


def test_the_returned_document_behaves_as_a_saved_model(stock: Stock) -> None:
    document = _receive(stock, _line(stock, stock.suits, 5))
    stored = StockDocument.objects.get(pk=document.pk)
    assert document == stored and hash(document) == hash(stored)
    assert str(document) == stored.number
    assert document.get_kind_display() == stored.get_kind_display()
    assert document.lines.get().quantity == 5
    assert pickle.loads(pickle.dumps(document)).number == document.number  # noqa: S301
    document.note = "补记"
    document.save(update_fields=["note"])
    stored.refresh_from_db()
    assert stored.note == "补记" and stored.status == DocumentStatus.POSTED
    document.refresh_from_db()
    assert document.posted_at == stored.posted_at


def test_the_audit_entry_is_what_record_fast_writes(stock: Stock, make_user: Any) -> None:
    keeper = make_user("keeper-sql", role=Role.WAREHOUSE_KEEPER, region=FUDAO)
    document = post_stock_document(
        kind="receipt",
        actor=keeper,
        destination=stock.depot,
        receipt_source="purchase",
        lines=[_line(stock, stock.tubes, 40)],
    )
    entry = AuditEntry.objects.get(object_type="supplies.stockdocument")
    expected_id = audit.record_fast(
        keeper,
        "supplies.post_receipt",
        object_type="supplies.stockdocument",
        object_id=str(document.pk),
        object_repr=document.number,
        region_code=document.region_code,
        after=entry.after,
    )
    expected = AuditEntry.objects.get(pk=expected_id)
    for field in ("actor_id", "actor_name", "action", "object_id", "object_repr", "after"):
        assert getattr(entry, field) == getattr(expected, field), field
    assert entry.region_code == FUDAO and entry.before is None
    assert entry.after["effective_at"] == document.effective_at.isoformat()
    assert entry.after["lines"] == [{"item": stock.tubes.pk, "lot": "", "quantity": 40}]


def test_a_document_larger_than_one_statement_chunk(stock: Stock) -> None:
    # 201 keys and 402 lines: more than one multi-row INSERT on SQLite, one statement
    # plus 200 balance statements on PostgreSQL.
    lots = Lot.objects.bulk_create([Lot(item=stock.tubes, code=f"T{n:03d}") for n in range(201)])
    lines = [LineInput(item=stock.tubes, lot=lot, quantity=2) for lot in lots] * 2
    document = _receive(stock, *lines)
    assert DocumentLine.objects.filter(document=document).count() == 402
    assert Movement.objects.filter(document=document).count() == 201
    assert set(Balance.objects.filter(item=stock.tubes).values_list("quantity", flat=True)) == {4}
    issued = post_stock_document(
        kind="issue",
        actor=None,
        source=stock.depot,
        recipient_kind="other",
        recipient_name="采样队",
        lines=[LineInput(item=stock.tubes, lot=lot, quantity=4) for lot in lots],
    )
    assert Movement.objects.filter(document=issued).count() == 201
    assert not Balance.objects.filter(item=stock.tubes, quantity__gt=0).exists()
