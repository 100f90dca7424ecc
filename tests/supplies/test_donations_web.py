"""Donation pages and API: access matrix, masking and reveal, receive once, certificate,
export (formulas neutralized, phone masked, logged), query-count pins."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import reverse
from django.utils import translation

from fangkong.core.models import AccessLogEntry
from fangkong.supplies.actions.donations import DonationLineInput as Line
from fangkong.supplies.models import Balance, Donation, StockDocument
from tests.conftest import FUDAO, GAOZHUANG
from tests.supplies.conftest import Stock
from tests.supplies.test_donations import ANYANG_CITY, record
from tests.support.access import (
    AccessCase,
    assert_absent,
    assert_present,
    body_text,
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
PHONE = "13812345678"


@pytest.fixture
def donation(stock: Stock) -> Donation:
    return record(
        None,
        donor_name='=HYPERLINK("http://evil","点我")',
        donor_phone=PHONE,
        lines=[
            Line(item=stock.masks, quantity="2000"),
            Line(item=stock.disinfectant, pack_count="7"),
        ],
    )


@pytest.fixture
def township(make_user: Any, client_for: Any) -> Any:
    return client_for(make_user("officer", role="township_officer", region=FUDAO))


def _json(response: Any) -> Any:
    return json.loads(response.content)


# ------------------------------------------------------------------- access matrix


@pytest.mark.parametrize("name", ["supplies:donation_detail", "supplies:donation_certificate"])
def test_read_pages_matrix(name: str, donation: Donation, make_user: Any, client_for: Any) -> None:
    case = AccessCase(
        url=reverse(name, args=[donation.pk]),
        role="unit_admin",
        region=FUDAO,
        other_region=GAOZHUANG,
        wrong_role="inspector",
    )
    results = check_access_matrix(case, make_user, client_for)
    assert donation.number in results["allowed"].content.decode()


def test_write_pages_matrix(donation: Donation, make_user: Any, client_for: Any) -> None:
    for name in ("supplies:donation_acknowledge", "supplies:donation_post_stock"):
        check_access_matrix(
            AccessCase(
                url=reverse(name, args=[donation.pk]),
                role="warehouse_keeper",
                region=FUDAO,
                other_region=GAOZHUANG,
                wrong_role="inspector",
                method="post",
                allowed_status=(200, 302, 422),
            ),
            make_user,
            client_for,
        )


def test_list_and_export_scope(donation: Donation, make_user: Any, client_for: Any) -> None:
    outsider = client_for(make_user(role="township_officer", region=GAOZHUANG))
    insider = client_for(make_user(role="township_officer", region=FUDAO))
    for url, params in (
        (reverse("supplies:donation_list"), {}),
        (f"{API}/donations", {}),
        (reverse("supplies:donation_export"), {"format": "csv"}),
        (f"{API}/donations/export", {"format": "csv"}),
    ):
        assert_absent(outsider, url, donation.number, **params)
        assert_present(insider, url, donation.number, **params)
    inspector = client_for(make_user(role="inspector", region=FUDAO))
    assert inspector.get(reverse("supplies:donation_list")).status_code == 403
    assert inspector.get(f"{API}/donations").status_code == 403
    # A unit admin manages donations but may not export.
    unit = client_for(make_user(role="unit_admin", region=FUDAO))
    assert unit.get(reverse("supplies:donation_export")).status_code == 403
    assert unit.get(f"{API}/donations/export").status_code == 403
    assert client_for(None).get(f"{API}/donations").status_code == 401


def test_api_matrix(donation: Donation, make_user: Any, client_for: Any) -> None:
    check_access_matrix(
        AccessCase(
            url=f"{API}/donations/{donation.pk}",
            role="unit_admin",
            region=FUDAO,
            other_region=GAOZHUANG,
            wrong_role="auditor",
            api=True,
        ),
        make_user,
        client_for,
    )
    check_access_matrix(
        AccessCase(
            url=f"{API}/donations/{donation.pk}/acknowledge",
            role="unit_admin",
            region=FUDAO,
            other_region=GAOZHUANG,
            wrong_role="auditor",
            method="post",
            api=True,
            content_type="application/json",
        ),
        make_user,
        client_for,
    )
    check_access_matrix(
        AccessCase(
            url=f"{API}/donations",
            role="unit_admin",
            region=FUDAO,
            other_region=GAOZHUANG,
            wrong_role="auditor",
            method="post",
            api=True,
            content_type="application/json",
            data={
                "direction": "inbound",
                "region_code": FUDAO,
                "donated_on": "2022-01-21",
                "donor_name": "某企业",
                "donor_type": "enterprise",
                "recipient_name": "伏道镇政府",
                "recipient_type": "government",
                "lines": [{"description": "方便面", "quantity": 50, "unit": "箱"}],
            },
            allowed_status=(201,),
        ),
        make_user,
        client_for,
    )


def test_api_receive_matrix(
    stock: Stock, donation: Donation, make_user: Any, client_for: Any
) -> None:
    check_access_matrix(
        AccessCase(
            url=f"{API}/donations/{donation.pk}/receive",
            role="warehouse_keeper",
            region=FUDAO,
            other_region=GAOZHUANG,
            wrong_role="unit_admin",  # manages donations, may not post stock
            method="post",
            api=True,
            content_type="application/json",
            data={"location_id": stock.depot.pk},
        ),
        make_user,
        client_for,
    )


# ------------------------------------------------------------------- masking and reveal


def test_phone_is_masked_and_reveal_is_logged(
    donation: Donation, township: Any, make_user: Any, client_for: Any
) -> None:
    page = township.get(reverse("supplies:donation_detail", args=[donation.pk])).content.decode()
    assert PHONE not in page and "138****5678" in page
    api = township.get(f"{API}/donations/{donation.pk}").content.decode()
    assert PHONE not in api and "138****5678" in api
    response = township.post(reverse("supplies:donation_reveal", args=[donation.pk]))
    assert PHONE in response.content.decode()
    response = township.post(f"{API}/donations/{donation.pk}/reveal")
    assert _json(response) == {"donor_phone": PHONE}
    reveals = AccessLogEntry.objects.filter(kind="reveal", object_type="supplies.donation")
    assert reveals.count() == 2
    keeper = client_for(make_user(role="warehouse_keeper", region=FUDAO))  # no reveal
    assert keeper.post(reverse("supplies:donation_reveal", args=[donation.pk])).status_code == 403
    assert keeper.post(f"{API}/donations/{donation.pk}/reveal").status_code == 403
    assert reveals.count() == 2


# ------------------------------------------------------------------- create


def _form_data(**overrides: str) -> dict[str, str]:
    data = {
        "direction": "inbound",
        "region": FUDAO,
        "donated_on": "２０２２-01-21",
        "donor_name": "河南某公司",
        "donor_type": "enterprise",
        "donor_credit_code": "９１１１００００６０００３７３４１ｌ",
        "donor_contact": "",
        "donor_phone": "",
        "recipient_name": "伏道镇政府",
        "recipient_type": "government",
        "note": "",
        "lines-TOTAL_FORMS": "2",
        "lines-INITIAL_FORMS": "0",
        "lines-0-item": "",
        "lines-0-description": "",
        "lines-0-quantity": "",
        "lines-0-pack_count": "",
        "lines-0-unit": "",
        "lines-1-item": "",
        "lines-1-description": "",
        "lines-1-quantity": "",
        "lines-1-pack_count": "",
        "lines-1-unit": "",
    }
    data.update(overrides)
    return data


def test_create_page(stock: Stock, township: Any) -> None:
    url = reverse("supplies:donation_create")
    assert township.get(url).status_code == 200
    response = township.post(
        url, _form_data(**{"lines-0-item": str(stock.masks.pk), "lines-0-pack_count": "５"})
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    donation = Donation.objects.get()
    assert donation.donor_credit_code == "91110000600037341L"
    assert donation.lines.get().quantity == 2000


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"donor_credit_code": "91110000600037341A"}, "check character"),
        ({}, "Add at least one line"),
        ({"lines-0-item": "MASKS", "lines-0-quantity": "5"}, "Select a valid choice"),
        (
            {"lines-0-description": "方便面", "lines-0-quantity": "-5", "lines-0-unit": "箱"},
            "negative",
        ),
        (
            {"lines-0-description": "方便面", "lines-0-quantity": "2.5", "lines-0-unit": "箱"},
            "whole numbers",
        ),
        (
            {
                "region": GAOZHUANG,
                "lines-0-description": "面",
                "lines-0-quantity": "1",
                "lines-0-unit": "袋",
            },
            "jurisdiction",
        ),
        ({"donated_on": "2022-13-45"}, "valid date"),
    ],
)
def test_create_page_bad_input(stock: Stock, township: Any, overrides: dict, message: str) -> None:
    response = township.post(
        reverse("supplies:donation_create"), _form_data(**overrides), HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 422
    assert message in response.content.decode()
    assert not Donation.objects.exists()


def test_create_page_duplicate_lines(stock: Stock, township: Any) -> None:
    response = township.post(
        reverse("supplies:donation_create"),
        _form_data(
            **{
                "lines-0-item": str(stock.masks.pk),
                "lines-0-quantity": "1",
                "lines-1-item": str(stock.masks.pk),
                "lines-1-quantity": "2",
            }
        ),
    )
    assert response.status_code == 422
    assert "same goods as line 1" in response.content.decode()


def test_api_create_bad_inputs(stock: Stock, township: Any) -> None:
    base = {
        "direction": "inbound",
        "region_code": FUDAO,
        "donated_on": "2022-01-21",
        "donor_name": "某企业",
        "donor_type": "enterprise",
        "recipient_name": "伏道镇政府",
        "recipient_type": "government",
        "lines": [{"item_id": stock.masks.pk, "quantity": 10}],
    }
    bad = [
        ({"donor_credit_code": "91110000600037341A"}, "donor_credit_code"),
        ({"lines": []}, "lines"),
        ({"lines": [{"item_id": stock.masks.pk, "quantity": -1}]}, "lines.0.quantity"),
        ({"lines": [{"item_id": stock.masks.pk, "quantity": 2.5}]}, "lines.0.quantity"),
        ({"lines": [{"item_id": stock.masks.pk, "quantity": True}]}, "lines.0.quantity"),
        ({"lines": [{"item_id": 10**20, "quantity": 1}]}, "lines"),
        ({"lines": [{"item_id": 99999, "quantity": 1}]}, "lines.0.item_id"),
        ({"donated_on": "not a date"}, "donated_on"),
        ({"direction": "sideways"}, "direction"),
    ]
    for change, field in bad:
        response = township.post(
            f"{API}/donations", {**base, **change}, content_type="application/json"
        )
        assert response.status_code == 422, (change, response.content)
        assert any(key.startswith(field) for key in _json(response)["fields"]), (
            change,
            response.content,
        )
    ok = township.post(
        f"{API}/donations",
        {**base, "donor_credit_code": "９１１１００００６０００３７３４１ｌ"},
        content_type="application/json",
    )
    assert ok.status_code == 201
    assert _json(ok)["donor_credit_code"] == "91110000600037341L"
    elsewhere = township.post(
        f"{API}/donations", {**base, "region_code": GAOZHUANG}, content_type="application/json"
    )
    assert elsewhere.status_code == 404


# ------------------------------------------------------------------- receive, acknowledge, print


def test_receive_twice_via_page_and_api(stock: Stock, donation: Donation, township: Any) -> None:
    url = reverse("supplies:donation_post_stock", args=[donation.pk])
    response = township.post(url, {"location": stock.depot.pk})
    assert response.status_code == 302
    assert Balance.objects.get(location=stock.depot, item=stock.disinfectant).quantity == 210
    again = township.post(url, {"location": stock.depot.pk})
    assert again.status_code == 422
    response = township.post(
        f"{API}/donations/{donation.pk}/receive",
        {"location_id": stock.depot.pk},
        content_type="application/json",
    )
    assert response.status_code == 409
    assert "already posted" in _json(response)["message"]
    assert StockDocument.objects.filter(donation=donation).count() == 1
    assert Balance.objects.get(location=stock.depot, item=stock.disinfectant).quantity == 210
    detail = _json(township.get(f"{API}/donations/{donation.pk}"))
    assert detail["stock_document"].startswith("RK")


def test_api_receive_wrong_direction_and_location(
    stock: Stock, donation: Donation, township: Any
) -> None:
    response = township.post(
        f"{API}/donations/{donation.pk}/issue",
        {"location_id": stock.depot.pk},
        content_type="application/json",
    )
    assert response.status_code == 422
    response = township.post(
        f"{API}/donations/{donation.pk}/receive",
        {"location_id": stock.testing_site.pk},  # another county's site
        content_type="application/json",
    )
    assert response.status_code == 404
    response = township.post(
        f"{API}/donations/{donation.pk}/receive",
        {"location_id": stock.depot.pk, "lots": {"x": "1"}},
        content_type="application/json",
    )
    assert response.status_code == 422


def test_acknowledge_via_api_twice(donation: Donation, township: Any) -> None:
    first = township.post(f"{API}/donations/{donation.pk}/acknowledge")
    assert first.status_code == 200 and _json(first)["acknowledged_at"]
    second = township.post(f"{API}/donations/{donation.pk}/acknowledge")
    assert second.status_code == 409


def test_seed_certificate(stock: Stock, make_user: Any, client_for: Any) -> None:
    unit = make_user("skl", role="unit_admin", region=ANYANG_CITY)
    donation = record(
        unit,
        region=ANYANG_CITY,
        direction="outbound",
        donor_name="安阳市社科联",
        donor_type="government",
        recipient_name="伏道镇政府及全体干部",
        recipient_type="government",
        lines=[
            Line(item=stock.masks, quantity="2000"),
            Line(item=stock.disinfectant, quantity="210"),
        ],
    )
    client = client_for(unit)
    body = client.get(reverse("supplies:donation_certificate", args=[donation.pk])).content.decode()
    assert "210 瓶 (7 箱)" in body
    assert "2000 个 (5 箱)" in body
    assert "安阳市社科联" in body and "伏道镇政府及全体干部" in body
    assert "2022-01-21" in body
    # No stock was posted for an outbound donation that did not come from a depot.
    assert not StockDocument.objects.filter(donation=donation).exists()


# ------------------------------------------------------------------- export


def test_export_neutralizes_formulas_masks_phone_and_logs(
    donation: Donation, township: Any
) -> None:
    response = township.get(reverse("supplies:donation_export"), {"format": "csv"})
    text = body_text(response)
    assert "'=HYPERLINK" in text
    assert ",=HYPERLINK" not in text
    assert PHONE not in text and "138****5678" in text
    assert "84消毒液 210 瓶 (7 箱)" in text
    entry = AccessLogEntry.objects.get(kind="export", object_type="supplies.donation")
    assert entry.row_count == 1 and entry.unmasked is False
    xlsx = township.get(f"{API}/donations/export", {"format": "xlsx"})
    assert xlsx.status_code == 200
    from python_calamine import CalamineWorkbook

    content = b"".join(xlsx.streaming_content)
    rows = CalamineWorkbook.from_filelike(io.BytesIO(content)).get_sheet_by_index(0).to_python()
    assert rows[1][3].startswith("'=HYPERLINK")
    assert AccessLogEntry.objects.filter(kind="export").count() == 2


def test_bad_filters(donation: Donation, township: Any) -> None:
    assert township.get(f"{API}/donations", {"direction": "x"}).status_code == 422
    assert township.get(f"{API}/donations", {"date_from": "bad"}).status_code == 422
    assert township.get(reverse("supplies:donation_list"), {"date_from": "bad"}).status_code == 200
    response = township.get(reverse("supplies:donation_export"), {"date_from": "bad"})
    assert response.status_code == 302
    ok = township.get(
        f"{API}/donations", {"date_from": "２０２２-01-01", "donor_type": "enterprise"}
    )
    assert _json(ok)["count"] == 1
    none = township.get(f"{API}/donations", {"direction": "outbound"})
    assert _json(none)["count"] == 0


# ------------------------------------------------------------------- query-count pins


def test_list_query_counts_do_not_grow(stock: Stock, township: Any) -> None:
    record(None, lines=[Line(item=stock.masks, quantity="1")])
    page_one = count_queries(township, reverse("supplies:donation_list"))
    api_one = count_queries(township, f"{API}/donations")
    for n in range(4):
        record(None, donor_name=f"企业{n}", lines=[Line(item=stock.masks, quantity="1")])
    assert count_queries(township, reverse("supplies:donation_list")) == page_one
    assert count_queries(township, f"{API}/donations") == api_one
