"""Helpers for the catalogue and document tests: post stock as the system, read balances."""

from __future__ import annotations

from typing import Any

from fangkong.supplies.actions.documents import LineInput, post_stock_document
from fangkong.supplies.keys import lot_for
from fangkong.supplies.models import Balance, Item, Location, StockDocument


def receive(
    location: Location, item: Item, quantity: int, lot: str = "", expiry: Any = None
) -> StockDocument:
    return post_stock_document(
        kind="receipt",
        actor=None,
        destination=location,
        receipt_source="purchase",
        supplier="测试供应商",
        lines=[LineInput(item=item, lot=lot_for(item, lot, expiry), quantity=quantity)],
    )


def on_hand(location: Location, item: Item) -> int:
    return sum(
        Balance.objects.filter(location=location, item=item).values_list("quantity", flat=True)
    )
