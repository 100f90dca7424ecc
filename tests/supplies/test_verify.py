"""supplies.verify: every balance against the sum of its movements."""

from __future__ import annotations

from django.db import connection

from fangkong.supplies.actions.documents import LineInput, post_stock_document
from fangkong.supplies.models import Balance
from fangkong.supplies.verify import DIFFERENT, EXTRA, MISSING, NEGATIVE, verify_ledger
from tests.supplies.conftest import Stock


def _receive(stock: Stock, item: object, quantity: int) -> None:
    post_stock_document(
        kind="receipt",
        actor=None,
        destination=stock.depot,
        receipt_source="purchase",
        lines=[LineInput(item=item, lot=stock.lot(item), quantity=quantity)],  # type: ignore[arg-type]
    )


def test_clean_ledger(stock: Stock, django_assert_max_num_queries: object) -> None:
    _receive(stock, stock.suits, 1500)
    _receive(stock, stock.masks, 2000)
    post_stock_document(
        kind="transfer",
        actor=None,
        source=stock.depot,
        destination=stock.village,
        lines=[LineInput(item=stock.suits, lot=stock.lot(stock.suits), quantity=300)],
    )
    with django_assert_max_num_queries(1):  # type: ignore[operator]
        result = verify_ledger()
    assert result.clean and result.keys == 3 and result.movements == 4
    assert verify_ledger([stock.village.pk]).keys == 1
    assert verify_ledger([]).keys == 0


def _raw(sql: str, params: list[object]) -> None:
    # Corrupt on purpose, behind the ledger's back (as a bad restore or a hand edit would).
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_every_kind_of_difference_is_named(stock: Stock) -> None:
    _receive(stock, stock.suits, 1500)
    _receive(stock, stock.masks, 2000)
    _receive(stock, stock.flour, 50)
    _receive(stock, stock.disinfectant, 210)
    Balance.objects.filter(item=stock.suits).update(quantity=1400)  # differs
    _raw("DELETE FROM supplies_balance WHERE item_id = %s", [stock.masks.pk])  # missing
    Balance.objects.create(  # extra: stock out of nowhere
        location=stock.village, item=stock.flour, lot=stock.lot(stock.flour), quantity=9,
        region_code=stock.village.region_code,
    )  # fmt: skip
    if connection.vendor == "sqlite":  # PostgreSQL enforces balance_not_negative always
        _raw("PRAGMA ignore_check_constraints = 1", [])
        Balance.objects.filter(item=stock.disinfectant).update(quantity=-1)
        _raw("PRAGMA ignore_check_constraints = 0", [])
    differences = {d.item_id: d for d in verify_ledger().differences}
    suits = differences[stock.suits.pk]
    assert (suits.kind, suits.ledger, suits.balance, suits.delta) == (DIFFERENT, 1500, 1400, -100)
    assert suits.location == "伏道镇防疫物资库" and suits.item == "医用防护服"
    masks = differences[stock.masks.pk]
    assert (masks.kind, masks.ledger, masks.balance) == (MISSING, 2000, None)
    flour = differences[stock.flour.pk]
    assert (flour.kind, flour.ledger, flour.balance, flour.location_id) == (
        EXTRA, 0, 9, stock.village.pk,
    )  # fmt: skip
    if connection.vendor == "sqlite":
        assert differences[stock.disinfectant.pk].kind == NEGATIVE
