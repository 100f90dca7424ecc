"""Stock document numbers drawn inside the posting's INSERT (D25).

SQLite: one more than the day's highest number of the prefix, read from the number's
unique index; gap-free. PostgreSQL: the prefix's sequence; unique, increasing, gaps
allowed. Both: six digits, never cut.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection, transaction
from django.utils import timezone

from fangkong.supplies.actions.documents import LineInput, post_stock_document, reverse_document
from fangkong.supplies.ledger import InsufficientStock
from fangkong.supplies.models import DocumentKind, StockDocument
from fangkong.supplies.numbering import document_day_key, next_document_number
from tests.supplies.conftest import Stock

sqlite_only = pytest.mark.skipif(
    "connection.vendor != 'sqlite'", reason="the day's counter is SQLite's scheme"
)


def _receive(stock: Stock, quantity: int = 5) -> StockDocument:
    return post_stock_document(
        kind="receipt",
        actor=None,
        destination=stock.depot,
        receipt_source="purchase",
        lines=[LineInput(item=stock.suits, lot=stock.lot(stock.suits), quantity=quantity)],
    )


def _issue(stock: Stock, quantity: int) -> StockDocument:
    return post_stock_document(
        kind="issue",
        actor=None,
        source=stock.depot,
        recipient_kind="other",
        recipient_name="村民",
        lines=[LineInput(item=stock.suits, lot=stock.lot(stock.suits), quantity=quantity)],
    )


def _existing(stock: Stock, number: str) -> None:
    """A document already numbered ``number`` (an older scheme, another day...)."""
    StockDocument.objects.create(
        number=number,
        kind=DocumentKind.RECEIPT,
        region_code=stock.depot.region_code,
        destination=stock.depot,
        effective_at=timezone.now(),
    )


def _today(prefix: str) -> str:
    return document_day_key(prefix, timezone.now())


def test_each_prefix_counts_on_its_own_and_a_reversal_is_numbered_too(stock: Stock) -> None:
    receipts = [_receive(stock, 10) for _ in range(2)]
    issue = _issue(stock, 3)
    reversal = reverse_document(issue, actor=None, note="录错")
    for document, prefix in ((receipts[0], "RK"), (issue, "CK"), (reversal, "CX")):
        assert document.number.startswith(_today(prefix) + "-")
        assert len(document.number.split("-")[1]) >= 6
    first, second = (int(d.number.split("-")[1]) for d in receipts)
    assert second > first
    stored = set(StockDocument.objects.values_list("number", flat=True))
    assert {d.number for d in (*receipts, issue, reversal)} <= stored


@sqlite_only
def test_sqlite_counts_per_day_without_gaps(stock: Stock) -> None:
    assert _receive(stock, 10).number == f"{_today('RK')}-000001"
    with pytest.raises(InsufficientStock):
        _issue(stock, 11)
    # The refused issue rolled back with its number: the next one takes it.
    assert _issue(stock, 4).number == f"{_today('CK')}-000001"
    assert _receive(stock).number == f"{_today('RK')}-000002"


@sqlite_only
def test_sqlite_ignores_other_days_and_prefixes(stock: Stock) -> None:
    yesterday = timezone.localdate(
        timezone.now() - dt.timedelta(days=1), timezone.get_default_timezone()
    )
    _existing(stock, f"RK{yesterday:%Y%m%d}-000050")
    _existing(stock, f"{_today('CK')}-000007")
    _existing(stock, f"{_today('RKX')}-000009")  # a longer prefix sharing the start
    assert _receive(stock).number == f"{_today('RK')}-000001"


@sqlite_only
def test_sqlite_continues_after_four_digit_numbers_of_the_same_day(stock: Stock) -> None:
    # Numbered by the old per-day counter earlier today ("-0012" sorts after "-000013").
    _existing(stock, f"{_today('RK')}-0012")
    _existing(stock, f"{_today('RK')}-0003")
    assert _receive(stock).number == f"{_today('RK')}-000013"
    assert _receive(stock).number == f"{_today('RK')}-000014"


@sqlite_only
def test_sqlite_goes_past_six_digits_without_cutting(stock: Stock) -> None:
    _existing(stock, f"{_today('RK')}-999998")
    assert _receive(stock).number == f"{_today('RK')}-999999"
    assert _receive(stock).number == f"{_today('RK')}-1000000"
    assert _receive(stock).number == f"{_today('RK')}-1000001"


@sqlite_only
def test_sqlite_next_document_number_is_the_next_unused(stock: Stock) -> None:
    _receive(stock)
    with transaction.atomic():
        assert next_document_number("RK") == f"{_today('RK')}-000002"
        # It is taken by inserting it, not by asking.
        assert next_document_number("RK") == f"{_today('RK')}-000002"
        assert connection.in_atomic_block


def test_postgresql_numbers_are_six_digits_from_the_sequence(stock: Stock) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's scheme")
    numbers = [_receive(stock).number for _ in range(3)]
    values = [int(n.split("-")[1]) for n in numbers]
    assert values == sorted(set(values))
    assert all(n.startswith(_today("RK") + "-") and len(n.split("-")[1]) >= 6 for n in numbers)
    with transaction.atomic():
        following = next_document_number("RK")
    assert int(following.split("-")[1]) > values[-1]
