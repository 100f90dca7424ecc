"""Daily report and movements over a period: opening/in/out/closing across local days,
Asia/Shanghai day boundaries, snapshots taken on demand, back-dated postings."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from fangkong.accounts.roles import Role
from fangkong.supplies import queries
from fangkong.supplies.actions.snapshots import take_snapshot
from fangkong.supplies.models import StockSnapshot
from tests.conftest import FUDAO, FUDAO_ERJIE, GAOZHUANG
from tests.supplies.reports_fixtures import (  # noqa: F401  (fixtures)
    Days,
    clock_fixture,
    days_fixture,
    issue,
    local,
)
from tests.support.access import assert_absent, assert_present, body_text, count_queries

OFFICER = Role.TOWNSHIP_OFFICER
JAN = dt.date(2022, 1, 1)
API = "/api/v1/supplies"


def _day(n: int) -> dt.date:
    return JAN.replace(day=n)


def _line(report: queries.PeriodReport, location_name: str) -> queries.FlowLine:
    [line] = [x for x in report.lines if x.location_name == location_name]
    return line


def _officer(make_user: Any, region: str = FUDAO) -> Any:
    return make_user(role=OFFICER, region=region)


def test_day_boundaries_are_local(days: Days, make_user: Any) -> None:
    officer = _officer(make_user)
    depot = days.stock.depot.name
    jan20 = _line(queries.daily_report(officer, _day(20)), depot)
    # The 23:30 issue (15:30 UTC) is on the 20th; the 00:30 receipt (16:30 UTC on the
    # 20th) is on the 21st.
    assert (jan20.opening, jan20.received, jan20.issued, jan20.transferred_out) == (
        1500,
        0,
        100,
        200,
    )
    assert jan20.closing == 1200
    jan21 = _line(queries.daily_report(officer, _day(21)), depot)
    assert (jan21.opening, jan21.received, jan21.adjusted, jan21.closing) == (1200, 50, -10, 1240)
    village = _line(queries.daily_report(officer, _day(20)), days.stock.village.name)
    assert (village.opening, village.transferred_in, village.closing) == (0, 200, 200)


def test_today_closes_on_live_balance(days: Days, make_user: Any) -> None:
    report = queries.daily_report(_officer(make_user), _day(22))
    assert report.closing_source == "live"
    depot = _line(report, days.stock.depot.name)
    assert (depot.opening, depot.net, depot.closing) == (1240, 0, 1240)
    assert depot.closing_display == "1240 套 (24 箱 40 套)"


def test_snapshots_taken_on_demand_and_idempotent(days: Days, make_user: Any) -> None:
    assert not StockSnapshot.objects.exists()
    report = queries.daily_report(_officer(make_user), _day(20))
    assert report.snapshots_taken == [_day(19), _day(20)]
    assert report.opening_source == report.closing_source == "snapshot"
    rows = sorted(StockSnapshot.objects.filter(day=_day(20)).values_list("location_id", "quantity"))
    assert rows == sorted([(days.stock.depot.pk, 1200), (days.stock.village.pk, 200)])
    assert take_snapshot(_day(20)) == 2
    assert take_snapshot(_day(20)) == 2
    again = sorted(
        StockSnapshot.objects.filter(day=_day(20)).values_list("location_id", "quantity")
    )
    assert again == rows
    # A second report takes nothing more.
    assert queries.daily_report(_officer(make_user), _day(20)).snapshots_taken == []


def test_snapshot_refuses_today_and_future(days: Days) -> None:
    from django.core.exceptions import ValidationError

    for day in (_day(22), _day(23)):
        with pytest.raises(ValidationError):
            take_snapshot(day)
    with pytest.raises(ValidationError):
        take_snapshot("2022-01-20")  # type: ignore[arg-type]


def test_snapshot_reads_only_recent_movements(days: Days) -> None:
    with CaptureQueriesContext(connection) as ctx:
        take_snapshot(_day(21))
    movement_queries = [q["sql"] for q in ctx.captured_queries if "supplies_movement" in q["sql"]]
    assert movement_queries and all("effective_at >=" in sql for sql in movement_queries)


def test_back_dated_posting_corrects_the_daily_report(days: Days, make_user: Any) -> None:
    officer = _officer(make_user)
    depot = days.stock.depot.name
    queries.daily_report(officer, _day(21))  # snapshots of the 20th and 21st now exist
    issue(days.stock.depot, days.stock.suits, 30, local(20, 12))  # back-dated from the 22nd
    jan20 = _line(queries.daily_report(officer, _day(20)), depot)
    assert (jan20.issued, jan20.closing) == (130, 1170)
    jan21 = _line(queries.daily_report(officer, _day(21)), depot)
    assert (jan21.opening, jan21.closing) == (1170, 1210)
    corrected = dict(
        StockSnapshot.objects.filter(day=_day(21)).values_list("location_id", "quantity")
    )
    take_snapshot(_day(21))
    retaken = dict(
        StockSnapshot.objects.filter(day=_day(21)).values_list("location_id", "quantity")
    )
    assert corrected == retaken


def test_period_report_balances(days: Days, make_user: Any) -> None:
    report = queries.period_report(_officer(make_user), _day(19), _day(22))
    depot = _line(report, days.stock.depot.name)
    assert (depot.opening, depot.received, depot.transferred_out, depot.issued) == (
        0,
        1550,
        200,
        100,
    )
    assert (depot.adjusted, depot.closing) == (-10, 1240)
    for line in report.lines:
        assert line.opening + line.net == line.closing
    [total] = report.totals
    assert (total.opening, total.closing) == (0, 1440)


def test_daily_report_reads_only_the_days_movements(days: Days, make_user: Any) -> None:
    officer = _officer(make_user)
    queries.daily_report(officer, _day(20))  # snapshots taken
    with CaptureQueriesContext(connection) as ctx:
        queries.daily_report(officer, _day(20))
    movement_queries = [q["sql"] for q in ctx.captured_queries if "supplies_movement" in q["sql"]]
    assert len(movement_queries) == 1
    assert 'effective_at" >=' in movement_queries[0] and 'effective_at" <' in movement_queries[0]


def test_reversal_counts_against_its_kind(days: Days, make_user: Any) -> None:
    from fangkong.supplies.actions.documents import reverse_document

    days.clock.set(local(22, 11))
    sent = issue(days.stock.depot, days.stock.suits, 40, local(22, 11))
    reverse_document(sent, actor=None, note="发错了")
    depot = _line(queries.daily_report(_officer(make_user), _day(22)), days.stock.depot.name)
    assert (depot.issued, depot.adjusted, depot.closing) == (0, 0, 1240)


# ---------------------------------------------------------------- pages and API


def test_daily_page_and_api_scoped(days: Days, make_user: Any, client_for: Any) -> None:
    inside = client_for(_officer(make_user))
    assert_present(inside, "/supplies/reports/daily/", days.stock.depot.name, day="2022-01-20")
    page = body_text(inside.get("/supplies/reports/daily/", {"day": "2022-01-20"}))
    assert "1200 套 (24 箱)" in page
    outside = client_for(_officer(make_user, GAOZHUANG))
    assert_absent(outside, "/supplies/reports/daily/", days.stock.depot.name, day="2022-01-20")
    body = inside.get(f"{API}/stock/daily", {"day": "2022-01-20"}).json()
    depot = next(x for x in body["lines"] if x["location_name"] == days.stock.depot.name)
    assert (depot["opening"], depot["issued"], depot["closing"]) == (1500, 100, 1200)
    raw = json.dumps(
        client_for(_officer(make_user, GAOZHUANG))
        .get(f"{API}/stock/daily", {"day": "2022-01-20"})
        .json(),
        ensure_ascii=False,
    )
    assert days.stock.depot.name not in raw
    cadre = client_for(make_user(role=Role.VILLAGE_CADRE, region=FUDAO_ERJIE))
    cadre_body = cadre.get(f"{API}/stock/daily", {"day": "2022-01-20"}).json()
    assert [x["location_name"] for x in cadre_body["lines"]] == [days.stock.village.name]


def test_movements_page_and_api(days: Days, make_user: Any, client_for: Any) -> None:
    client = client_for(_officer(make_user))
    params = {"start": "2022-01-19", "end": "2022-01-21"}
    assert_present(client, "/supplies/reports/movements/", "1240 套", **params)
    body = client.get(f"{API}/stock/movements", params).json()
    depot = next(x for x in body["lines"] if x["location_name"] == days.stock.depot.name)
    assert (depot["opening"], depot["inflow"], depot["outflow"], depot["closing"]) == (
        0,
        1550,
        300,
        1240,
    )


@pytest.mark.parametrize(
    "params",
    [
        {"day": "2022-01-23"},  # future
        {"day": "1999-12-31"},
        {"day": "0001-01-01"},
        {"day": "yesterday"},
        {"day": "２０２２-01-20"},
        {"location": "abc"},
        {"location": str(2**70)},
        {"item": "-1"},
        {"category": "=cmd"},
    ],
)
def test_daily_bad_inputs(
    days: Days, make_user: Any, client_for: Any, params: dict[str, str]
) -> None:
    client = client_for(_officer(make_user))
    assert client.get("/supplies/reports/daily/", params).status_code == 200
    assert client.get(f"{API}/stock/daily", params).status_code in (200, 422)


@pytest.mark.parametrize(
    "params",
    [
        {"start": "2022-01-21", "end": "2022-01-20"},
        {"start": "2020-01-01", "end": "2022-01-20"},
        {"end": "2099-01-01"},
        {"start": "1900-01-01"},
        {"start": "x"},
    ],
)
def test_period_bad_inputs(
    days: Days, make_user: Any, client_for: Any, params: dict[str, str]
) -> None:
    client = client_for(_officer(make_user))
    page = client.get("/supplies/reports/movements/", params)
    assert page.status_code == 200 and "invalid-feedback" in page.content.decode()
    assert client.get(f"{API}/stock/movements", params).status_code == 422


def test_report_access(days: Days, make_user: Any, client_for: Any) -> None:
    for url in ("/supplies/reports/daily/", "/supplies/reports/movements/"):
        assert client_for(None).get(url).status_code == 302
        assert client_for(make_user(region=FUDAO)).get(url).status_code == 403
    for url in (f"{API}/stock/daily", f"{API}/stock/movements"):
        assert client_for(None).get(url).status_code == 401
        assert client_for(make_user(region=FUDAO)).get(url).status_code == 403


def test_report_query_count_is_fixed(days: Days, make_user: Any, client_for: Any) -> None:
    client = client_for(_officer(make_user))
    client.get("/supplies/reports/daily/", {"day": "2022-01-20"})  # snapshots taken
    few = count_queries(client, "/supplies/reports/daily/", day="2022-01-20")
    stock = days.stock
    for item in (stock.masks, stock.flour, stock.disinfectant):
        days.clock.set(local(20, 8))
        from tests.supplies.reports_fixtures import receive

        receive(stock.depot, item, 30, local(20, 8))
        receive(stock.village, item, 30, local(20, 8))
    days.clock.set(local(22, 10))
    client.get("/supplies/reports/daily/", {"day": "2022-01-20"})
    many = count_queries(client, "/supplies/reports/daily/", day="2022-01-20")
    assert many == few
    api_few = count_queries(client, f"{API}/stock/daily", day="2022-01-20")
    assert api_few <= few
