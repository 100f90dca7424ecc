"""Stock-takes (盘点): snapshot, counting on a phone, close with one adjustment, finality."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import translation

from fangkong.core.models import AuditEntry
from fangkong.supplies.actions import counts as actions
from fangkong.supplies.actions.documents import LineInput, post_stock_document
from fangkong.supplies.models import (
    AdjustmentReason,
    Balance,
    CountStatus,
    DocumentKind,
    StockCount,
    StockCountLine,
    StockDocument,
)
from tests.conftest import FUDAO, GAOZHUANG
from tests.supplies.conftest import Stock


@pytest.fixture(autouse=True)
def _english(settings: Any) -> Iterator[None]:
    """These tests read messages in English (the catalogue test checks the Chinese)."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


def receive(stock: Stock, item: Any, quantity: int, location: Any = None) -> StockDocument:
    return post_stock_document(
        kind="receipt",
        actor=None,
        lines=[LineInput(item=item, lot=stock.lot(item), quantity=quantity)],
        destination=location or stock.depot,
        receipt_source="purchase",
    )


def issue(stock: Stock, item: Any, quantity: int) -> StockDocument:
    return post_stock_document(
        kind="issue",
        actor=None,
        lines=[LineInput(item=item, lot=stock.lot(item), quantity=quantity)],
        source=stock.depot,
        recipient_kind="other",
        recipient_name="伏道二街村",
    )


def balance(stock: Stock, item: Any) -> int:
    return Balance.objects.get(location=stock.depot, item=item, lot=stock.lot(item)).quantity


@pytest.fixture
def keeper(make_user: Any) -> Any:
    return make_user("keeper", role="warehouse_keeper", region=FUDAO)


@pytest.fixture
def stocked(stock: Stock) -> Stock:
    receive(stock, stock.suits, 1500)
    receive(stock, stock.masks, 2000)
    receive(stock, stock.flour, 100, location=stock.village)  # elsewhere: not on the sheet
    return stock


def line_for(count: StockCount, item: Any) -> StockCountLine:
    return count.lines.get(item=item)


# ------------------------------------------------------------------- happy path


def test_count_with_movement_during_counting_keeps_both_figures(
    stocked: Stock, keeper: Any
) -> None:
    stock = stocked
    count = actions.start_count(actor=keeper, location=stock.depot)
    assert count.number.startswith("PD")
    assert count.region_code == FUDAO
    assert {(ln.item_id, ln.system_quantity) for ln in count.lines.all()} == {
        (stock.suits.pk, 1500),
        (stock.masks.pk, 2000),
    }
    # A night delivery leaves while the keeper counts.
    issue(stock, stock.suits, 100)
    actions.enter_count(actor=keeper, line=line_for(count, stock.suits), counted="1395")
    actions.enter_count(actor=keeper, line=line_for(count, stock.masks), counted="２０００")

    document = actions.close_count(actor=keeper, count=count)

    assert document is not None
    assert document.kind == DocumentKind.ADJUSTMENT
    assert document.reason == AdjustmentReason.COUNT
    assert document.stock_count_id == count.pk
    assert [(ln.item_id, ln.quantity) for ln in document.lines.all()] == [(stock.suits.pk, -5)]
    suits = line_for(count, stock.suits)
    assert (suits.system_quantity, suits.closing_system_quantity, suits.counted_quantity) == (
        1500,
        1400,
        1395,
    )
    masks = line_for(count, stock.masks)
    assert (masks.closing_system_quantity, masks.counted_quantity) == (2000, 2000)
    assert balance(stock, stock.suits) == 1395
    assert balance(stock, stock.masks) == 2000
    count.refresh_from_db()
    assert count.status == CountStatus.CLOSED
    assert count.closed_by == keeper
    assert AuditEntry.objects.filter(
        action="supplies.close_count", object_id=str(count.pk)
    ).exists()


def test_recount_replaces_the_figure(stocked: Stock, keeper: Any) -> None:
    count = actions.start_count(actor=keeper, location=stocked.depot)
    line = line_for(count, stocked.suits)
    actions.enter_count(actor=keeper, line=line, counted="1400")
    actions.enter_count(actor=keeper, line=line, counted=1500)
    line.refresh_from_db()
    assert line.counted_quantity == 1500
    assert line.counted_by == keeper
    assert line.counted_at is not None


def test_category_limits_the_sheet(stocked: Stock, keeper: Any) -> None:
    receive(stocked, stocked.disinfectant, 60)
    count = actions.start_count(actor=keeper, location=stocked.depot, category="disinfection")
    assert list(count.lines.values_list("item_id", flat=True)) == [stocked.disinfectant.pk]


def test_found_line_has_system_zero_and_posts_a_gain(stocked: Stock, keeper: Any) -> None:
    count = actions.start_count(actor=keeper, location=stocked.depot)
    for line in count.lines.all():
        actions.enter_count(actor=keeper, line=line, counted=line.system_quantity)
    line = actions.add_count_line(actor=keeper, count=count, item=stocked.flour, counted="12")
    assert line.system_quantity == 0
    with pytest.raises(ValidationError) as exc:
        actions.add_count_line(actor=keeper, count=count, item=stocked.flour, counted="1")
    assert "already on this sheet" in str(exc.value)
    document = actions.close_count(actor=keeper, count=count)
    assert document is not None
    assert [(ln.item_id, ln.quantity) for ln in document.lines.all()] == [(stocked.flour.pk, 12)]
    assert balance(stocked, stocked.flour) == 12


def test_everything_matching_posts_nothing(stocked: Stock, keeper: Any) -> None:
    count = actions.start_count(actor=keeper, location=stocked.depot)
    for line in count.lines.all():
        actions.enter_count(actor=keeper, line=line, counted=line.system_quantity)
    assert actions.close_count(actor=keeper, count=count) is None
    assert not StockDocument.objects.filter(stock_count=count).exists()


def test_found_lot_of_a_tracked_item_needs_a_lot_number(stocked: Stock, keeper: Any) -> None:
    count = actions.start_count(actor=keeper, location=stocked.depot)
    with pytest.raises(ValidationError) as exc:
        actions.add_count_line(actor=keeper, count=count, item=stocked.tubes, counted="5")
    assert "lot" in exc.value.message_dict
    line = actions.add_count_line(
        actor=keeper, count=count, item=stocked.tubes, lot_code="b2022", counted="5"
    )
    assert line.lot.code == "B2022"


# ------------------------------------------------------------------- bad inputs


@pytest.mark.parametrize(
    "value",
    ["-1", "2.5", "10000000000001", "abc", "", None, "1e3", True, -3, 2.5],
)
def test_bad_counted_quantities_are_refused(stocked: Stock, keeper: Any, value: Any) -> None:
    count = actions.start_count(actor=keeper, location=stocked.depot)
    line = line_for(count, stocked.suits)
    with pytest.raises(ValidationError) as exc:
        actions.enter_count(actor=keeper, line=line, counted=value)
    assert "counted_quantity" in exc.value.message_dict
    line.refresh_from_db()
    assert line.counted_quantity is None


def test_zero_is_a_valid_count(stocked: Stock, keeper: Any) -> None:
    count = actions.start_count(actor=keeper, location=stocked.depot)
    line = actions.enter_count(actor=keeper, line=line_for(count, stocked.suits), counted="０")
    assert line.counted_quantity == 0


def test_uncounted_lines_refuse_the_close_unless_unchanged(stocked: Stock, keeper: Any) -> None:
    count = actions.start_count(actor=keeper, location=stocked.depot)
    actions.enter_count(actor=keeper, line=line_for(count, stocked.suits), counted="1490")
    with pytest.raises(ValidationError) as exc:
        actions.close_count(actor=keeper, count=count)
    assert "1 of 2 lines are not counted" in str(exc.value)
    assert StockCount.objects.get(pk=count.pk).status == CountStatus.OPEN
    document = actions.close_count(actor=keeper, count=count, treat_uncounted_as_unchanged=True)
    assert document is not None
    assert [(ln.item_id, ln.quantity) for ln in document.lines.all()] == [(stocked.suits.pk, -10)]
    assert balance(stocked, stocked.masks) == 2000
    masks = line_for(count, stocked.masks)
    assert masks.counted_quantity is None
    assert masks.closing_system_quantity == 2000


def test_a_closed_count_is_final(stocked: Stock, keeper: Any) -> None:
    count = actions.start_count(actor=keeper, location=stocked.depot)
    line = line_for(count, stocked.suits)
    actions.close_count(actor=keeper, count=count, treat_uncounted_as_unchanged=True)
    with pytest.raises(ValidationError, match="is closed"):
        actions.enter_count(actor=keeper, line=line, counted="1")
    with pytest.raises(ValidationError, match="is closed"):
        actions.close_count(actor=keeper, count=count, treat_uncounted_as_unchanged=True)
    with pytest.raises(ValidationError, match="is closed"):
        actions.add_count_line(actor=keeper, count=count, item=stocked.flour, counted="1")
    with pytest.raises(ValidationError, match="is closed"):
        actions.cancel_count(actor=keeper, count=count)
    before = balance(stocked, stocked.suits)
    # A receipt (or any posting) on a closed stock-take is refused by post_stock_document.
    with pytest.raises(ValidationError, match="is closed"):
        post_stock_document(
            kind="receipt",
            actor=keeper,
            lines=[LineInput(item=stocked.suits, lot=stocked.lot(stocked.suits), quantity=5)],
            destination=stocked.depot,
            receipt_source="purchase",
            stock_count=count,
        )
    assert balance(stocked, stocked.suits) == before
    assert not StockDocument.objects.filter(stock_count=count, kind="receipt").exists()


def test_cancelled_count_takes_nothing(stocked: Stock, keeper: Any) -> None:
    count = actions.start_count(actor=keeper, location=stocked.depot)
    actions.cancel_count(actor=keeper, count=count, note="重新盘点")
    count.refresh_from_db()
    assert count.status == CountStatus.CANCELLED
    assert "重新盘点" in count.note
    with pytest.raises(ValidationError, match="cancelled"):
        actions.enter_count(actor=keeper, line=line_for(count, stocked.suits), counted="1")
    with pytest.raises(ValidationError, match="cancelled"):
        actions.close_count(actor=keeper, count=count, treat_uncounted_as_unchanged=True)


def test_one_open_count_per_location(stocked: Stock, keeper: Any) -> None:
    actions.start_count(actor=keeper, location=stocked.depot)
    with pytest.raises(ValidationError) as exc:
        actions.start_count(actor=keeper, location=stocked.depot)
    assert "location" in exc.value.message_dict


def test_unknown_category_is_refused(stocked: Stock, keeper: Any) -> None:
    with pytest.raises(ValidationError):
        actions.start_count(actor=keeper, location=stocked.depot, category="weapons")


def test_counting_needs_the_permission_over_the_location(stocked: Stock, make_user: Any) -> None:
    inspector = make_user(role="inspector", region=FUDAO)
    elsewhere = make_user(role="warehouse_keeper", region=GAOZHUANG)
    for user in (inspector, elsewhere):
        with pytest.raises(PermissionDenied):
            actions.start_count(actor=user, location=stocked.depot)
    count = actions.start_count(actor=None, location=stocked.depot)
    with pytest.raises(PermissionDenied):
        actions.enter_count(actor=elsewhere, line=line_for(count, stocked.suits), counted="1")
    with pytest.raises(PermissionDenied):
        actions.close_count(actor=inspector, count=count, treat_uncounted_as_unchanged=True)
