"""Stock-take pages and API: access matrix, htmx counting, bad input, query-count pins."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import reverse
from django.utils import translation

from fangkong.supplies.actions import counts as actions
from fangkong.supplies.models import Balance, CountStatus, StockCount
from tests.conftest import FUDAO, GAOZHUANG
from tests.supplies.conftest import Stock
from tests.supplies.test_counts import receive
from tests.support.access import (
    AccessCase,
    assert_absent,
    assert_present,
    check_access_matrix,
    count_queries,
)


@pytest.fixture(autouse=True)
def _english(settings: Any) -> Iterator[None]:
    """These tests read messages in English (the catalogue test checks the Chinese)."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


API = "/api/v1/supplies"


@pytest.fixture
def count(stock: Stock) -> StockCount:
    receive(stock, stock.suits, 1500)
    receive(stock, stock.masks, 2000)
    return actions.start_count(actor=None, location=stock.depot)


@pytest.fixture
def keeper_client(make_user: Any, client_for: Any) -> Any:
    return client_for(make_user("keeper", role="warehouse_keeper", region=FUDAO))


def _json(response: Any) -> Any:
    return json.loads(response.content)


# ------------------------------------------------------------------- access matrix

READ_PAGES = ["supplies:count_detail", "supplies:count_sheet"]


@pytest.mark.parametrize("name", READ_PAGES)
def test_read_pages_matrix(name: str, count: StockCount, make_user: Any, client_for: Any) -> None:
    # Every role holds VIEW_STOCK somewhere, so there is no wrong role for reading.
    case = AccessCase(
        url=reverse(name, args=[count.pk]),
        role="inspector",
        region=FUDAO,
        other_region=GAOZHUANG,
        wrong_role=None,
    )
    results = check_access_matrix(case, make_user, client_for)
    assert count.number in results["allowed"].content.decode()


def test_write_pages_matrix(count: StockCount, make_user: Any, client_for: Any) -> None:
    line = count.lines.first()
    assert line is not None
    cases = [
        (reverse("supplies:count_enter", args=[count.pk, line.pk]), {"counted_quantity": "1"}),
        (reverse("supplies:count_add_line", args=[count.pk]), {"item": "", "lot": ""}),
        (reverse("supplies:count_cancel", args=[count.pk]), {"note": ""}),
    ]
    for url, data in cases:
        case = AccessCase(
            url=url,
            role="warehouse_keeper",
            region=FUDAO,
            other_region=GAOZHUANG,
            wrong_role="inspector",
            method="post",
            data=data,
            allowed_status=(200, 302, 422),
        )
        check_access_matrix(case, make_user, client_for)


def test_start_page_matrix(stock: Stock, make_user: Any, client_for: Any) -> None:
    url = reverse("supplies:count_start")
    data = {"location": stock.depot.pk}
    anonymous = client_for(None).post(url, data)
    assert anonymous.status_code == 302
    inspector = client_for(make_user(role="inspector", region=FUDAO))
    assert inspector.post(url, data).status_code == 403
    outsider = client_for(make_user(role="warehouse_keeper", region=GAOZHUANG))
    response = outsider.post(url, data)
    assert response.status_code == 422  # the depot is not among their choices
    assert not StockCount.objects.exists()
    keeper = client_for(make_user(role="warehouse_keeper", region=FUDAO))
    response = keeper.post(url, data)
    assert response.status_code == 302
    assert StockCount.objects.filter(location=stock.depot).count() == 1


def test_list_shows_only_counts_in_scope(
    count: StockCount, make_user: Any, client_for: Any
) -> None:
    outsider = client_for(make_user(role="warehouse_keeper", region=GAOZHUANG))
    insider = client_for(make_user(role="inspector", region=FUDAO))
    for url in (reverse("supplies:count_list"), f"{API}/counts"):
        assert_absent(outsider, url, count.number)
        assert_present(insider, url, count.number)
    assert client_for(None).get(reverse("supplies:count_list")).status_code == 302


API_READS = ["/counts/{id}"]


def test_api_matrix(count: StockCount, make_user: Any, client_for: Any) -> None:
    line = count.lines.first()
    assert line is not None
    check_access_matrix(
        AccessCase(
            url=f"{API}/counts/{count.pk}",
            role="auditor",
            region=FUDAO,
            other_region=GAOZHUANG,
            wrong_role=None,
            api=True,
        ),
        make_user,
        client_for,
    )
    writes = [
        (f"{API}/counts/{count.pk}/lines/{line.pk}", {"counted_quantity": 1}),
        (f"{API}/counts/{count.pk}/lines", {"item_id": line.item_id}),
        (f"{API}/counts/{count.pk}/cancel", {}),
    ]
    for url, data in writes:
        check_access_matrix(
            AccessCase(
                url=url,
                role="warehouse_keeper",
                region=FUDAO,
                other_region=GAOZHUANG,
                wrong_role="inspector",
                method="post",
                data=data,
                api=True,
                content_type="application/json",
                allowed_status=(200, 201, 422),
            ),
            make_user,
            client_for,
        )


def test_api_start_matrix(stock: Stock, make_user: Any, client_for: Any) -> None:
    receive(stock, stock.suits, 10)
    check_access_matrix(
        AccessCase(
            url=f"{API}/counts",
            role="warehouse_keeper",
            region=FUDAO,
            other_region=GAOZHUANG,
            wrong_role="auditor",
            method="post",
            data={"location_id": stock.depot.pk},
            api=True,
            content_type="application/json",
            allowed_status=(201,),
        ),
        make_user,
        client_for,
    )


# ------------------------------------------------------------------- counting on a phone


def test_htmx_count_returns_the_line_and_progress(count: StockCount, keeper_client: Any) -> None:
    line = count.lines.order_by("id").first()
    assert line is not None
    url = reverse("supplies:count_enter", args=[count.pk, line.pk])
    response = keeper_client.post(url, {"counted_quantity": "１４９０"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = response.content.decode()
    assert f'id="line-{line.pk}"' in body
    assert 'id="count-progress"' in body and "hx-swap-oob" in body
    line.refresh_from_db()
    assert line.counted_quantity == 1490


@pytest.mark.parametrize("value", ["-5", "2.5", "99999999999999", "abc", ""])
def test_htmx_bad_count_shows_the_reason(count: StockCount, keeper_client: Any, value: str) -> None:
    line = count.lines.first()
    assert line is not None
    url = reverse("supplies:count_enter", args=[count.pk, line.pk])
    response = keeper_client.post(url, {"counted_quantity": value}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "is-invalid" in response.content.decode()
    line.refresh_from_db()
    assert line.counted_quantity is None


def test_detail_search_filters_lines(count: StockCount, keeper_client: Any) -> None:
    url = reverse("supplies:count_detail", args=[count.pk])
    body = keeper_client.get(url, {"q": "N95"}).content.decode()
    assert body.count('data-testid="count-line"') == 1
    assert "N95口罩" in body


def test_page_close_flow_and_closed_page(
    stock: Stock, count: StockCount, keeper_client: Any
) -> None:
    close = reverse("supplies:count_close", args=[count.pk])
    response = keeper_client.post(close, {}, follow=True)
    assert "not counted yet" in response.content.decode()
    for line in count.lines.all():
        keeper_client.post(
            reverse("supplies:count_enter", args=[count.pk, line.pk]),
            {"counted_quantity": str(line.system_quantity - 1)},
        )
    response = keeper_client.post(close, {}, follow=True)
    assert response.status_code == 200
    count.refresh_from_db()
    assert count.status == CountStatus.CLOSED
    body = response.content.decode()
    assert 'data-testid="count-result"' in body
    assert "-1 套" in body
    assert Balance.objects.get(location=stock.depot, item=stock.suits).quantity == 1499
    again = keeper_client.post(close, {"treat_uncounted_as_unchanged": "on"}, follow=True)
    assert "is closed" in again.content.decode()


def test_count_sheet_has_packs_and_blank_column(count: StockCount, keeper_client: Any) -> None:
    body = keeper_client.get(reverse("supplies:count_sheet", args=[count.pk])).content.decode()
    assert "30 箱" in body  # 1500 suits in boxes of 50
    assert "5 箱" in body  # 2000 masks in boxes of 400
    assert 'class="blank"' in body


# ------------------------------------------------------------------- API flow and bad input


def test_api_flow_with_closed_count_refusals(
    stock: Stock, count: StockCount, keeper_client: Any
) -> None:
    detail = _json(keeper_client.get(f"{API}/counts/{count.pk}"))
    assert detail["total_lines"] == 2 and detail["counted_lines"] == 0
    lines = {ln["item"]: ln for ln in detail["lines"]}
    suits = lines["医用防护服"]
    url = f"{API}/counts/{count.pk}/lines/{suits['id']}"
    for bad in (-1, 2.5, "2.5", "-3", 10**13, "abc", True, None):
        response = keeper_client.post(
            url, {"counted_quantity": bad}, content_type="application/json"
        )
        assert response.status_code == 422, (bad, response.content)
    response = keeper_client.post(
        url, {"counted_quantity": "１４９８"}, content_type="application/json"
    )
    assert response.status_code == 200
    assert _json(response)["counted_quantity"] == 1498
    refused = keeper_client.post(
        f"{API}/counts/{count.pk}/close", {}, content_type="application/json"
    )
    assert refused.status_code == 422
    assert "treat_uncounted_as_unchanged" in _json(refused)["fields"]
    closed = keeper_client.post(
        f"{API}/counts/{count.pk}/close",
        {"treat_uncounted_as_unchanged": True},
        content_type="application/json",
    )
    assert closed.status_code == 200
    body = _json(closed)
    assert body["status"] == "closed" and body["adjustment"].startswith("TZ")
    suits_line = next(ln for ln in body["lines"] if ln["item_id"] == stock.suits.pk)
    assert suits_line["closing_system_quantity"] == 1500
    assert suits_line["difference"] == -2
    for again in (
        keeper_client.post(f"{API}/counts/{count.pk}/close", {}, content_type="application/json"),
        keeper_client.post(url, {"counted_quantity": 1}, content_type="application/json"),
        keeper_client.post(f"{API}/counts/{count.pk}/cancel", {}, content_type="application/json"),
    ):
        assert again.status_code == 422
        assert "is closed" in again.content.decode()


def test_api_bad_ids_and_payloads(count: StockCount, keeper_client: Any) -> None:
    assert keeper_client.get(f"{API}/counts/{2**70}").status_code in (404, 422)
    assert keeper_client.get(f"{API}/counts/0").status_code == 404
    response = keeper_client.post(
        f"{API}/counts", {"location_id": "x"}, content_type="application/json"
    )
    assert response.status_code == 422
    response = keeper_client.post(
        f"{API}/counts/{count.pk}/lines", {"item_id": 999999}, content_type="application/json"
    )
    assert response.status_code == 422
    assert keeper_client.get(f"{API}/counts", {"status": "nope"}).status_code == 422
    assert keeper_client.get(f"{API}/counts", {"started_from": "２０２２-01-21"}).status_code == 200
    assert (
        keeper_client.get(reverse("supplies:count_list"), {"started_from": "x"}).status_code == 200
    )


# ------------------------------------------------------------------- query-count pins


def test_list_query_counts_do_not_grow(stock: Stock, keeper_client: Any) -> None:
    receive(stock, stock.suits, 10)
    count = actions.start_count(actor=None, location=stock.depot)
    actions.cancel_count(actor=None, count=count)
    page_one = count_queries(keeper_client, reverse("supplies:count_list"))
    api_one = count_queries(keeper_client, f"{API}/counts")
    for _ in range(4):
        count = actions.start_count(actor=None, location=stock.depot)
        actions.cancel_count(actor=None, count=count)
    assert count_queries(keeper_client, reverse("supplies:count_list")) == page_one
    assert count_queries(keeper_client, f"{API}/counts") == api_one
