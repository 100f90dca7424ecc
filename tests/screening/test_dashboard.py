"""The round dashboard: samples per local hour and per site, tubes by state, results
pending, positives open; scoped; page, htmx fragment and API; query count."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from fangkong.screening import models
from fangkong.screening.actions.sampling import remove_sample
from fangkong.screening.models import CaseStatus, PositiveCase, Sample, Tube, TubeStatus
from fangkong.screening.queries.dashboard import dashboard
from tests.conftest import ANYANG_COUNTY, DONGZHENGSI, JIANGTAITUN
from tests.screening.conftest import Gaozhuang
from tests.screening.rounds_support import API, sample_into
from tests.support.access import count_queries

# Imported under another name: pytest would try to collect a class called Test*.
RESULT = models.TestResult
SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def set_state(tube: Tube, status: str, result: str = "") -> None:
    """Move a tube along (boxes, handover and results are other modules' actions)."""
    Tube.objects.filter(pk=tube.pk).update(
        status=status, result=result, result_at=timezone.now() if result else None
    )


def scene(gz: Gaozhuang) -> dict[str, Tube]:
    """Seven people in five tubes at two sites, in every state a tube goes through."""
    tubes = {
        "open": sample_into(gz.round, gz.site, "GZB001", gz.jiangtaitun[:2]),
        "closed": sample_into(gz.round, gz.site, "GZB002", gz.jiangtaitun[2:3]),
        "transit": sample_into(gz.round, gz.site, "GZB003", gz.jiangtaitun[3:5]),
        "resulted": sample_into(gz.round, gz.site, "GZB004", gz.jiangtaitun[5:6]),
        "dz": sample_into(gz.round, gz.other_site, "GZB005", gz.dongzhengsi[:1]),
    }
    set_state(tubes["closed"], TubeStatus.CLOSED)
    set_state(tubes["transit"], TubeStatus.IN_TRANSIT)
    set_state(tubes["resulted"], TubeStatus.RESULTED, RESULT.POOL_POSITIVE)
    set_state(tubes["dz"], TubeStatus.BOXED)
    PositiveCase.objects.create(
        round=gz.round,
        tube=tubes["resulted"],
        result=RESULT.POOL_POSITIVE,
        result_at=timezone.now(),
        region_code=gz.site.region_code,
        member_count=1,
    )
    return tubes


def at_local(gz: Gaozhuang, people: list[Any], hour: int, minute: int) -> None:
    moment = dt.datetime(2022, 1, 21, hour, minute, tzinfo=SHANGHAI)
    Sample.objects.filter(round=gz.round, person__in=people).update(scanned_at=moment)


def test_dashboard_figures(gz: Gaozhuang, make_user: Any) -> None:
    scene(gz)
    at_local(gz, gz.jiangtaitun[:3], 7, 5)  # 07:05 local is 23:05 UTC the day before
    at_local(gz, gz.jiangtaitun[3:6], 7, 55)
    at_local(gz, gz.dongzhengsi[:1], 8, 0)
    hq = make_user(role="hq", region=ANYANG_COUNTY)
    board = dashboard(hq, gz.round)
    assert board.samples == 7
    assert [(h.hour.strftime("%m-%d %H:%M %z"), h.samples) for h in board.per_hour] == [
        ("01-21 07:00 +0800", 6),
        ("01-21 08:00 +0800", 1),
    ]
    assert [(s.name, s.samples) for s in board.per_site] == [
        ("蒋台屯村核酸采样点", 6),
        ("东正寺村核酸采样点", 1),
    ]
    assert board.tubes == {
        TubeStatus.OPEN: 1,
        TubeStatus.CLOSED: 1,
        TubeStatus.IN_TRANSIT: 1,
        TubeStatus.RESULTED: 1,
        TubeStatus.BOXED: 1,
    }
    assert board.in_transit == 1
    assert board.results == {RESULT.POOL_POSITIVE: 1}
    assert (board.results_pending, board.people_pending) == (3, 4)  # closed, boxed, transit
    assert board.positives_open == 1


def test_removed_samples_and_closed_cases_do_not_count(gz: Gaozhuang, make_user: Any) -> None:
    tubes = scene(gz)
    remove_sample(actor=None, sample=Sample.objects.get(person=gz.jiangtaitun[0]), reason="扫错")
    PositiveCase.objects.filter(tube=tubes["resulted"]).update(status=CaseStatus.CLOSED)
    board = dashboard(make_user(role="hq", region=ANYANG_COUNTY), gz.round)
    assert board.samples == 6 and board.positives_open == 0


def test_dashboard_is_scoped(gz: Gaozhuang, make_user: Any) -> None:
    scene(gz)
    cadre = make_user(role="village_cadre", region=DONGZHENGSI)
    board = dashboard(cadre, gz.round)
    assert board.samples == 1
    assert [s.name for s in board.per_site] == ["东正寺村核酸采样点"]
    assert board.tubes == {TubeStatus.BOXED: 1}
    assert (board.results_pending, board.positives_open) == (1, 0)


def test_dashboard_page_fragment_and_api(gz: Gaozhuang, make_user: Any, client_for: Any) -> None:
    scene(gz)
    cadre = client_for(make_user(role="village_cadre", region=JIANGTAITUN))
    url = f"/screening/rounds/{gz.round.pk}/dashboard/"
    page = cadre.get(url).content.decode()
    assert "vendor/echarts/echarts.min.js" in page
    assert 'id="dashboard-data"' in page and 'hx-trigger="every 60s"' in page
    assert 'data-testid="tile-transit">1<' in page
    assert 'data-testid="tile-positives">1<' in page
    fragment = cadre.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in fragment and 'id="dashboard-data"' in fragment
    body = cadre.get(f"{API}/rounds/{gz.round.pk}/dashboard").json()
    assert body["samples"] == 6 and body["tubes_in_transit"] == 1
    assert body["tubes"]["open"] == 1 and body["tubes"]["boxed"] == 0
    assert body["results"]["pool_positive"] == 1 and body["results_pending"] == 2
    assert body["positives_open"] == 1
    assert [s["name"] for s in body["per_site"]] == ["蒋台屯村核酸采样点"]


def test_dashboard_query_count_is_fixed(gz: Gaozhuang, make_user: Any, client_for: Any) -> None:
    hq = client_for(make_user(role="hq", region=ANYANG_COUNTY))
    url = f"/screening/rounds/{gz.round.pk}/dashboard/"
    empty = count_queries(hq, url)
    scene(gz)
    assert count_queries(hq, url) == empty
    api = count_queries(hq, f"{API}/rounds/{gz.round.pk}/dashboard")
    sample_into(gz.round, gz.other_site, "GZB099", gz.dongzhengsi[1:])
    assert count_queries(hq, f"{API}/rounds/{gz.round.pk}/dashboard") == api
