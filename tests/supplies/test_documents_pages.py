"""Document pages: list, create-and-post per kind, detail, print, reverse; bad input."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from fangkong.accounts.roles import Role
from fangkong.supplies.models import (
    DocumentStatus,
    Lot,
    LotStatus,
    Movement,
    StockDocument,
)
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

KEEPER = Role.WAREHOUSE_KEEPER
BASE = "/supplies/documents/"


def _form(kind: str, stock: Stock, lines: list[dict[str, Any]], **header: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "idempotency_key": header.pop("key", "k" * 8 + kind),
        "effective_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        "note": "",
        "lines-TOTAL_FORMS": str(max(len(lines), 1)),
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "50",
    }
    data.update(header)
    for index, line in enumerate(lines):
        for name, value in line.items():
            data[f"lines-{index}-{name}"] = value
    return data


def _depot_site(stock: Stock) -> int:
    return stock.depot.site_id  # type: ignore[return-value]


@pytest.fixture
def keeper_client(make_user: Any, client_for: Any) -> Any:
    client = client_for(make_user(role=KEEPER, region=FUDAO))
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"  # messages asserted in English
    return client


def test_receipt_in_packs_and_units(stock: Stock, keeper_client: Any) -> None:
    data = _form(
        "receipt",
        stock,
        [
            {"item": stock.suits.pk, "pack": stock.suit_box.pk, "pack_count": "30", "units": ""},
            {"item": stock.masks.pk, "pack": stock.mask_box.pk, "pack_count": "５", "units": "12"},
        ],
        destination_site=_depot_site(stock),
        receipt_source="purchase",
        supplier="某医疗器械公司",
    )
    response = keeper_client.post(f"{BASE}new/receipt/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert on_hand(stock.depot, stock.suits) == 1500
    assert on_hand(stock.depot, stock.masks) == 5 * 400 + 12
    document = StockDocument.objects.get()
    page = keeper_client.get(f"{BASE}{document.pk}/").content.decode()
    assert "1500 套 (30 箱)" in page
    printed = keeper_client.get(f"{BASE}{document.pk}/print/").content.decode()
    assert document.number in printed and "1500 套 (30 箱)" in printed
    assert "@page" in printed and "signatures" in printed


def test_double_submit_posts_once(stock: Stock, keeper_client: Any) -> None:
    data = _form(
        "receipt",
        stock,
        [{"item": stock.flour.pk, "units": "100"}],
        destination_site=_depot_site(stock),
        receipt_source="donation",
        key="same-key-123",
    )
    first = keeper_client.post(f"{BASE}new/receipt/", data)
    second = keeper_client.post(f"{BASE}new/receipt/", data)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert StockDocument.objects.count() == 1
    assert on_hand(stock.depot, stock.flour) == 100


@pytest.mark.parametrize(
    ("line", "field_text"),
    [
        ({"units": "-5"}, "cannot be negative"),
        ({"units": "2.5"}, "whole numbers"),
        ({"units": str(10**13)}, "too large"),
        ({"units": "abc"}, "whole number"),
        ({"pack": "SUIT_BOX", "pack_count": str(10**11)}, "too large"),
        ({"pack": "SUIT_BOX", "pack_count": str(2**31)}, "too large"),
        ({"pack": "SUIT_BOX", "units": "1510"}, "enter the quantity in units"),
        ({"units": ""}, "Enter the packs or the units"),
    ],
)
def test_bad_quantities_are_field_errors(
    stock: Stock, keeper_client: Any, line: dict[str, str], field_text: str
) -> None:
    entry = {"item": stock.suits.pk, **line}
    if entry.get("pack") == "SUIT_BOX":
        entry["pack"] = stock.suit_box.pk
    data = _form(
        "receipt",
        stock,
        [entry],
        destination_site=_depot_site(stock),
        receipt_source="purchase",
    )
    response = keeper_client.post(f"{BASE}new/receipt/", data)
    assert response.status_code == 200
    assert field_text in response.content.decode()
    assert StockDocument.objects.count() == 0


def test_full_width_units_accepted(stock: Stock, keeper_client: Any) -> None:
    data = _form(
        "receipt",
        stock,
        [{"item": stock.suits.pk, "units": "１２"}],
        destination_site=_depot_site(stock),
        receipt_source="purchase",
    )
    assert keeper_client.post(f"{BASE}new/receipt/", data).status_code == 302
    assert on_hand(stock.depot, stock.suits) == 12


def test_issue_more_than_on_hand_names_the_shortfall(stock: Stock, keeper_client: Any) -> None:
    receive(stock.depot, stock.suits, 1500)
    data = _form(
        "issue",
        stock,
        [{"item": stock.suits.pk, "units": "1600"}],
        source_site=_depot_site(stock),
        recipient_kind="other",
        recipient_name="伏道二街村",
    )
    response = keeper_client.post(f"{BASE}new/issue/", data)
    assert response.status_code == 200
    page = response.content.decode()
    assert "医用防护服" in page and "伏道镇防疫物资库" in page and "100" in page
    assert on_hand(stock.depot, stock.suits) == 1500


def test_issue_without_recipient_name_refused(stock: Stock, keeper_client: Any) -> None:
    receive(stock.depot, stock.flour, 10)
    data = _form(
        "issue",
        stock,
        [{"item": stock.flour.pk, "units": "1"}],
        source_site=_depot_site(stock),
        recipient_kind="other",
    )
    response = keeper_client.post(f"{BASE}new/issue/", data)
    assert response.status_code == 200 and StockDocument.objects.count() == 1


@pytest.mark.parametrize("status", [LotStatus.RECALLED, LotStatus.EXPIRED])
def test_blocked_lot_refused_for_issue_and_transfer(
    stock: Stock, keeper_client: Any, status: str
) -> None:
    receive(stock.depot, stock.tubes, 600, lot="L2201", expiry=dt.date(2030, 1, 1))
    Lot.objects.filter(code="L2201").update(status=status)
    issue = _form(
        "issue",
        stock,
        [{"item": stock.tubes.pk, "units": "10", "lot_code": "l2201"}],
        source_site=_depot_site(stock),
        recipient_kind="other",
        recipient_name="采样点",
    )
    response = keeper_client.post(f"{BASE}new/issue/", issue)
    assert response.status_code == 200 and "L2201" in response.content.decode()
    transfer = _form(
        "transfer",
        stock,
        [{"item": stock.tubes.pk, "units": "10", "lot_code": "L2201"}],
        source_site=_depot_site(stock),
        destination_site=stock.village.site_id,
        key="transfer-key-1",
    )
    response = keeper_client.post(f"{BASE}new/transfer/", transfer)
    assert response.status_code == 200 and "L2201" in response.content.decode()
    assert on_hand(stock.depot, stock.tubes) == 600


def test_lot_tracked_receipt_needs_a_lot(stock: Stock, keeper_client: Any) -> None:
    data = _form(
        "receipt",
        stock,
        [{"item": stock.tubes.pk, "units": "100"}],
        destination_site=_depot_site(stock),
        receipt_source="allocation",
    )
    response = keeper_client.post(f"{BASE}new/receipt/", data)
    assert response.status_code == 200 and "lot number" in response.content.decode()


def test_transfer_to_same_location_refused(stock: Stock, keeper_client: Any) -> None:
    receive(stock.depot, stock.suits, 100)
    data = _form(
        "transfer",
        stock,
        [{"item": stock.suits.pk, "units": "10"}],
        source_site=_depot_site(stock),
        destination_site=_depot_site(stock),
    )
    response = keeper_client.post(f"{BASE}new/transfer/", data)
    assert response.status_code == 200 and "two different locations" in response.content.decode()


def test_transfer_and_village_sees_it(
    stock: Stock, keeper_client: Any, make_user: Any, client_for: Any
) -> None:
    receive(stock.depot, stock.suits, 100)
    data = _form(
        "transfer",
        stock,
        [{"item": stock.suits.pk, "pack": stock.suit_box.pk, "pack_count": "1"}],
        source_site=_depot_site(stock),
        destination_site=stock.village.site_id,
    )
    assert keeper_client.post(f"{BASE}new/transfer/", data).status_code == 302
    assert on_hand(stock.village, stock.suits) == 50
    document = StockDocument.objects.get(kind="transfer")
    cadre = client_for(make_user(role=Role.VILLAGE_CADRE, region="410523106201"))
    assert_present(cadre, BASE, document.number)
    assert cadre.get(f"{BASE}{document.pk}/").status_code == 200
    # The location filter finds a transfer from either side (it narrows by the location's
    # region too, which is the document's region or its counterpart's).
    keeper = client_for(make_user(role=KEEPER, region=FUDAO))
    assert_present(keeper, BASE, document.number, location=stock.depot.pk)
    assert_present(keeper, BASE, document.number, location=stock.village.pk)
    assert_absent(keeper, BASE, document.number, location=stock.testing_site.pk)
    reverse = {"idempotency_key": "rev-transfer-1", "note": "送错了"}
    assert keeper_client.post(f"{BASE}{document.pk}/reverse/", reverse).status_code == 302
    reversal = StockDocument.objects.get(kind="reversal")
    assert_present(keeper, BASE, reversal.number, location=stock.village.pk)
    assert_present(keeper, BASE, reversal.number, location=stock.depot.pk)


def test_adjustment_reason_sets_direction_and_is_required(stock: Stock, keeper_client: Any) -> None:
    receive(stock.depot, stock.disinfectant, 210)
    missing = _form(
        "adjustment",
        stock,
        [{"item": stock.disinfectant.pk, "units": "3"}],
        source_site=_depot_site(stock),
    )
    response = keeper_client.post(f"{BASE}new/adjustment/", missing)
    assert response.status_code == 200 and on_hand(stock.depot, stock.disinfectant) == 210
    damaged = dict(missing, reason="damaged", idempotency_key="adjust-key-1")
    assert keeper_client.post(f"{BASE}new/adjustment/", damaged).status_code == 302
    assert on_hand(stock.depot, stock.disinfectant) == 207
    found = dict(missing, reason="found", idempotency_key="adjust-key-2")
    assert keeper_client.post(f"{BASE}new/adjustment/", found).status_code == 302
    assert on_hand(stock.depot, stock.disinfectant) == 210


def test_backdating_outside_window_is_a_form_error(stock: Stock, keeper_client: Any) -> None:
    old = (timezone.localtime() - dt.timedelta(days=10)).strftime("%Y-%m-%dT%H:%M")
    data = _form(
        "receipt",
        stock,
        [{"item": stock.suits.pk, "units": "1"}],
        destination_site=_depot_site(stock),
        receipt_source="purchase",
        effective_at=old,
    )
    response = keeper_client.post(f"{BASE}new/receipt/", data)
    assert response.status_code == 200 and "back-dated" in response.content.decode()


def test_reverse_once_with_reason(stock: Stock, keeper_client: Any) -> None:
    document = receive(stock.depot, stock.suits, 10)
    url = f"{BASE}{document.pk}/reverse/"
    no_reason = keeper_client.post(url, {"idempotency_key": "rev-key-01", "note": ""})
    assert no_reason.status_code == 302 and on_hand(stock.depot, stock.suits) == 10
    done = keeper_client.post(url, {"idempotency_key": "rev-key-02", "note": "录错"})
    assert done.status_code == 302 and on_hand(stock.depot, stock.suits) == 0
    document.refresh_from_db()
    assert document.status == DocumentStatus.REVERSED
    again = keeper_client.post(url, {"idempotency_key": "rev-key-03", "note": "again"}, follow=True)
    assert "already been reversed" in again.content.decode()
    reversal = StockDocument.objects.get(kind="reversal")
    of_reversal = keeper_client.post(
        f"{BASE}{reversal.pk}/reverse/", {"idempotency_key": "rev-key-04", "note": "x"}, follow=True
    )
    assert "cannot be reversed" in of_reversal.content.decode()
    assert StockDocument.objects.count() == 2


@pytest.mark.parametrize(
    ("suffix", "method", "wrong"),
    [
        ("", "get", None),
        ("print/", "get", None),
        ("reverse/", "post", Role.INSPECTOR),
    ],
)
def test_document_access_matrix(
    stock: Stock, make_user: Any, client_for: Any, suffix: str, method: str, wrong: Any
) -> None:
    document = receive(stock.depot, stock.suits, 10)
    case = AccessCase(
        url=f"{BASE}{document.pk}/{suffix}",
        role=KEEPER,
        region=FUDAO,
        other_region=GAOZHUANG,
        wrong_role=wrong,
        method=method,
        data={"idempotency_key": "matrix-key", "note": "测试"} if method == "post" else {},
    )
    check_access_matrix(case, make_user, client_for)


def test_pages_refuse_roles_without_permission(
    stock: Stock, make_user: Any, client_for: Any
) -> None:
    nobody = client_for(make_user(region=FUDAO))
    assert nobody.get(BASE).status_code == 403
    inspector = client_for(make_user(role=Role.INSPECTOR, region=FUDAO))
    assert inspector.get(BASE).status_code == 200
    for kind in ("receipt", "issue", "transfer", "adjustment"):
        assert inspector.get(f"{BASE}new/{kind}/").status_code == 403
    assert client_for(None).get(f"{BASE}new/receipt/").status_code == 302
    keeper = client_for(make_user(role=KEEPER, region=FUDAO))
    assert keeper.get(f"{BASE}new/bogus/").status_code == 404
    assert keeper.get(f"{BASE}{2**64}/").status_code == 404


def test_outsider_cannot_post_at_depot(stock: Stock, make_user: Any, client_for: Any) -> None:
    outsider = client_for(make_user(role=KEEPER, region=GAOZHUANG))
    form_page = outsider.get(f"{BASE}new/receipt/").content.decode()
    assert "伏道镇防疫物资库" not in form_page
    data = _form(
        "receipt",
        stock,
        [{"item": stock.suits.pk, "units": "1"}],
        destination_site=_depot_site(stock),
        receipt_source="purchase",
    )
    assert outsider.post(f"{BASE}new/receipt/", data).status_code == 200
    assert StockDocument.objects.count() == 0


def test_list_scoped_filtered_and_query_count_fixed(
    stock: Stock, make_user: Any, client_for: Any
) -> None:
    first = receive(stock.depot, stock.suits, 10)
    other = receive(stock.testing_site, stock.masks, 10)
    keeper = client_for(make_user(role=KEEPER, region=FUDAO))
    assert_present(keeper, BASE, first.number)
    assert_absent(keeper, BASE, other.number)
    assert_absent(keeper, BASE, first.number, kind="issue")
    assert_present(keeper, BASE, first.number, item=stock.suits.pk)
    assert_absent(keeper, BASE, first.number, item=stock.masks.pk)
    assert_present(keeper, BASE, first.number, location=stock.depot.pk)
    assert keeper.get(BASE, {"date_from": "99999-01-01"}).status_code == 200
    few = count_queries(keeper, BASE)
    for _ in range(15):
        receive(stock.depot, stock.suits, 1)
    assert count_queries(keeper, BASE) == few
    assert Movement.objects.count() == 17
