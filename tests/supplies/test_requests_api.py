"""The requests API: create, approve, reject, cancel, fulfil; access matrix; bad input."""

from __future__ import annotations

from typing import Any

from fangkong.supplies.models import RequestStatus, SupplyRequest
from tests.conftest import FUDAO, FUDAO_ERJIE, GAOZHUANG, JIANGTAITUN
from tests.supplies.requests_runs_fixtures import World, approved_request, on_hand
from tests.supplies.requests_runs_fixtures import world as world
from tests.support.access import AccessCase, assert_absent, check_access_matrix, count_queries

API = "/api/v1/supplies"
JSON = "application/json"


def _post(client: Any, url: str, data: dict[str, Any]) -> Any:
    return client.post(url, data, content_type=JSON)


def test_api_happy_path(world: World, client_for: Any) -> None:
    w = world
    s = w.stock
    cadre = client_for(w.cadre)
    created = _post(
        cadre,
        f"{API}/requests",
        {
            "site_id": w.village_site.pk,
            "note": "夜间送达",
            "lines": [
                {"item_id": s.suits.pk, "quantity": "4 箱"},
                {"item_id": s.masks.pk, "quantity": 400},
            ],
        },
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["status"] == "submitted"
    lines = {line["item_id"]: line for line in body["lines"]}
    assert lines[s.suits.pk]["requested"] == 200
    request_id = body["id"]

    officer = client_for(w.officer)
    over = _post(
        officer,
        f"{API}/requests/{request_id}/approve",
        {"approved": {str(lines[s.suits.pk]["id"]): 201}},
    )
    assert over.status_code == 422
    assert f"approved.{lines[s.suits.pk]['id']}" in over.json()["fields"]
    approved = _post(
        officer,
        f"{API}/requests/{request_id}/approve",
        {"approved": {str(lines[s.suits.pk]["id"]): 150}, "note": "先发150套"},
    )
    assert approved.status_code == 200, approved.content
    assert approved.json()["status"] == "approved"

    keeper = client_for(w.keeper)
    fulfil = _post(
        keeper,
        f"{API}/requests/{request_id}/fulfil",
        {
            "source_id": w.depot.pk,
            "lines": [
                {"line_id": lines[s.suits.pk]["id"], "quantity": 150},
                {"line_id": lines[s.masks.pk]["id"], "quantity": "1 箱"},
            ],
            "idempotency_key": "api-1",
        },
    )
    assert fulfil.status_code == 201, fulfil.content
    assert fulfil.json()["number"].startswith("DB")
    again = _post(
        keeper,
        f"{API}/requests/{request_id}/fulfil",
        {
            "source_id": w.depot.pk,
            "lines": [{"line_id": lines[s.masks.pk]["id"], "quantity": 1}],
            "idempotency_key": "api-1",
        },
    )
    assert again.json()["number"] == fulfil.json()["number"]
    assert on_hand(w.village, s.masks) == 400
    detail = cadre.get(f"{API}/requests/{request_id}").json()
    assert detail["status"] == "fulfilled"
    over_issue = _post(
        keeper,
        f"{API}/requests/{request_id}/fulfil",
        {"source_id": w.depot.pk, "lines": [{"line_id": lines[s.suits.pk]["id"], "quantity": 1}]},
    )
    assert over_issue.status_code == 422


def test_api_reject_and_cancel(world: World, client_for: Any) -> None:
    w = world
    cadre = client_for(w.cadre)
    made = _post(
        cadre,
        f"{API}/requests",
        {"site_id": w.village_site.pk, "lines": [{"item_id": w.stock.flour.pk, "quantity": 10}]},
    ).json()
    officer = client_for(w.officer)
    assert _post(officer, f"{API}/requests/{made['id']}/reject", {"note": ""}).status_code == 422
    rejected = _post(officer, f"{API}/requests/{made['id']}/reject", {"note": "面粉已发放到户"})
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["decision_note"] == "面粉已发放到户"
    assert _post(cadre, f"{API}/requests/{made['id']}/cancel", {}).status_code == 422
    second = _post(
        cadre,
        f"{API}/requests",
        {"site_id": w.village_site.pk, "lines": [{"item_id": w.stock.flour.pk, "quantity": 10}]},
    ).json()
    assert _post(cadre, f"{API}/requests/{second['id']}/cancel", {}).json()["status"] == (
        RequestStatus.CANCELLED
    )


def test_api_bad_inputs(world: World, client_for: Any) -> None:
    w = world
    cadre = client_for(w.cadre)
    url = f"{API}/requests"
    suits = w.stock.suits.pk
    bad_lines: list[Any] = [
        [],
        [{"item_id": suits, "quantity": -1}],
        [{"item_id": suits, "quantity": 2.5}],
        [{"item_id": suits, "quantity": "2.5"}],
        [{"item_id": suits, "quantity": 10**13}],
        [{"item_id": suits, "quantity": "3 桶"}],
        [{"item_id": suits, "quantity": True}],
        [{"item_id": suits, "quantity": None}],
        [{"item_id": 10**20, "quantity": 1}],
        [{"item_id": -1, "quantity": 1}],
        [{"item_id": suits, "quantity": 1}, {"item_id": suits, "quantity": 2}],
        "not a list",
    ]
    for lines in bad_lines:
        response = _post(cadre, url, {"site_id": w.village_site.pk, "lines": lines})
        assert response.status_code == 422, (lines, response.status_code, response.content)
    for site_id in (10**20, -1, w.village2_site.pk):
        response = _post(
            cadre, url, {"site_id": site_id, "lines": [{"item_id": suits, "quantity": 1}]}
        )
        assert response.status_code in (404, 422), site_id
    full_width = _post(
        cadre,
        url,
        {"site_id": w.village_site.pk, "lines": [{"item_id": suits, "quantity": "１２"}]},
    )
    assert full_width.status_code == 201 and full_width.json()["lines"][0]["requested"] == 12
    assert SupplyRequest.objects.count() == 1
    request = approved_request(w)
    keeper = client_for(w.keeper)
    line_id = request.lines.get(item=w.stock.suits).pk
    for lines in (
        [{"line_id": line_id, "quantity": -5}],
        [{"line_id": line_id, "quantity": 0}],
        [{"line_id": line_id, "quantity": 5}, {"line_id": line_id, "quantity": 5}],
        [{"line_id": 10**20, "quantity": 5}],
        [{"line_id": line_id, "quantity": 5, "lot": "NOPE"}],
    ):
        response = _post(
            keeper, f"{API}/requests/{request.pk}/fulfil", {"source_id": w.depot.pk, "lines": lines}
        )
        assert response.status_code == 422, lines
    for source_id in (w.stock.testing_site.pk, 10**20):
        response = _post(
            keeper,
            f"{API}/requests/{request.pk}/fulfil",
            {"source_id": source_id, "lines": [{"line_id": line_id, "quantity": 5}]},
        )
        assert response.status_code == 422
    assert cadre.get(f"{API}/requests/{10**20}").status_code == 404
    assert cadre.get(f"{API}/requests", {"status": "bogus"}).status_code == 422


def test_api_access_matrix(world: World, make_user: Any, client_for: Any) -> None:
    w = world
    request = approved_request(w)
    pending = _post(
        client_for(w.cadre),
        f"{API}/requests",
        {"site_id": w.village_site.pk, "lines": [{"item_id": w.stock.flour.pk, "quantity": 3}]},
    ).json()
    pending2 = _post(
        client_for(w.cadre),
        f"{API}/requests",
        {"site_id": w.village_site.pk, "lines": [{"item_id": w.stock.flour.pk, "quantity": 3}]},
    ).json()
    suits_line = request.lines.get(item=w.stock.suits).pk
    cases = [
        AccessCase(
            f"{API}/requests/{request.pk}",
            "village_cadre",
            FUDAO_ERJIE,
            JIANGTAITUN,
            None,
            api=True,
        ),
        AccessCase(
            f"{API}/requests",
            "village_cadre",
            FUDAO_ERJIE,
            JIANGTAITUN,
            "inspector",
            method="post",
            data={
                "site_id": w.village_site.pk,
                "lines": [{"item_id": w.stock.flour.pk, "quantity": 1}],
            },
            content_type=JSON,
            api=True,
        ),
        AccessCase(
            f"{API}/requests/{pending['id']}/approve",
            "township_officer",
            FUDAO,
            GAOZHUANG,
            "village_cadre",
            method="post",
            data={},
            content_type=JSON,
            api=True,
        ),
        AccessCase(
            f"{API}/requests/{pending2['id']}/reject",
            "township_officer",
            FUDAO,
            GAOZHUANG,
            "warehouse_keeper",
            method="post",
            data={"note": "不需要"},
            content_type=JSON,
            api=True,
        ),
        AccessCase(
            f"{API}/requests/{request.pk}/fulfil",
            "warehouse_keeper",
            FUDAO,
            GAOZHUANG,
            "inspector",
            method="post",
            data={"source_id": w.depot.pk, "lines": [{"line_id": suits_line, "quantity": 10}]},
            content_type=JSON,
            api=True,
        ),
    ]
    for case in cases:
        check_access_matrix(case, make_user, client_for)
    assert on_hand(w.village, w.stock.suits) == 10
    outsider = client_for(w.outsider)
    assert_absent(outsider, f"{API}/requests", request.number)
    cadre2 = client_for(w.cadre2)  # the neighbouring village
    assert_absent(cadre2, f"{API}/requests", request.number)
    assert cadre2.get(f"{API}/requests/{request.pk}").status_code == 404
    cancel = _post(cadre2, f"{API}/requests/{pending2['id']}/cancel", {})
    assert cancel.status_code == 404


def test_api_list_query_count_is_fixed(world: World, client_for: Any) -> None:
    w = world
    client = client_for(w.officer)
    approved_request(w)
    few = count_queries(client, f"{API}/requests")
    for _ in range(8):
        approved_request(w)
    assert count_queries(client, f"{API}/requests") == few
    assert count_queries(client, f"{API}/requests", page_size=2) == few
    assert client.get(f"{API}/requests").json()["count"] == 9
