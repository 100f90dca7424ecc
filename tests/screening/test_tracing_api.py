"""Tracing API: access matrix per route, masked unless reveal (logged), pinned query count,
bad input."""

from __future__ import annotations

from typing import Any

import pytest

from fangkong.core.models import AccessLogEntry
from fangkong.screening.models import CaseStatus, TaskStatus
from tests.conftest import ANYANG_COUNTY, DONGZHENGSI, FUDAO, GAOZHUANG, JIANGTAITUN
from tests.screening.conftest import Gaozhuang
from tests.screening.results_fixtures import make_tube, positive_pool
from tests.support.access import AccessCase, check_access_matrix, count_queries

pytestmark = pytest.mark.django_db

API = "/api/v1/screening"


@pytest.fixture
def case(gz: Gaozhuang) -> Any:
    return positive_pool(gz)


@pytest.mark.parametrize(
    ("path", "method", "data"),
    [
        ("/cases/{case}", "get", {}),
        ("/cases/{case}?reveal=true", "get", {}),
        ("/tubes/P001/trace", "get", {}),
        ("/tasks/{task}/control", "post", {"measure": "home", "note": "居家"}),
        ("/tasks/{task}/result", "post", {"result": "negative"}),
        ("/tasks/{task}/cancel", "post", {"note": "重复登记"}),
        ("/cases/{case}/close", "post", {"note": "已全部管控"}),
    ],
)
def test_access_matrix(
    gz: Gaozhuang,
    case: Any,
    make_user: Any,
    client_for: Any,
    path: str,
    method: str,
    data: dict[str, Any],
) -> None:
    task = case.tasks.get(person=gz.jiangtaitun[0])
    check_access_matrix(
        AccessCase(
            url=API + path.format(case=case.pk, task=task.pk),
            role="village_cadre",
            region=JIANGTAITUN,
            other_region=FUDAO,
            wrong_role="sampler",
            method=method,
            data=data,
            api=True,
            content_type="application/json" if method == "post" else None,
        ),
        make_user,
        client_for,
        wrong_role_statuses=(403,),
    )


@pytest.mark.parametrize("path", ["/cases", "/tasks"])
def test_lists_scoped_and_pinned(
    gz: Gaozhuang, case: Any, make_user: Any, client_for: Any, path: str
) -> None:
    assert client_for(None).get(API + path).status_code == 401
    assert (
        client_for(make_user(role="sampler", region=GAOZHUANG)).get(API + path).status_code == 403
    )
    outsider = client_for(make_user(role="township_officer", region=FUDAO))
    assert outsider.get(API + path).json()["count"] == 0
    hq = client_for(make_user(role="hq", region=ANYANG_COUNTY))
    first = count_queries(hq, API + path)
    for i in range(3):
        positive_pool(gz, f"P20{i}", reason="复采")
    assert count_queries(hq, API + path, page_size=2) == first
    assert count_queries(hq, API + path, page_size=100) == first
    body = hq.get(API + path).json()
    assert body["count"] == (4 if path == "/cases" else 16)


def test_case_list_open_first_with_time_since(
    gz: Gaozhuang, case: Any, make_user: Any, client_for: Any
) -> None:
    older = positive_pool(gz, "P002", hours_ago=6, reason="复采")
    closed = positive_pool(gz, "P003", hours_ago=9, reason="复采")
    closed.status = CaseStatus.CLOSED
    closed.save()
    hq = client_for(make_user(role="hq", region=ANYANG_COUNTY))
    items = hq.get(f"{API}/cases").json()["items"]
    assert [i["tube_barcode"] for i in items] == ["P002", "P001", "P003"]
    assert items[0]["seconds_since_result"] >= 6 * 3600 and items[0]["tasks_pending"] == 4
    assert items[0]["id"] == older.pk and items[0]["status"] == "open"
    only_open = hq.get(f"{API}/cases", {"status": "open"}).json()["items"]
    assert [i["tube_barcode"] for i in only_open] == ["P002", "P001"]
    assert hq.get(f"{API}/cases", {"status": "maybe"}).status_code == 422


def test_detail_masked_and_reveal_logged(
    gz: Gaozhuang, case: Any, make_user: Any, client_for: Any
) -> None:
    person = gz.jiangtaitun[0]
    officer = make_user(role="township_officer", region=GAOZHUANG)
    client = client_for(officer)
    body = client.get(f"{API}/cases/{case.pk}").json()
    member = body["trace"]["members"][0]
    assert member["name"] == "王秀英" and member["village_name"] == "蒋台屯村"
    assert member["id_number"] != person.id_number and member["phone"] != person.phone
    assert member["task"]["status"] == "pending" and not member["revealed"]
    assert person.phone not in str(body)
    assert not AccessLogEntry.objects.exists()
    revealed = client.get(f"{API}/cases/{case.pk}", {"reveal": "true"}).json()
    member = revealed["trace"]["members"][0]
    assert (member["id_number"], member["phone"], member["address"]) == (
        person.id_number,
        person.phone,
        person.address,
    )
    entry = AccessLogEntry.objects.get()
    assert (entry.user, entry.kind, entry.row_count) == (officer, "reveal", 4)
    # A cadre of 东正寺 sees their villager only; an inspector never.
    cadre = client_for(make_user(role="village_cadre", region=DONGZHENGSI))
    members = cadre.get(f"{API}/cases/{case.pk}").json()["trace"]["members"]
    assert [m["name"] for m in members] == ["马超"]
    inspector = client_for(make_user(role="inspector", region=GAOZHUANG))
    assert inspector.get(f"{API}/cases/{case.pk}").status_code == 403


def test_trace_any_tube(gz: Gaozhuang, case: Any, make_user: Any, client_for: Any) -> None:
    make_tube(gz.round, gz.other_site, "S200", gz.dongzhengsi[:1], capacity=1)
    client = client_for(make_user(role="township_officer", region=GAOZHUANG))
    body = client.get(f"{API}/tubes/ｓ２００/trace").json()  # full-width, lower case
    assert body["case_id"] is None and [m["name"] for m in body["members"]] == ["孙丽"]
    assert client.get(f"{API}/tubes/NOPE/trace").status_code == 404
    assert client.get(f"{API}/tubes/{'9' * 300}/trace").status_code == 404


def test_actions_and_bad_input(gz: Gaozhuang, case: Any, make_user: Any, client_for: Any) -> None:
    cadre = client_for(make_user(role="village_cadre", region=JIANGTAITUN))
    task = case.tasks.get(person=gz.jiangtaitun[0])
    url = f"{API}/tasks/{task.pk}"
    post = lambda path, data: cadre.post(url + path, data, content_type="application/json")  # noqa: E731
    assert post("/control", {"measure": "prison"}).status_code == 422
    assert post("/control", {"measure": 5}).status_code == 422
    assert post("/control", {}).status_code == 422
    done = post("/control", {"measure": "centralized", "note": "送至集中隔离点"})
    assert done.status_code == 200 and done.json()["control_measure"] == "centralized"
    make_tube(gz.round, gz.site, "R600", gz.jiangtaitun[:1], capacity=1, reason="单采")
    missing = post("/resample", {"tube_barcode": "R999"})
    assert missing.status_code == 422 and "tube_barcode" in missing.json()["fields"]
    wrong = make_tube(gz.round, gz.site, "R601", gz.jiangtaitun[8:9], capacity=1)
    assert post("/resample", {"tube_barcode": wrong.barcode}).status_code == 422
    resampled = post("/resample", {"tube_barcode": "r600"})
    assert resampled.status_code == 200 and resampled.json()["resample_tube"] == "R600"
    assert post("/result", {"result": "invalid"}).status_code == 422
    assert post("/result", {"result": "negative"}).json()["status"] == TaskStatus.NEGATIVE
    assert cadre.post(
        f"{API}/tasks/0/control", {}, content_type="application/json"
    ).status_code in (
        404,
        422,
    )
    huge = cadre.post(
        f"{API}/tasks/{2**70}/control", {"measure": "home"}, content_type="application/json"
    )
    assert huge.status_code in (404, 422)
    closing = cadre.post(
        f"{API}/cases/{case.pk}/close", {"note": ""}, content_type="application/json"
    )
    assert closing.status_code == 422
    closed = cadre.post(
        f"{API}/cases/{case.pk}/close", {"note": "其余已管控"}, content_type="application/json"
    )
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
