"""The ledger core: postings, negative stock refused with a clear message, reversal."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from fangkong.supplies.actions.documents import LineInput, post_stock_document, reverse_document
from fangkong.supplies.ledger import InsufficientStock
from fangkong.supplies.models import Balance, DocumentStatus, Movement
from tests.supplies.conftest import Stock


def _receive(stock: Stock, quantity: int) -> object:
    return post_stock_document(
        kind="receipt",
        actor=None,
        destination=stock.depot,
        receipt_source="purchase",
        lines=[LineInput(item=stock.suits, lot=stock.lot(stock.suits), quantity=quantity)],
    )


def _on_hand(stock: Stock) -> int:
    return Balance.objects.get(location=stock.depot, item=stock.suits).quantity


def test_receipt_issue_and_shortfall_message(stock: Stock) -> None:
    receipt = _receive(stock, 1500)
    assert receipt.number.startswith("RK")
    assert _on_hand(stock) == 1500
    with pytest.raises(InsufficientStock) as caught:
        post_stock_document(
            kind="issue",
            actor=None,
            source=stock.depot,
            recipient_kind="other",
            recipient_name="伏道二街村",
            lines=[LineInput(item=stock.suits, lot=stock.lot(stock.suits), quantity=1600)],
        )
    message = caught.value.messages[0]
    assert "医用防护服" in message and "伏道镇防疫物资库" in message and "100" in message
    assert _on_hand(stock) == 1500
    assert Movement.objects.count() == 1


def test_reversal_once_and_never_of_a_reversal(stock: Stock) -> None:
    receipt = _receive(stock, 10)
    reversal = reverse_document(receipt, actor=None, note="录错")
    receipt.refresh_from_db()
    assert receipt.status == DocumentStatus.REVERSED
    assert _on_hand(stock) == 0
    with pytest.raises(ValidationError):
        reverse_document(receipt, actor=None, note="again")
    with pytest.raises(ValidationError):
        reverse_document(reversal, actor=None, note="again")


def test_idempotency_key_posts_once(stock: Stock) -> None:
    first = _receive_keyed(stock, "form-1")
    second = _receive_keyed(stock, "form-1")
    assert first.pk == second.pk
    assert _on_hand(stock) == 5


def _receive_keyed(stock: Stock, key: str) -> object:
    return post_stock_document(
        kind="receipt",
        actor=None,
        destination=stock.depot,
        receipt_source="purchase",
        idempotency_key=key,
        lines=[LineInput(item=stock.suits, lot=stock.lot(stock.suits), quantity=5)],
    )
