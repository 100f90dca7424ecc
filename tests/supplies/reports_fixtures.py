"""Fixtures for the stock report tests: a settable clock and a few days of the 伏道镇 depot.

The clock replaces ``django.utils.timezone.now`` (which ``localdate``, the ledger's
back-dating window, ``auto_now_add`` and the reports all read), so postings can be made
"at" 20 January 2022 without widening the back-dating window.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from fangkong.supplies.actions.documents import LineInput, post_stock_document
from fangkong.supplies.keys import lot_for
from fangkong.supplies.models import Item, Location, StockDocument
from tests.supplies.conftest import Stock

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(day: int, hour: int, minute: int = 0, month: int = 1) -> dt.datetime:
    """A moment of January 2022 in Asia/Shanghai (aware)."""
    return dt.datetime(2022, month, day, hour, minute, tzinfo=SHANGHAI)


class Clock:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = local(22, 10)
        monkeypatch.setattr(timezone, "now", lambda: self.now.astimezone(dt.UTC))

    def set(self, moment: dt.datetime) -> None:
        self.now = moment


@pytest.fixture(name="clock")
def clock_fixture(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


def receive(
    location: Location, item: Item, quantity: int, at: dt.datetime | None = None, lot: Any = None
) -> StockDocument:
    return post_stock_document(
        kind="receipt",
        actor=None,
        destination=location,
        receipt_source="purchase",
        effective_at=at,
        lines=[LineInput(item=item, lot=lot or lot_for(item, ""), quantity=quantity)],
    )


def issue(
    location: Location, item: Item, quantity: int, at: dt.datetime | None = None
) -> StockDocument:
    return post_stock_document(
        kind="issue",
        actor=None,
        source=location,
        recipient_kind="other",
        recipient_name="伏道二街村",
        effective_at=at,
        lines=[LineInput(item=item, lot=lot_for(item, ""), quantity=quantity)],
    )


def transfer(
    source: Location, destination: Location, item: Item, quantity: int, at: dt.datetime
) -> StockDocument:
    return post_stock_document(
        kind="transfer",
        actor=None,
        source=source,
        destination=destination,
        effective_at=at,
        lines=[LineInput(item=item, lot=lot_for(item, ""), quantity=quantity)],
    )


def adjust(location: Location, item: Item, quantity: int, at: dt.datetime) -> StockDocument:
    return post_stock_document(
        kind="adjustment",
        actor=None,
        source=location,
        reason="damaged",
        effective_at=at,
        lines=[LineInput(item=item, lot=lot_for(item, ""), quantity=quantity)],
    )


@dataclass
class Days:
    """Three days of the depot's suits (all local times):

    19 Jan 10:00  receipt 1500 (30 箱)
    20 Jan 09:00  transfer 200 to 伏道二街村
    20 Jan 23:30  issue 100           (15:30 UTC on the 20th)
    21 Jan 00:30  receipt 50          (16:30 UTC on the 20th)
    21 Jan 10:00  adjustment −10 (damaged)
    now: 22 Jan 10:00
    """

    stock: Stock
    clock: Clock


@pytest.fixture(name="days")
def days_fixture(stock: Stock, clock: Clock) -> Days:
    for moment, post in [
        (local(19, 10), lambda at: receive(stock.depot, stock.suits, 1500, at)),
        (local(20, 9), lambda at: transfer(stock.depot, stock.village, stock.suits, 200, at)),
        (local(20, 23, 30), lambda at: issue(stock.depot, stock.suits, 100, at)),
        (local(21, 0, 30), lambda at: receive(stock.depot, stock.suits, 50, at)),
        (local(21, 10), lambda at: adjust(stock.depot, stock.suits, -10, at)),
    ]:
        clock.set(moment)
        post(moment)
    clock.set(local(22, 10))
    return Days(stock=stock, clock=clock)
