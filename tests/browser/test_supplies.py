"""Supplies in the browser, as a depot keeper at night on a phone: a receipt entered in
boxes (a double click posts once), and a stock-take counted line by line with htmx."""

from __future__ import annotations

from typing import Any

import pytest

from fangkong.accounts.roles import Role
from fangkong.supplies.actions.counts import start_count
from fangkong.supplies.actions.documents import LineInput, post_stock_document
from fangkong.supplies.models import Balance, StockDocument
from tests.conftest import FUDAO
from tests.supplies import conftest as supplies_fixtures
from tests.supplies.conftest import Stock

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
PROGRESS = "document.querySelector('[data-testid=count-progress]').innerText"

stock = supplies_fixtures.stock  # the supplies fixture, for these tests too


def _no_sideways_scroll(page: Any) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1, f"the page scrolls sideways by {overflow}px"


def test_receipt_in_boxes_posts_once_on_a_double_click(
    page: Any, live_server: Any, log_in: Any, make_user: Any, stock: Stock
) -> None:
    make_user("keeper", role=Role.WAREHOUSE_KEEPER, region=FUDAO)
    page.set_viewport_size(PHONE)
    log_in(page, "keeper")
    page.goto(f"{live_server.url}/supplies/documents/new/receipt/")
    _no_sideways_scroll(page)
    form = page.locator("[data-testid=document-form]")
    form.locator("select[name=destination_site]").select_option(label="伏道镇防疫物资库")
    form.locator("select[name=receipt_source]").select_option("allocation")
    line = page.locator("[data-testid=line]").first
    line.locator("select[name$='-item']").select_option(str(stock.suits.pk))
    line.locator("select[name$='-pack']").select_option(str(stock.suit_box.pk))
    line.locator("input[name$='-pack_count']").fill("３")  # full-width, as phones type it
    page.locator("[data-testid=post-document]").dblclick()
    page.wait_for_url("**/supplies/documents/*/")
    assert "150 套 (3 箱)" in page.locator("main").inner_text()
    assert StockDocument.objects.filter(kind="receipt").count() == 1
    assert Balance.objects.get(location=stock.depot, item=stock.suits).quantity == 150


def test_stock_take_counted_on_a_phone(
    page: Any, live_server: Any, log_in: Any, make_user: Any, stock: Stock
) -> None:
    post_stock_document(
        kind="receipt",
        actor=None,
        destination=stock.depot,
        receipt_source="purchase",
        lines=[
            LineInput(item=stock.flour, lot=stock.lot(stock.flour), quantity=9761),
            LineInput(item=stock.masks, lot=stock.lot(stock.masks), quantity=2000),
        ],
    )
    count = start_count(actor=None, location=stock.depot)
    make_user("keeper", role=Role.WAREHOUSE_KEEPER, region=FUDAO)
    page.set_viewport_size(PHONE)
    log_in(page, "keeper")
    page.goto(f"{live_server.url}/supplies/counts/{count.pk}/")
    _no_sideways_scroll(page)
    lines = page.locator("[data-testid=count-line]")
    assert lines.count() == 2
    for index, counted in enumerate(("9760", "2000")):
        row = page.locator("[data-testid=count-line]").nth(index)
        row.locator("input[name=counted_quantity]").fill(counted)
        row.locator("button[type=submit]").click()
        page.wait_for_function(f"{PROGRESS}.includes('{index + 1}')")
    assert "2" in page.locator("[data-testid=count-progress]").inner_text()
    # A bad entry stays on its line with the reason; nothing is saved.
    first = page.locator("[data-testid=count-line]").first
    first.locator("input[name=counted_quantity]").fill("-5")
    first.locator("button[type=submit]").click()
    page.locator(".invalid-feedback").first.wait_for()
    page.once("dialog", lambda dialog: dialog.accept())  # "close and post? cannot be undone"
    with page.expect_navigation():
        page.locator("[data-testid=close-count] button[type=submit]").click()
    assert page.locator("[data-testid=count-document]").count() == 1
    assert Balance.objects.get(location=stock.depot, item=stock.flour).quantity == 9760
