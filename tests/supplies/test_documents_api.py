"""Documents API: post per kind, idempotency, errors as 422, reverse, list scope and queries."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fangkong.accounts.roles import Role
from fangkong.supplies.models import Lot, LotStatus, StockDocument
from tests.conftest import FUDAO, GAOZHUANG
from tests.supplies.conftest import Stock
from tests.supplies.documents_fixtures import on_hand, receive
from tests.support.access import (
    AccessCase,
    assert_absent,
    assert_present,
    check_access_matrix,
    count_queries,
)

pytestmark = pytest.mark.django_db

API = "/api/v1/supplies/documents"
JSON = "application/json"
KEEPER = Role.WAREHOUSE_KEEPER


@pytest.fixture
def keeper(make_user: Any, client_for: Any) -> Any:
    client = client_for(make_user(role=KEEPER, region=FUDAO))
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def _post(client: Any, path: str, body: dict[str, Any], **headers: Any) -> Any:
    return client.post(f"{API}/{path}", json.dumps(body), content_type=JSON, **headers)


def test_receipt_issue_transfer_adjustment(stock: Stock, keeper: Any) -> None:
    depot = stock.depot.site_id
    receipt = _post(
        keeper,
        "receipts",
        {
            "destination_site_id": depot,
            "receipt_source": "donation",
            "supplier": "安阳市社科联",
            "lines": [
                {"item_id": stock.masks.pk, "units": 2000},
                {
                    "item_id": stock.disinfectant.pk,
                    "pack_id": stock.disinfectant_box.pk,
                    "pack_count": "７",
                },
            ],
        },
    )
    assert receipt.status_code == 201, receipt.json()
    body = receipt.json()
    assert [line["display"] for line in body["lines"]] == ["2000 个 (5 箱)", "210 瓶 (7 箱)"]
    assert len(body["movements"]) == 2
    issue = _post(
        keeper,
        "issues",
        {
            "source_site_id": depot,
            "recipient_kind": "other",
            "recipient_name": "伏道镇政府干部",
            "lines": [{"item_id": stock.masks.pk, "units": "100"}],
        },
    )
    assert issue.status_code == 201, issue.json()
    transfer = _post(
        keeper,
        "transfers",
        {
            "source_site_id": depot,
            "destination_site_id": stock.village.site_id,
            "lines": [
                {
                    "item_id": stock.disinfectant.pk,
                    "pack_id": stock.disinfectant_box.pk,
                    "units": 60,
                }
            ],
        },
    )
    assert transfer.status_code == 201, transfer.json()
    assert transfer.json()["lines"][0]["pack_count"] == 2
    adjust = _post(
        keeper,
        "adjustments",
        {
            "source_site_id": depot,
            "reason": "damaged",
            "lines": [{"item_id": stock.disinfectant.pk, "units": 3}],
        },
    )
    assert adjust.status_code == 201, adjust.json()
    assert on_hand(stock.depot, stock.masks) == 1900
    assert on_hand(stock.depot, stock.disinfectant) == 147
    assert on_hand(stock.village, stock.disinfectant) == 60


def test_idempotency_header_posts_once(stock: Stock, keeper: Any) -> None:
    body = {
        "destination_site_id": stock.depot.site_id,
        "receipt_source": "purchase",
        "lines": [{"item_id": stock.flour.pk, "units": 9761}],
    }
    first = _post(keeper, "receipts", body, HTTP_IDEMPOTENCY_KEY="flour-20220121")
    second = _post(keeper, "receipts", body, HTTP_IDEMPOTENCY_KEY="flour-20220121")
    assert first.status_code == 201 and second.status_code == 200
    assert first.json()["id"] == second.json()["id"]
    assert on_hand(stock.depot, stock.flour) == 9761
    bad = _post(keeper, "receipts", body, HTTP_IDEMPOTENCY_KEY="no spaces!")
    assert bad.status_code == 422 and "idempotency_key" in bad.json()["fields"]


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ({"units": -1}, "lines.0.units"),
        ({"units": "2.5"}, "lines.0.units"),
        ({"units": 2.5}, "lines.0.units"),
        ({"units": 10**13}, "lines.0.units"),
        ({"units": "１２", "pack_id": "BOX"}, "lines.0.units"),
        ({"pack_id": "BOX", "pack_count": 10**11}, "lines.0.pack_count"),
        ({"pack_id": "BOX", "pack_count": 2**31}, "lines.0.pack_count"),
        ({"pack_count": 3}, "lines.0.pack"),
        ({"units": 0}, "lines.0.units"),
        ({"units": None}, "lines.0.units"),
        ({"units": "abc"}, "lines.0.units"),
        ({"units": 1, "item_id": 99999}, "lines.0.item_id"),
        ({"units": 1, "pack_id": 99999}, "lines.0.pack_id"),
    ],
)
def test_bad_lines_are_422_with_fields(
    stock: Stock, keeper: Any, line: dict[str, Any], field: str
) -> None:
    entry = {"item_id": stock.suits.pk, **line}
    if entry.get("pack_id") == "BOX":
        entry["pack_id"] = stock.suit_box.pk
    response = _post(
        keeper,
        "receipts",
        {
            "destination_site_id": stock.depot.site_id,
            "receipt_source": "purchase",
            "lines": [entry],
        },
    )
    assert response.status_code == 422, response.json()
    assert field in response.json()["fields"], response.json()
    assert StockDocument.objects.count() == 0


def test_full_width_units_accepted(stock: Stock, keeper: Any) -> None:
    response = _post(
        keeper,
        "receipts",
        {
            "destination_site_id": stock.depot.site_id,
            "receipt_source": "purchase",
            "lines": [{"item_id": stock.suits.pk, "units": "１２"}],
        },
    )
    assert response.status_code == 201 and on_hand(stock.depot, stock.suits) == 12


def test_ledger_refusals_are_422(stock: Stock, keeper: Any) -> None:
    receive(stock.depot, stock.suits, 1500)
    short = _post(
        keeper,
        "issues",
        {
            "source_site_id": stock.depot.site_id,
            "recipient_name": "伏道二街村",
            "lines": [{"item_id": stock.suits.pk, "units": 1600}],
        },
    )
    assert short.status_code == 422
    message = json.dumps(short.json(), ensure_ascii=False)
    assert "医用防护服" in message and "伏道镇防疫物资库" in message and "100" in message
    receive(stock.depot, stock.tubes, 100, lot="T1")
    Lot.objects.filter(code="T1").update(status=LotStatus.RECALLED)
    recalled = _post(
        keeper,
        "transfers",
        {
            "source_site_id": stock.depot.site_id,
            "destination_site_id": stock.village.site_id,
            "lines": [{"item_id": stock.tubes.pk, "units": 1, "lot": "T1"}],
        },
    )
    assert recalled.status_code == 422 and "T1" in json.dumps(recalled.json())
    same = _post(
        keeper,
        "transfers",
        {
            "source_site_id": stock.depot.site_id,
            "destination_site_id": stock.depot.site_id,
            "lines": [{"item_id": stock.suits.pk, "units": 1}],
        },
    )
    assert same.status_code == 422
    no_reason = _post(
        keeper,
        "adjustments",
        {
            "source_site_id": stock.depot.site_id,
            "reason": "",
            "lines": [{"item_id": stock.suits.pk, "units": 1}],
        },
    )
    assert no_reason.status_code == 422 and "reason" in no_reason.json()["fields"]
    empty = _post(
        keeper,
        "receipts",
        {"destination_site_id": stock.depot.site_id, "receipt_source": "purchase", "lines": []},
    )
    assert empty.status_code == 422


def test_reverse_once_never_a_reversal(stock: Stock, keeper: Any) -> None:
    document = receive(stock.depot, stock.suits, 10)
    no_note = _post(keeper, f"{document.pk}/reverse", {"note": ""})
    assert no_note.status_code == 422
    done = _post(keeper, f"{document.pk}/reverse", {"note": "录错"})
    assert done.status_code == 201 and done.json()["kind"] == "reversal"
    again = _post(keeper, f"{document.pk}/reverse", {"note": "again"})
    assert again.status_code == 422
    of_reversal = _post(keeper, f"{done.json()['id']}/reverse", {"note": "x"})
    assert of_reversal.status_code == 422
    detail = keeper.get(f"{API}/{document.pk}").json()
    assert detail["status"] == "reversed" and detail["reversed_by_id"] == done.json()["id"]


@pytest.mark.parametrize(
    ("suffix", "method", "data", "wrong"),
    [
        ("DOC", "get", {}, None),
        ("DOC/reverse", "post", {"note": "测试"}, Role.INSPECTOR),
        ("issues", "post", "ISSUE", Role.INSPECTOR),
        ("receipts", "post", "RECEIPT", Role.AUDITOR),
    ],
)
def test_api_access_matrix(
    stock: Stock, make_user: Any, client_for: Any, suffix: str, method: str, data: Any, wrong: Any
) -> None:
    document = receive(stock.depot, stock.suits, 1000)
    if data == "ISSUE":
        data = {
            "source_site_id": stock.depot.site_id,
            "recipient_name": "x",
            "lines": [{"item_id": stock.suits.pk, "units": 1}],
        }
    elif data == "RECEIPT":
        data = {
            "destination_site_id": stock.depot.site_id,
            "receipt_source": "purchase",
            "lines": [{"item_id": stock.suits.pk, "units": 1}],
        }
    case = AccessCase(
        url=f"{API}/{suffix.replace('DOC', str(document.pk))}",
        role=KEEPER,
        region=FUDAO,
        other_region=GAOZHUANG,
        wrong_role=wrong,
        method=method,
        data=json.dumps(data) if method == "post" else data,
        content_type=JSON if method == "post" else None,
        api=True,
    )
    check_access_matrix(case, make_user, client_for)


def test_list_scoped_filtered_fixed_queries(stock: Stock, make_user: Any, client_for: Any) -> None:
    mine = receive(stock.depot, stock.suits, 10)
    theirs = receive(stock.testing_site, stock.masks, 10)
    keeper = client_for(make_user(role=KEEPER, region=FUDAO))
    assert_present(keeper, API, mine.number)
    assert_absent(keeper, API, theirs.number)
    assert_absent(keeper, API, mine.number, kind="issue")
    assert keeper.get(API, {"date_from": "x"}).status_code == 422
    assert keeper.get(API, {"kind": "bogus"}).status_code == 422
    assert keeper.get(f"{API}/{2**64}").status_code in (404, 422)
    few = count_queries(keeper, API, page_size=50)
    for _ in range(12):
        receive(stock.depot, stock.suits, 1)
    assert count_queries(keeper, API, page_size=50) == few
    nobody = client_for(make_user(region=FUDAO))
    assert nobody.get(API).status_code == 403
