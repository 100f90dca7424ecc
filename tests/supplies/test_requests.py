"""Supply requests: submit, approve (less), reject, withdraw, fulfil (partly, fully, over),
reversal, audit; the pages and their access matrix."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from fangkong.core.models import AuditEntry
from fangkong.supplies.actions import requests as actions
from fangkong.supplies.actions.documents import reverse_document
from fangkong.supplies.keys import default_lot
from fangkong.supplies.ledger import InsufficientStock
from fangkong.supplies.models import RequestStatus, SupplyRequest, SupplyRequestLine
from tests.conftest import FUDAO, FUDAO_ERJIE, GAOZHUANG, JIANGTAITUN
from tests.supplies.requests_runs_fixtures import World, approved_request, on_hand
from tests.supplies.requests_runs_fixtures import world as world
from tests.support.access import AccessCase, assert_absent, check_access_matrix, count_queries


def _line(request: SupplyRequest, item: Any) -> SupplyRequestLine:
    return request.lines.get(item=item)


def _fulfil(w: World, request: SupplyRequest, quantities: dict[Any, int], **kw: Any) -> Any:
    return actions.fulfil_request(
        request,
        actor=kw.pop("actor", w.keeper),
        source=w.depot,
        lines=[
            actions.FulfilLine(request_line=_line(request, item), lot=default_lot(item), quantity=q)
            for item, q in quantities.items()
        ],
        **kw,
    )


# ---------------------------------------------------------------- actions


def test_submit_approve_less_and_fulfil_in_two_transfers(world: World) -> None:
    w = world
    s = w.stock
    made = actions.submit_request(
        actor=w.cadre,
        site=w.village_site,
        lines=[
            actions.RequestLineInput(item=s.suits, quantity=300),
            actions.RequestLineInput(item=s.flour, quantity=100),
        ],
        needed_by=timezone.localdate() + dt.timedelta(days=1),
    )
    assert made.status == RequestStatus.SUBMITTED
    assert made.destination == w.village
    assert made.number.startswith("XQ")
    approved = actions.approve_request(
        made, actor=w.officer, approved={_line(made, s.suits).pk: 200}, note="库存紧张"
    )
    assert approved.status == RequestStatus.APPROVED
    assert _line(made, s.suits).approved == 200
    assert _line(made, s.flour).approved == 100  # not listed: approved as requested

    _fulfil(w, made, {s.suits: 150})
    made.refresh_from_db()
    assert made.status == RequestStatus.PARTLY_FULFILLED
    assert on_hand(w.depot, s.suits) == 1350 and on_hand(w.village, s.suits) == 150

    # A second fulfil over what is left is refused with a clear message, nothing moves.
    with pytest.raises(ValidationError) as caught:
        _fulfil(w, made, {s.suits: 51})
    assert "50" in caught.value.messages[0] and "200" in caught.value.messages[0]
    assert on_hand(w.depot, s.suits) == 1350

    _fulfil(w, made, {s.suits: 50, s.flour: 100})
    made.refresh_from_db()
    assert made.status == RequestStatus.FULFILLED
    assert _line(made, s.suits).issued == 200 and _line(made, s.flour).issued == 100
    actions_logged = set(
        AuditEntry.objects.filter(
            object_id=str(made.pk), object_type="supplies.supplyrequest"
        ).values_list("action", flat=True)
    )
    assert {"supplies.submit_request", "supplies.approve_request"} <= actions_logged
    assert AuditEntry.objects.filter(action="supplies.post_transfer").count() == 2


def test_reversal_of_a_fulfilling_transfer_takes_the_credit_back(world: World) -> None:
    w = world
    request = approved_request(w)
    document = _fulfil(w, request, {w.stock.suits: 200, w.stock.masks: 400})
    request.refresh_from_db()
    assert request.status == RequestStatus.FULFILLED
    reverse_document(document, actor=w.keeper, note="送错村")
    request.refresh_from_db()
    assert request.status == RequestStatus.APPROVED
    assert _line(request, w.stock.suits).issued == 0
    assert on_hand(w.depot, w.stock.suits) == 1500 and on_hand(w.village, w.stock.suits) == 0


def test_approving_more_than_requested_or_nothing_is_refused(world: World) -> None:
    w = world
    made = actions.submit_request(
        actor=w.cadre,
        site=w.village_site,
        lines=[actions.RequestLineInput(item=w.stock.suits, quantity=100)],
    )
    line = _line(made, w.stock.suits)
    for bad in (101, -1, 10**13):
        with pytest.raises(ValidationError) as caught:
            actions.approve_request(made, actor=w.officer, approved={line.pk: bad})
        assert f"approved.{line.pk}" in caught.value.message_dict
    with pytest.raises(ValidationError):
        actions.approve_request(made, actor=w.officer, approved={line.pk: 0})
    with pytest.raises(ValidationError):
        actions.approve_request(made, actor=w.officer, approved={line.pk + 999: 5})
    made.refresh_from_db()
    assert made.status == RequestStatus.SUBMITTED
    assert _line(made, w.stock.suits).approved is None


def test_bad_submissions(world: World) -> None:
    w = world
    s = w.stock
    line = actions.RequestLineInput
    cases: list[tuple[list[Any], dict[str, Any]]] = [
        ([], {}),
        ([line(item=s.suits, quantity=0)], {}),
        ([line(item=s.suits, quantity=-5)], {}),
        ([line(item=s.suits, quantity=10**13)], {}),
        ([line(item=s.suits, quantity=5), line(item=s.suits, quantity=6)], {}),
        ([line(item=s.suits, quantity=5)], {"needed_by": timezone.localdate() - dt.timedelta(1)}),
        ([line(item=s.suits, quantity=5)], {"needed_by": dt.date(2099, 1, 1)}),
    ]
    for lines, extra in cases:
        with pytest.raises(ValidationError):
            actions.submit_request(actor=w.cadre, site=w.village_site, lines=lines, **extra)
    assert SupplyRequest.objects.count() == 0


def test_who_may_do_what(world: World, make_user: Any) -> None:
    w = world
    inspector = make_user(role="inspector", region=FUDAO)
    with pytest.raises(PermissionDenied):
        actions.submit_request(
            actor=inspector,
            site=w.village_site,
            lines=[actions.RequestLineInput(item=w.stock.suits, quantity=1)],
        )
    made = actions.submit_request(
        actor=w.cadre,
        site=w.village_site,
        lines=[actions.RequestLineInput(item=w.stock.suits, quantity=1)],
    )
    with pytest.raises(PermissionDenied):
        actions.approve_request(made, actor=w.cadre)  # a village does not approve itself
    with pytest.raises(PermissionDenied):
        actions.approve_request(made, actor=w.outsider)
    with pytest.raises(PermissionDenied):
        actions.cancel_request(made, actor=w.cadre2)


def test_withdraw_only_while_submitted_and_reject_needs_a_note(world: World) -> None:
    w = world
    made = actions.submit_request(
        actor=w.cadre,
        site=w.village_site,
        lines=[actions.RequestLineInput(item=w.stock.suits, quantity=5)],
    )
    with pytest.raises(ValidationError):
        actions.reject_request(made, actor=w.officer, note="  ")
    rejected = actions.reject_request(made, actor=w.officer, note="已由县里直接调拨")
    assert rejected.status == RequestStatus.REJECTED
    with pytest.raises(ValidationError):
        actions.cancel_request(made, actor=w.cadre)
    with pytest.raises(ValidationError):
        actions.approve_request(made, actor=w.officer)
    other = actions.submit_request(
        actor=w.cadre,
        site=w.village_site,
        lines=[actions.RequestLineInput(item=w.stock.suits, quantity=5)],
    )
    assert actions.cancel_request(other, actor=w.cadre).status == RequestStatus.CANCELLED
    with pytest.raises(ValidationError):
        _fulfil(w, other, {w.stock.suits: 5})


def test_fulfil_with_not_enough_stock_changes_nothing(world: World) -> None:
    w = world
    request = approved_request(w, suits=1500)
    actions.approve_request  # noqa: B018  (already approved in the helper)
    from fangkong.supplies.actions.documents import LineInput, post_stock_document

    post_stock_document(
        kind="issue",
        actor=None,
        source=w.depot,
        recipient_kind="other",
        recipient_name="高庄镇",
        lines=[LineInput(item=w.stock.suits, lot=default_lot(w.stock.suits), quantity=100)],
    )
    with pytest.raises(InsufficientStock):
        _fulfil(w, request, {w.stock.suits: 1500})
    assert _line(request, w.stock.suits).issued == 0


def test_fulfil_negative_or_wrong_request_line(world: World) -> None:
    w = world
    request = approved_request(w)
    with pytest.raises(ValidationError):
        _fulfil(w, request, {w.stock.suits: -5})
    other = approved_request(w)
    with pytest.raises(ValidationError):
        actions.fulfil_request(
            request,
            actor=w.keeper,
            source=w.depot,
            lines=[
                actions.FulfilLine(
                    request_line=_line(other, w.stock.suits),
                    lot=default_lot(w.stock.suits),
                    quantity=5,
                )
            ],
        )
    with pytest.raises(ValidationError):  # from the requesting place to itself
        actions.fulfil_request(
            request,
            actor=w.cadre,
            source=w.village,
            lines=[
                actions.FulfilLine(
                    request_line=_line(request, w.stock.suits),
                    lot=default_lot(w.stock.suits),
                    quantity=5,
                )
            ],
        )


# ---------------------------------------------------------------- pages


def test_request_pages_flow(world: World, client_for: Any) -> None:
    w = world
    s = w.stock
    cadre = client_for(w.cadre)
    response = cadre.get("/supplies/requests/new/")
    assert response.status_code == 200
    response = cadre.post(
        "/supplies/requests/new/",
        {
            "site": w.village_site.pk,
            "item_0": s.suits.pk,
            "quantity_0": "4 箱",  # 4 boxes of 50
            "item_1": s.masks.pk,
            "quantity_1": "４００",  # full-width digits
            "note": "夜间送达",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    made = SupplyRequest.objects.get()
    assert _line(made, s.suits).requested == 200 and _line(made, s.masks).requested == 400

    officer = client_for(w.officer)
    detail = officer.get(f"/supplies/requests/{made.pk}/")
    assert detail.status_code == 200 and "request-decide" in detail.content.decode()
    over = officer.post(
        f"/supplies/requests/{made.pk}/approve/",
        {f"approved_{_line(made, s.suits).pk}": "201", f"approved_{_line(made, s.masks).pk}": "0"},
    )
    assert over.status_code == 422
    assert "200" in over.content.decode()
    ok = officer.post(
        f"/supplies/requests/{made.pk}/approve/",
        {
            f"approved_{_line(made, s.suits).pk}": "3箱",
            f"approved_{_line(made, s.masks).pk}": "400",
        },
    )
    assert ok.status_code == 302
    assert _line(made, s.suits).approved == 150

    keeper = client_for(w.keeper)
    page = keeper.get(f"/supplies/requests/{made.pk}/fulfil/")
    assert page.status_code == 200
    body = page.content.decode()
    assert 'value="150"' in body and 'value="400"' in body  # remaining pre-filled
    key = "fulfil-once"
    data = {
        "source": w.depot.pk,
        f"quantity_{_line(made, s.suits).pk}": "150",
        f"lot_{_line(made, s.suits).pk}": "",
        f"quantity_{_line(made, s.masks).pk}": "100",
        f"lot_{_line(made, s.masks).pk}": "",
        "idempotency_key": key,
    }
    assert keeper.post(f"/supplies/requests/{made.pk}/fulfil/", data).status_code == 302
    # The same form submitted twice posts once.
    keeper.post(f"/supplies/requests/{made.pk}/fulfil/", data)
    assert on_hand(w.village, s.suits) == 150 and on_hand(w.village, s.masks) == 100
    made.refresh_from_db()
    assert made.status == RequestStatus.PARTLY_FULFILLED

    # Over what is left, via the page: a field error, nothing moves.
    data.update({f"quantity_{_line(made, s.masks).pk}": "301", "idempotency_key": "another"})
    data.pop(f"quantity_{_line(made, s.suits).pk}")
    over = keeper.post(f"/supplies/requests/{made.pk}/fulfil/", data)
    assert over.status_code == 422 and "300" in over.content.decode()
    assert on_hand(w.village, s.masks) == 100

    mine = cadre.get(f"/supplies/requests/{made.pk}/")
    assert mine.status_code == 200
    text = mine.content.decode()
    assert "150 套 (3 箱)" in text and "100 个" in text


def test_request_form_bad_inputs(world: World, client_for: Any) -> None:
    w = world
    cadre = client_for(w.cadre)
    for quantity in ("-5", "2.5", "abc", "0", "10000000000000", "3 桶", "=1+1"):
        response = cadre.post(
            "/supplies/requests/new/",
            {"site": w.village_site.pk, "item_0": w.stock.suits.pk, "quantity_0": quantity},
        )
        assert response.status_code == 200, quantity
        assert "invalid-feedback" in response.content.decode(), quantity
    duplicate = cadre.post(
        "/supplies/requests/new/",
        {
            "site": w.village_site.pk,
            "item_0": w.stock.suits.pk,
            "quantity_0": "5",
            "item_1": w.stock.suits.pk,
            "quantity_1": "6",
        },
    )
    assert duplicate.status_code == 200 and "invalid-feedback" in duplicate.content.decode()
    empty = cadre.post("/supplies/requests/new/", {"site": w.village_site.pk})
    assert empty.status_code == 200
    bogus_site = cadre.post(
        "/supplies/requests/new/",
        {"site": w.village2_site.pk, "item_0": w.stock.suits.pk, "quantity_0": "5"},
    )
    assert bogus_site.status_code == 200  # not a choice for this cadre
    assert SupplyRequest.objects.count() == 0


def test_request_page_access_matrix(world: World, make_user: Any, client_for: Any) -> None:
    w = world
    request = approved_request(w)
    pending = actions.submit_request(
        actor=w.cadre,
        site=w.village_site,
        lines=[actions.RequestLineInput(item=w.stock.flour, quantity=5)],
    )
    cases = [
        AccessCase(
            f"/supplies/requests/{request.pk}/", "village_cadre", FUDAO_ERJIE, JIANGTAITUN, None
        ),
        AccessCase(
            f"/supplies/requests/{request.pk}/fulfil/",
            "warehouse_keeper",
            FUDAO,
            GAOZHUANG,
            "inspector",
        ),
        AccessCase(
            f"/supplies/requests/{pending.pk}/approve/",
            "township_officer",
            FUDAO,
            GAOZHUANG,
            "village_cadre",
            method="post",
            data={"note": "", f"approved_{pending.lines.get().pk}": "5"},
            allowed_status=(302,),
        ),
        AccessCase(
            f"/supplies/requests/{pending.pk}/cancel/",
            "village_cadre",
            FUDAO_ERJIE,
            JIANGTAITUN,
            "inspector",
            method="post",
            allowed_status=(302,),
        ),
    ]
    for case in cases:
        check_access_matrix(case, make_user, client_for)
    pending.refresh_from_db()
    assert pending.status == RequestStatus.APPROVED  # the allowed approve ran, cancel then refused
    # Lists: out of scope is absent.
    assert_absent(client_for(w.outsider), "/supplies/requests/", request.number)
    nobody = make_user("nobody")
    assert client_for(nobody).get("/supplies/requests/").status_code == 403
    assert (
        client_for(make_user(role="inspector", region=FUDAO))
        .get("/supplies/requests/new/")
        .status_code
        == 403
    )


def test_request_list_query_count_is_fixed(world: World, client_for: Any) -> None:
    w = world
    client = client_for(w.officer)
    approved_request(w)
    few = count_queries(client, "/supplies/requests/")
    for _ in range(12):
        approved_request(w)
    assert count_queries(client, "/supplies/requests/") == few
    assert count_queries(client, "/supplies/requests/", status="approved", q="XQ") == few
    bad = client.get("/supplies/requests/", {"date_from": "not a date", "page": "x"})
    assert bad.status_code == 200


def test_two_fulfils_prepared_at_once_cannot_both_issue_everything(world: World) -> None:
    """Two depot users open the fulfil page at once (both see 200 left) and both post."""
    w = world
    request = approved_request(w)
    stale_line = _line(request, w.stock.suits)  # read before either posts
    pending = [
        actions.FulfilLine(request_line=stale_line, lot=default_lot(w.stock.suits), quantity=200)
    ]
    actions.fulfil_request(request, actor=w.keeper, source=w.depot, lines=pending)
    with pytest.raises(ValidationError) as caught:
        actions.fulfil_request(request, actor=w.officer, source=w.depot, lines=pending)
    assert caught.value.code == "over_approved" or "0" in caught.value.messages[0]
    assert _line(request, w.stock.suits).issued == 200
    assert on_hand(w.village, w.stock.suits) == 200
