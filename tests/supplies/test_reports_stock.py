"""Stock on hand (the supplies home page), its alerts, the ledger and the exports: scoping,
filters, packs, query-count pins, formula neutralization."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from typing import Any

import pytest
from django.utils import timezone

from fangkong.accounts.roles import Role
from fangkong.core.models import AccessLogEntry
from fangkong.supplies import alerts, queries
from fangkong.supplies.keys import lot_for
from fangkong.supplies.models import Item, Lot, LotStatus, MinimumLevel, Pack
from tests.conftest import FUDAO, FUDAO_ERJIE, GAOZHUANG, JIANGTAITUN
from tests.supplies.conftest import Stock
from tests.supplies.reports_fixtures import issue, receive, transfer
from tests.support.access import (
    assert_absent,
    assert_present,
    body_text,
    count_queries,
)

OFFICER = Role.TOWNSHIP_OFFICER
KEEPER = Role.WAREHOUSE_KEEPER
CADRE = Role.VILLAGE_CADRE
API = "/api/v1/supplies"


@pytest.fixture
def stocked(stock: Stock) -> Stock:
    """The seed's depot: 1500 suits (30 boxes), 2000 masks, 210 bottles of 84; tubes by
    lot; the village point holds 300 suits; the Gaozhuang testing site 100 masks."""
    receive(stock.depot, stock.suits, 1500)
    receive(stock.depot, stock.masks, 2000)
    receive(stock.depot, stock.disinfectant, 210)
    transfer(stock.depot, stock.village, stock.suits, 300, timezone.now())
    receive(stock.testing_site, stock.masks, 100)
    today = timezone.localdate()
    receive(
        stock.depot,
        stock.tubes,
        60000,
        lot=lot_for(stock.tubes, "T1", today + dt.timedelta(days=10)),
    )
    receive(
        stock.depot,
        stock.tubes,
        500,
        lot=lot_for(stock.tubes, "T2", today + dt.timedelta(days=200)),
    )
    return stock


def _client(make_user: Any, client_for: Any, role: str = OFFICER, region: str = FUDAO) -> Any:
    return client_for(make_user(role=role, region=region))


# ---------------------------------------------------------------- queries


def test_stock_on_hand_by_item_with_packs_and_totals(stocked: Stock, make_user: Any) -> None:
    report = queries.stock_on_hand(make_user(role=OFFICER, region=FUDAO))
    by_key = {(x.location_name, x.item_name): x for x in report.lines}
    assert by_key[("伏道镇防疫物资库", "医用防护服")].display == "1200 套 (24 箱)"
    assert by_key[("伏道二街村物资点", "医用防护服")].quantity == 300
    assert by_key[("伏道镇防疫物资库", "采样管")].quantity == 60500  # two lots summed
    assert ("蒋台屯村核酸采样点", "N95口罩") not in by_key  # another county
    totals = {t.item_name: t for t in report.totals}
    assert totals["医用防护服"].display == "1500 套 (30 箱)"
    assert totals["医用防护服"].locations == 2
    assert totals["N95口罩"].quantity == 2000


def test_stock_filters(stocked: Stock, make_user: Any) -> None:
    officer = make_user(role=OFFICER, region=FUDAO)

    def names(**filters: Any) -> set[tuple[str, str, str]]:
        report = queries.stock_on_hand(officer, queries.StockQuery(**filters))
        return {(x.location_name, x.item_name, x.lot_code) for x in report.lines}

    assert names(location_id=stocked.village.pk) == {("伏道二街村物资点", "医用防护服", "")}
    assert {n[1] for n in names(category="disinfection")} == {"84消毒液"}
    assert {n[0] for n in names(item_id=stocked.suits.pk)} == {
        "伏道镇防疫物资库",
        "伏道二街村物资点",
    }
    assert names(by_lot=True, item_id=stocked.tubes.pk) == {
        ("伏道镇防疫物资库", "采样管", "T1"),
        ("伏道镇防疫物资库", "采样管", "T2"),
    }
    assert names(expiring_within=30) == {("伏道镇防疫物资库", "采样管", "")}
    assert names(expiring_within=30, by_lot=True) == {("伏道镇防疫物资库", "采样管", "T1")}


def test_low_stock_and_minimum_without_stock(stocked: Stock, make_user: Any) -> None:
    MinimumLevel.objects.create(
        location=stocked.depot, item=stocked.suits, quantity=1500, region_code=FUDAO
    )
    MinimumLevel.objects.create(
        location=stocked.depot, item=stocked.flour, quantity=100, region_code=FUDAO
    )
    MinimumLevel.objects.create(
        location=stocked.depot, item=stocked.masks, quantity=100, region_code=FUDAO
    )
    officer = make_user(role=OFFICER, region=FUDAO)
    low = queries.stock_on_hand(officer, queries.StockQuery(low_only=True))
    assert {(x.item_name, x.quantity, x.minimum) for x in low.lines} == {
        ("医用防护服", 1200, 1500),
        ("面粉", 0, 100),
    }
    found = alerts.low_stock(officer)
    assert [(a.item_name, a.shortfall) for a in found] == [("医用防护服", 300), ("面粉", 100)]
    assert found[0].minimum_display == "1500 套 (30 箱)"
    assert alerts.low_stock(make_user(role=OFFICER, region=GAOZHUANG)) == []


def test_expiry_and_blocked_lot_alerts(stocked: Stock, make_user: Any) -> None:
    today = timezone.localdate()
    old = lot_for(stocked.tubes, "T0", today + dt.timedelta(days=2))
    receive(stocked.depot, stocked.tubes, 20, lot=old)
    Lot.objects.filter(pk=old.pk).update(expiry_date=today - dt.timedelta(days=1))
    recalled = lot_for(stocked.tubes, "R1", today + dt.timedelta(days=300))
    receive(stocked.depot, stocked.tubes, 7, lot=recalled)
    Lot.objects.filter(pk=recalled.pk).update(status=LotStatus.RECALLED)
    officer = make_user(role=OFFICER, region=FUDAO)
    found = alerts.stock_alerts(officer)
    assert [(a.lot_code, a.expired, a.days_left) for a in found.expiring] == [
        ("T0", True, -1),
        ("T1", False, 10),
    ]
    assert [(a.lot_code, a.quantity, a.status) for a in found.blocked] == [("R1", 7, "recalled")]
    assert alerts.stock_alerts(make_user(role=OFFICER, region=GAOZHUANG)).count == 0


# ---------------------------------------------------------------- page and API


def test_home_page(stocked: Stock, make_user: Any, client_for: Any) -> None:
    MinimumLevel.objects.create(
        location=stocked.depot, item=stocked.suits, quantity=1500, region_code=FUDAO
    )
    client = _client(make_user, client_for)
    page = body_text(client.get("/supplies/"))
    assert "1200 套 (24 箱)" in page and "1500 套 (30 箱)" in page
    assert 'data-testid="stock-alerts"' in page and 'data-testid="stock-cards"' in page
    assert "T1" in page  # the expiring lot is an alert
    filtered = body_text(client.get("/supplies/", {"by_lot": "on", "item": stocked.tubes.pk}))
    assert "T2" in filtered and "医用防护服</td>" not in filtered


def test_home_access(stocked: Stock, make_user: Any, client_for: Any) -> None:
    response = client_for(None).get("/supplies/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert client_for(make_user(region=FUDAO)).get("/supplies/").status_code == 403
    for role in (OFFICER, KEEPER, CADRE, Role.INSPECTOR, Role.AUDITOR, Role.HQ_COMMANDER):
        outsider = _client(make_user, client_for, role, GAOZHUANG)
        assert_absent(outsider, "/supplies/", "伏道镇防疫物资库")
        assert_present(outsider, "/supplies/", "蒋台屯村核酸采样点")
    cadre = _client(make_user, client_for, CADRE, FUDAO_ERJIE)
    assert_present(cadre, "/supplies/", "伏道二街村物资点")
    assert_absent(cadre, "/supplies/", "伏道镇防疫物资库")
    # A location outside the scope cannot be chosen as a filter.
    page = cadre.get("/supplies/", {"location": stocked.depot.pk})
    assert page.status_code == 200 and "伏道镇防疫物资库" not in body_text(page)


def test_api_stock(stocked: Stock, make_user: Any, client_for: Any) -> None:
    assert client_for(None).get(f"{API}/stock").status_code == 401
    assert client_for(make_user(region=FUDAO)).get(f"{API}/stock").status_code == 403
    client = _client(make_user, client_for)
    body = client.get(f"{API}/stock", {"item": stocked.suits.pk}).json()
    assert body["count"] == 2
    assert {x["display"] for x in body["items"]} == {"1200 套 (24 箱)", "300 套 (6 箱)"}
    assert body["totals"][0]["display"] == "1500 套 (30 箱)"
    paged = client.get(f"{API}/stock", {"page_size": 1, "page": 2}).json()
    assert paged["count"] == len(client.get(f"{API}/stock").json()["items"])
    assert len(paged["items"]) == 1
    outsider = _client(make_user, client_for, OFFICER, GAOZHUANG)
    raw = json.dumps(outsider.get(f"{API}/stock").json(), ensure_ascii=False)
    assert "伏道镇防疫物资库" not in raw and "蒋台屯村核酸采样点" in raw
    assert outsider.get(f"{API}/stock", {"location": stocked.depot.pk}).status_code == 422
    alerts_body = client.get(f"{API}/stock/alerts").json()
    assert [a["lot_code"] for a in alerts_body["expiring"]] == ["T1"]
    assert outsider.get(f"{API}/stock/alerts").json()["expiring"] == []


@pytest.mark.parametrize(
    "params",
    [
        {"location": "abc"},
        {"location": str(2**70)},
        {"location": str(2**63 + 5)},
        {"item": "0"},
        {"category": "nope"},
        {"expiring_within": "-1"},
        {"expiring_within": "2.5"},
        {"expiring_within": "99999999999999999999"},
        {"expiring_within": "３０"},
        {"low_only": "maybe"},
        {"page": "0"},
        {"page_size": "100000"},
    ],
)
def test_stock_bad_inputs(
    stocked: Stock, make_user: Any, client_for: Any, params: dict[str, str]
) -> None:
    client = _client(make_user, client_for)
    assert client.get("/supplies/", params).status_code == 200
    assert client.get(f"{API}/stock", params).status_code in (200, 422)
    assert client.get("/supplies/stock/export/", {**params, "format": "csv"}).status_code in (
        200,
        302,
    )


def test_stock_query_count_is_fixed(stocked: Stock, make_user: Any, client_for: Any) -> None:
    client = _client(make_user, client_for)
    few = count_queries(client, "/supplies/")
    few_lots = count_queries(client, "/supplies/", by_lot="on")
    few_api = count_queries(client, f"{API}/stock")
    for n in range(30):
        item = Item.objects.create(code=f"X{n}", name=f"物资{n}", category="daily", base_unit="个")
        Pack.objects.create(item=item, name="箱", size=10)
        receive(stocked.depot, item, 25)
        MinimumLevel.objects.create(
            location=stocked.depot, item=item, quantity=50, region_code=FUDAO
        )
    assert count_queries(client, "/supplies/") == few
    assert count_queries(client, "/supplies/", by_lot="on") == few_lots
    assert count_queries(client, f"{API}/stock") == few_api
    assert count_queries(client, f"{API}/stock", page_size=500) == few_api


# ---------------------------------------------------------------- ledger and exports


def _csv(response: Any) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body_text(response).lstrip("\ufeff"))))


def test_ledger_page_and_api(stocked: Stock, make_user: Any, client_for: Any) -> None:
    client = _client(make_user, client_for)
    page = body_text(client.get("/supplies/reports/ledger/", {"item": stocked.suits.pk}))
    assert "+1500" in page and "-300" in page
    body = client.get(f"{API}/stock/ledger", {"item": stocked.suits.pk}).json()
    assert [(m["kind"], m["quantity"]) for m in body["items"]] == [
        ("receipt", 1500),
        ("transfer_out", -300),
        ("transfer_in", 300),
    ]
    outsider = _client(make_user, client_for, OFFICER, GAOZHUANG)
    assert_absent(outsider, "/supplies/reports/ledger/", "伏道镇防疫物资库")
    assert outsider.get(f"{API}/stock/ledger").json()["count"] == 1
    few = count_queries(client, f"{API}/stock/ledger", page_size=1)
    assert count_queries(client, f"{API}/stock/ledger", page_size=500) == few
    few_page = count_queries(client, "/supplies/reports/ledger/")
    for _ in range(5):
        issue(stocked.depot, stocked.masks, 1)
    assert count_queries(client, "/supplies/reports/ledger/") == few_page


def test_exports_scoped_logged_and_neutralized(
    stocked: Stock, make_user: Any, client_for: Any
) -> None:
    evil = Item.objects.create(
        code="=1+1", name='=HYPERLINK("http://x","点")', category="other", base_unit="个"
    )
    receive(stocked.depot, evil, 5)
    client = _client(make_user, client_for, KEEPER, FUDAO)
    rows = _csv(client.get("/supplies/stock/export/", {"format": "csv"}))
    assert '\'=HYPERLINK("http://x","点")' in [cell for row in rows for cell in row]
    assert "伏道镇防疫物资库" in {row[0] for row in rows}
    ledger_rows = _csv(client.get("/supplies/reports/ledger/export/", {"format": "csv"}))
    assert any("'=1+1" in row for row in ledger_rows)
    assert all(not cell.startswith("=") for row in ledger_rows for cell in row)
    assert AccessLogEntry.objects.filter(kind="export").count() == 2
    xlsx = client.get("/supplies/reports/ledger/export/", {"format": "xlsx"})
    assert xlsx.status_code == 200 and xlsx["Content-Type"].startswith("application/vnd")
    api_csv = _csv(client.get(f"{API}/stock/ledger/export", {"format": "csv"}))
    assert len(api_csv) == len(ledger_rows)
    api_stock = client.get(f"{API}/stock/export", {"format": "xlsx"})
    assert api_stock.status_code == 200
    # Another county's officer exports nothing of 伏道镇.
    outsider = _client(make_user, client_for, OFFICER, GAOZHUANG)
    for url in ("/supplies/stock/export/", "/supplies/reports/ledger/export/"):
        assert_absent(outsider, url, "伏道镇防疫物资库", format="csv")
        assert_present(outsider, url, "蒋台屯村核酸采样点", format="csv")
    for url in (f"{API}/stock/export", f"{API}/stock/ledger/export"):
        assert_absent(outsider, url, "伏道镇防疫物资库", format="csv")


def test_export_access(stocked: Stock, make_user: Any, client_for: Any) -> None:
    for url in ("/supplies/stock/export/", "/supplies/reports/ledger/export/"):
        assert client_for(None).get(url).status_code == 302
        for role in (CADRE, Role.INSPECTOR, Role.AUDITOR):  # view stock, may not export
            assert _client(make_user, client_for, role, FUDAO).get(url).status_code == 403
        assert _client(make_user, client_for, OFFICER, FUDAO).get(url).status_code == 200
    for url in (f"{API}/stock/export", f"{API}/stock/ledger/export"):
        assert client_for(None).get(url).status_code == 401
        assert _client(make_user, client_for, CADRE, FUDAO).get(url).status_code == 403
        assert _client(make_user, client_for, KEEPER, FUDAO).get(url).status_code == 200
        bad = _client(make_user, client_for, KEEPER, FUDAO).get(url, {"format": "pdf"})
        assert bad.status_code == 422


def test_cadre_sees_only_the_village(stocked: Stock, make_user: Any, client_for: Any) -> None:
    cadre = _client(make_user, client_for, CADRE, FUDAO_ERJIE)
    body = cadre.get(f"{API}/stock").json()
    assert {x["location_name"] for x in body["items"]} == {"伏道二街村物资点"}
    ledger = cadre.get(f"{API}/stock/ledger").json()
    assert [m["kind"] for m in ledger["items"]] == ["transfer_in"]
    other = _client(make_user, client_for, CADRE, JIANGTAITUN)
    assert other.get(f"{API}/stock").json()["items"][0]["location_name"] == "蒋台屯村核酸采样点"
