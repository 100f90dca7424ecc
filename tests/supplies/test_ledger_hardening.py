"""The ledger under edge cases: back-dating, snapshots, constraints, retries, the fast path."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone

from fangkong.supplies import retry
from fangkong.supplies.actions.documents import LineInput, post_stock_document
from fangkong.supplies.ledger import InsufficientStock, NegativeHistory
from fangkong.supplies.models import (
    Balance,
    DocumentLine,
    DocumentStatus,
    Movement,
    StockDocument,
    StockSnapshot,
)
from fangkong.supplies.numbering import next_number
from tests.supplies.conftest import Stock


def _post(stock: Stock, kind: str, quantity: int, when: dt.datetime | None = None) -> StockDocument:
    line = [LineInput(item=stock.suits, lot=stock.lot(stock.suits), quantity=quantity)]
    if kind == "receipt":
        return post_stock_document(
            kind=kind, actor=None, destination=stock.depot, receipt_source="purchase",
            lines=line, effective_at=when,
        )  # fmt: skip
    return post_stock_document(
        kind="issue", actor=None, source=stock.depot, lines=line, effective_at=when
    )


def _on_hand(stock: Stock) -> int:
    return Balance.objects.get(location=stock.depot, item=stock.suits).quantity


def test_fast_path_writes_what_the_orm_would(stock: Stock) -> None:
    document = _post(stock, "receipt", 1500)
    stored = StockDocument.objects.get(pk=document.pk)
    assert stored.status == DocumentStatus.POSTED and stored.posted_at is not None
    assert stored.created_at is not None and stored.region_code == stock.depot.region_code
    assert stored.effective_at == document.effective_at
    line = DocumentLine.objects.get(document=stored)
    assert (line.item_id, line.quantity) == (stock.suits.pk, 1500)
    movement = Movement.objects.get(document=stored)
    # Datetimes written by raw SQL compare like the ORM's (no "+00:00" text on SQLite).
    assert Movement.objects.filter(effective_at=document.effective_at).count() == 1
    assert movement.effective_at == document.effective_at


def test_numbers_count_up_per_kind_and_day(stock: Stock) -> None:
    first, second = next_number("RK"), next_number("RK")
    assert first.endswith("-0001") and second.endswith("-0002")
    assert next_number("CK").endswith("-0001")


def test_backdated_issue_refused_when_history_would_go_negative(stock: Stock) -> None:
    now = timezone.now()
    _post(stock, "receipt", 100, now - dt.timedelta(hours=10))
    _post(stock, "issue", 80, now - dt.timedelta(hours=5))
    _post(stock, "receipt", 50, now)
    # On hand now: 70, enough for 30. But dated before the issue of 80, the balance
    # would have been -10 between that issue and the receipt of 50.
    with pytest.raises(NegativeHistory) as caught:
        _post(stock, "issue", 30, now - dt.timedelta(hours=8))
    assert "10" in caught.value.messages[0]
    assert _on_hand(stock) == 70
    _post(stock, "issue", 20, now - dt.timedelta(hours=8))  # exactly enough: fine
    assert _on_hand(stock) == 50


def test_backdating_window_and_future(stock: Stock, settings: object) -> None:
    now = timezone.now()
    with pytest.raises(ValidationError):
        _post(stock, "receipt", 5, now - dt.timedelta(hours=73))
    with pytest.raises(ValidationError):
        _post(stock, "receipt", 5, now + dt.timedelta(hours=1))
    assert not StockDocument.objects.exists()


def test_backdated_posting_corrects_later_snapshots(stock: Stock) -> None:
    now = timezone.now()
    yesterday = timezone.localdate(now) - dt.timedelta(days=1)
    _post(stock, "receipt", 100, now - dt.timedelta(days=2))
    StockSnapshot.objects.create(
        day=yesterday, location=stock.depot, item=stock.suits, lot=stock.lot(stock.suits),
        quantity=100, region_code=stock.depot.region_code,
    )  # fmt: skip
    _post(stock, "issue", 30, now - dt.timedelta(days=2, hours=-1))
    _post(stock, "receipt", 7, now)  # today: no snapshot to correct
    snapshot = StockSnapshot.objects.get(day=yesterday, item=stock.suits)
    assert snapshot.quantity == 70
    # A key the snapshot did not hold gets its row.
    post_stock_document(
        kind="receipt", actor=None, destination=stock.village, receipt_source="purchase",
        lines=[LineInput(item=stock.masks, lot=stock.lot(stock.masks), quantity=9)],
        effective_at=now - dt.timedelta(days=1, hours=2),
    )  # fmt: skip
    if timezone.localdate(now - dt.timedelta(days=1, hours=2)) == yesterday:
        assert StockSnapshot.objects.get(day=yesterday, item=stock.masks).quantity == 9


def test_issue_of_unknown_key_and_over_issue_are_insufficient_stock(stock: Stock) -> None:
    with pytest.raises(InsufficientStock) as caught:
        _post(stock, "issue", 1)
    assert caught.value.on_hand == 0 and caught.value.needed == 1
    _post(stock, "receipt", 5)
    with pytest.raises(InsufficientStock):
        _post(stock, "issue", 6)
    assert _on_hand(stock) == 5 and StockDocument.objects.count() == 1


def test_database_refuses_a_negative_balance(stock: Stock) -> None:
    _post(stock, "receipt", 5)
    with pytest.raises(IntegrityError), transaction.atomic():
        Balance.objects.filter(item=stock.suits).update(quantity=-1)
    assert _on_hand(stock) == 5


class FakeCause(Exception):
    def __init__(self, sqlstate: str | None = None, code: int | None = None) -> None:
        super().__init__("x")
        self.sqlstate = sqlstate
        if code is not None:
            self.sqlite_errorcode = code


def _wrapped(cause: BaseException, message: str = "x") -> OperationalError:
    error = OperationalError(message)
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (_wrapped(FakeCause("40001")), True),
        (_wrapped(FakeCause("40P01")), True),
        (_wrapped(FakeCause("55P03")), True),
        (_wrapped(FakeCause("23505")), False),
        (_wrapped(FakeCause(code=5)), True),  # SQLITE_BUSY
        (_wrapped(FakeCause(code=517)), True),  # SQLITE_BUSY_SNAPSHOT
        (_wrapped(FakeCause(code=6)), True),  # SQLITE_LOCKED
        (_wrapped(FakeCause(code=19)), False),  # SQLITE_CONSTRAINT
        (IntegrityError("balance_not_negative"), False),
    ],
)
def test_retryable_errors(error: Exception, expected: bool) -> None:
    assert retry.is_retryable(error) is expected


def test_real_sqlite_lock_error_is_retryable(tmp_path: object) -> None:
    path = f"{tmp_path}/lock.sqlite3"
    holder = sqlite3.connect(path, timeout=0)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")
    other = sqlite3.connect(path, timeout=0)
    try:
        other.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        assert retry.is_retryable(_wrapped(exc, str(exc)))
    else:  # pragma: no cover
        pytest.fail("the second writer got the lock")
    finally:
        holder.rollback()
        holder.close()
        other.close()


def test_with_retry_reruns_the_whole_action_then_gives_up(
    monkeypatch: pytest.MonkeyPatch, transactional_db: object
) -> None:
    monkeypatch.setattr(retry, "FIRST_DELAY", 0.0001)
    calls = []

    @retry.with_retry
    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise _wrapped(FakeCause("40P01"))
        return "done"

    assert flaky() == "done" and len(calls) == 3

    @retry.with_retry
    def always() -> None:
        calls.append(1)
        raise _wrapped(FakeCause("40001"))

    calls.clear()
    with pytest.raises(OperationalError):
        always()
    assert len(calls) == retry.ATTEMPTS

    @retry.with_retry
    def not_retryable() -> None:
        calls.append(1)
        raise _wrapped(FakeCause("23505"))

    calls.clear()
    with pytest.raises(OperationalError):
        not_retryable()
    assert len(calls) == 1


def test_inside_a_transaction_there_is_no_retry(db: object) -> None:
    calls = []

    @retry.with_retry
    def flaky() -> None:
        calls.append(1)
        raise _wrapped(FakeCause("40P01"))

    with pytest.raises(OperationalError), transaction.atomic():
        flaky()
    assert len(calls) == 1
    assert connection.vendor in ("sqlite", "postgresql")
