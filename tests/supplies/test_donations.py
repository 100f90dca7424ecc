"""The donations register: validation, the seed's outbound case, receiving into stock once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import translation

from fangkong.core.models import AuditEntry
from fangkong.supplies.actions import donations as actions
from fangkong.supplies.actions.donations import DonationLineInput as Line
from fangkong.supplies.models import (
    Balance,
    Donation,
    DonationStatus,
    ReceiptSource,
    StockDocument,
)
from tests.conftest import FUDAO, GAOZHUANG
from tests.supplies.conftest import Stock
from tests.supplies.test_counts import receive


@pytest.fixture(autouse=True)
def _english(settings: Any) -> Iterator[None]:
    """These tests read messages in English (the catalogue test checks the Chinese)."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


VALID_USCC = "91110000600037341L"
ANYANG_CITY = "4105"
SEED_DAY = dt.date(2022, 1, 21)


def record(actor: Any, region: str = FUDAO, **overrides: Any) -> Donation:
    values: dict[str, Any] = {
        "direction": "inbound",
        "donated_on": SEED_DAY,
        "donor_name": "河南某医疗器械有限公司",
        "donor_type": "enterprise",
        "recipient_name": "伏道镇人民政府",
        "recipient_type": "government",
        "lines": [],
    }
    values.update(overrides)
    return actions.record_donation(actor=actor, region_code=region, **values)


@pytest.fixture
def keeper(make_user: Any) -> Any:
    return make_user("keeper", role="warehouse_keeper", region=FUDAO)


# ------------------------------------------------------------------- credit codes


@pytest.mark.parametrize(
    "typed",
    [
        VALID_USCC,
        "９１１１００００６０００３７３４１Ｌ",
        "91110000600037341l",
        " 9111 0000 6000 3734 1L ",
    ],
)
def test_credit_code_is_normalised(typed: str) -> None:
    assert actions.clean_credit_code(typed) == VALID_USCC


def test_credit_code_with_bad_check_character_is_refused() -> None:
    with pytest.raises(ValidationError) as exc:
        actions.clean_credit_code("91110000600037341A")
    assert "check character" in exc.value.message_dict["donor_credit_code"][0]


@pytest.mark.parametrize("typed", ["123", "9111000060003734", "ABCDEFGHIJKLMNOPQR", "=1+1"])
def test_malformed_credit_codes_are_refused(typed: str) -> None:
    with pytest.raises(ValidationError) as exc:
        actions.clean_credit_code(typed)
    assert "donor_credit_code" in exc.value.message_dict


def test_empty_credit_code_is_fine() -> None:
    assert actions.clean_credit_code("  ") == ""


# ------------------------------------------------------------------- recording


def test_seed_outbound_donation_is_representable(
    stock: Stock, regions: Any, make_user: Any
) -> None:
    """21 Jan 2022: 安阳市社科联 gave 伏道镇政府 and its cadres 2000 N95 masks and 210
    bottles of 84 disinfectant (7 boxes of 30)."""
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
            Line(item=stock.disinfectant, pack_count="7"),
        ],
    )
    lines = list(donation.lines.order_by("id"))
    assert [(ln.item_id, ln.quantity, ln.unit) for ln in lines] == [
        (stock.masks.pk, 2000, "个"),
        (stock.disinfectant.pk, 210, "瓶"),
    ]
    assert lines[1].pack == stock.disinfectant_box and lines[1].pack_count == 7
    assert donation.number.startswith("JZ")
    assert AuditEntry.objects.filter(action="supplies.record_donation").count() == 1


def test_free_description_lines(stock: Stock, keeper: Any) -> None:
    donation = record(keeper, lines=[Line(description="方便面", quantity="50", unit="箱")])
    line = donation.lines.get()
    assert (line.item_id, line.description, line.quantity, line.unit) == (None, "方便面", 50, "箱")


@pytest.mark.parametrize(
    ("line", "field"),
    [
        (Line(item=None, description="", quantity="5"), "lines.0.item"),
        (Line(description="方便面", quantity="5"), "lines.0.unit"),
        (Line(description="方便面", unit="箱"), "lines.0.quantity"),
        (Line(quantity="-5"), "lines.0.quantity"),
    ],
)
def test_bad_lines(stock: Stock, keeper: Any, line: Line, field: str) -> None:
    with pytest.raises(ValidationError) as exc:
        record(keeper, lines=[line])
    assert field in exc.value.message_dict


@pytest.mark.parametrize("quantity", ["-1", "2.5", "0", "10000000000001", "abc", True])
def test_bad_quantities(stock: Stock, keeper: Any, quantity: Any) -> None:
    with pytest.raises(ValidationError) as exc:
        record(keeper, lines=[Line(item=stock.masks, quantity=quantity)])
    assert "lines.0.quantity" in exc.value.message_dict
    assert not Donation.objects.exists()


def test_empty_and_duplicate_lines(stock: Stock, keeper: Any) -> None:
    with pytest.raises(ValidationError) as exc:
        record(keeper, lines=[])
    assert "lines" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        record(
            keeper,
            lines=[Line(item=stock.masks, quantity="1"), Line(item=stock.masks, quantity="2")],
        )
    assert "same goods as line 1" in exc.value.message_dict["lines.1.item"][0]


def test_other_bad_fields_are_all_reported(stock: Stock, keeper: Any) -> None:
    with pytest.raises(ValidationError) as exc:
        record(
            keeper,
            direction="sideways",
            donor_type="alien",
            donor_name=" ",
            donor_phone="12345",
            donor_credit_code="91110000600037341A",
            donated_on=dt.date.today() + dt.timedelta(days=3),
            lines=[Line(item=stock.masks, quantity="1")],
        )
    assert {
        "direction",
        "donor_type",
        "donor_name",
        "donor_phone",
        "donor_credit_code",
        "donated_on",
    } <= set(exc.value.message_dict)


def test_recording_needs_the_permission_over_the_region(stock: Stock, make_user: Any) -> None:
    elsewhere = make_user(role="warehouse_keeper", region=GAOZHUANG)
    cadre = make_user(role="village_cadre", region=FUDAO)
    for user in (elsewhere, cadre):
        with pytest.raises(PermissionDenied):
            record(user, lines=[Line(item=stock.masks, quantity="1")])


# ------------------------------------------------------------------- stock


def test_receive_into_stock_exactly_once(stock: Stock, keeper: Any) -> None:
    donation = record(
        keeper,
        lines=[
            Line(item=stock.suits, pack_count="30"),
            Line(description="感谢信", quantity="1", unit="封"),
        ],
    )
    document = actions.post_donation_stock(actor=keeper, donation=donation, location=stock.depot)
    assert document.kind == "receipt"
    assert document.receipt_source == ReceiptSource.DONATION
    assert document.donation_id == donation.pk
    assert document.supplier == donation.donor_name
    assert Balance.objects.get(location=stock.depot, item=stock.suits).quantity == 1500
    with pytest.raises(ValidationError, match="already posted to stock"):
        actions.post_donation_stock(actor=keeper, donation=donation, location=stock.depot)
    assert StockDocument.objects.filter(donation=donation).count() == 1
    assert Balance.objects.get(location=stock.depot, item=stock.suits).quantity == 1500


def test_receiving_tracked_items_needs_lots(stock: Stock, keeper: Any) -> None:
    donation = record(keeper, lines=[Line(item=stock.tubes, quantity="600")])
    line = donation.lines.get()
    with pytest.raises(ValidationError) as exc:
        actions.post_donation_stock(actor=keeper, donation=donation, location=stock.depot)
    assert f"lots.{line.pk}" in exc.value.message_dict
    actions.post_donation_stock(
        actor=keeper, donation=donation, location=stock.depot, lot_codes={line.pk: "cy2201"}
    )
    assert Balance.objects.get(location=stock.depot, item=stock.tubes).lot.code == "CY2201"


def test_description_only_donation_has_nothing_to_post(stock: Stock, keeper: Any) -> None:
    donation = record(keeper, lines=[Line(description="方便面", quantity="50", unit="箱")])
    with pytest.raises(ValidationError, match="nothing to post"):
        actions.post_donation_stock(actor=keeper, donation=donation, location=stock.depot)


def test_outbound_from_a_depot_issues_once(stock: Stock, keeper: Any) -> None:
    receive(stock, stock.masks, 5000)
    donation = record(
        keeper,
        direction="outbound",
        donor_name="伏道镇防疫物资库",
        donor_type="government",
        recipient_name="伏道二街村",
        lines=[Line(item=stock.masks, quantity="2000")],
    )
    document = actions.post_donation_stock(actor=keeper, donation=donation, location=stock.depot)
    assert document.kind == "issue" and document.recipient_name == "伏道二街村"
    assert Balance.objects.get(location=stock.depot, item=stock.masks).quantity == 3000
    with pytest.raises(ValidationError):
        actions.post_donation_stock(actor=keeper, donation=donation, location=stock.depot)


def test_posting_needs_post_stock_at_the_depot(stock: Stock, make_user: Any) -> None:
    unit = make_user(role="unit_admin", region=FUDAO)
    donation = record(unit, lines=[Line(item=stock.masks, quantity="1")])
    with pytest.raises(PermissionDenied):
        actions.post_donation_stock(actor=unit, donation=donation, location=stock.depot)


# ------------------------------------------------------------------- acknowledgement


def test_acknowledge_once_and_audited(stock: Stock, keeper: Any) -> None:
    donation = record(keeper, lines=[Line(item=stock.masks, quantity="1")])
    actions.acknowledge_donation(actor=keeper, donation=donation)
    donation.refresh_from_db()
    assert donation.acknowledged_at is not None
    assert donation.status == DonationStatus.ACKNOWLEDGED
    assert AuditEntry.objects.filter(action="supplies.acknowledge_donation").count() == 1
    with pytest.raises(ValidationError, match="already issued"):
        actions.acknowledge_donation(actor=keeper, donation=donation)
