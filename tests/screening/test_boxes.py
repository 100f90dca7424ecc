"""Transport boxes and lab handovers: the actions, the packing page, handover pages."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from fangkong.accounts.roles import Role
from fangkong.core.models import AccessLogEntry, AuditEntry
from fangkong.geo.models import Site
from fangkong.screening.actions import boxes as actions
from fangkong.screening.actions.rounds import ZoneInput, create_round, start_sampling
from fangkong.screening.models import Box, BoxStatus, Handover, Round, RoundStatus, Tube
from tests.conftest import DONGZHENGSI, GAOZHUANG, JIANGTAITUN
from tests.screening.conftest import Gaozhuang
from tests.screening.station_support import packed_box, sampled_tube
from tests.support.access import AccessCase, body_text, check_access_matrix, count_queries

pytestmark = pytest.mark.django_db

XHR = {"X-Station": "1"}


def codes_of(exc: ValidationError) -> dict[str, list[str]]:
    return {key: [e.code or "" for e in errors] for key, errors in exc.error_dict.items()}


@pytest.fixture
def tubes(gz: Gaozhuang) -> list[Tube]:
    """Three closed tubes at 蒋台屯's site."""
    people = gz.jiangtaitun
    return [
        sampled_tube(gz.round, gz.site, "GZT001", people[0:3]),
        sampled_tube(gz.round, gz.site, "GZT002", people[3:6]),
        sampled_tube(gz.round, gz.site, "GZT003", people[6:8]),
    ]


@pytest.fixture
def sampler(make_user: Any) -> Any:
    return make_user("sampler", role=Role.SAMPLER, region=JIANGTAITUN)


# ----------------------------------------------------------------------------- actions


def test_create_box_cleans_the_code_and_audits(gz: Gaozhuang, sampler: Any) -> None:
    box = actions.create_box(actor=sampler, round_=gz.round, site=gz.site, barcode="]C1ｂｏｘ-01\r")
    assert box.barcode == "BOX-01"
    assert box.region_code == JIANGTAITUN and box.status == BoxStatus.PACKING
    entry = AuditEntry.objects.get(action="screening.create_box")
    assert entry.actor == sampler and entry.after["barcode"] == "BOX-01"


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("", "required"),
        ("   \t", "required"),
        ("B" * 33, "max_length"),
        ("箱子一号", "invalid"),
        ("BOX#1", "invalid"),
        (12, "invalid"),
    ],
)
def test_create_box_bad_codes(gz: Gaozhuang, code: Any, error: str) -> None:
    with pytest.raises(ValidationError) as caught:
        actions.create_box(actor=None, round_=gz.round, site=gz.site, barcode=code)
    assert codes_of(caught.value) == {"barcode": [error]}
    assert not Box.objects.exists()


def test_box_codes_are_unique_within_a_round(gz: Gaozhuang) -> None:
    actions.create_box(actor=None, round_=gz.round, site=gz.site, barcode="BOX-01")
    for again, site in (("box-01", gz.site), ("ＢＯＸ－01", gz.other_site)):
        with pytest.raises(ValidationError) as caught:
            actions.create_box(actor=None, round_=gz.round, site=site, barcode=again)
        assert codes_of(caught.value) == {"barcode": ["duplicate"]}
    # Another round may use the same code.
    other = create_round(
        actor=None,
        name="第10轮",
        starts_at=timezone.now(),
        ends_at=timezone.now() + dt.timedelta(hours=4),
        zones=[ZoneInput(GAOZHUANG, 10)],
    )
    other = start_sampling(actor=None, round_=other)
    assert actions.create_box(actor=None, round_=other, site=gz.site, barcode="BOX-01")


def test_create_box_needs_sample_over_the_site(gz: Gaozhuang, make_user: Any, sampler: Any) -> None:
    for user in (
        make_user(role=Role.SAMPLER, region=DONGZHENGSI),
        make_user(role=Role.INSPECTOR, region=JIANGTAITUN),
    ):
        with pytest.raises(PermissionDenied):
            actions.create_box(actor=user, round_=gz.round, site=gz.site, barcode="BOX-02")
    assert actions.create_box(actor=sampler, round_=gz.round, site=gz.site, barcode="BOX-02")


def test_create_box_refuses_a_closed_round_and_a_site_elsewhere(gz: Gaozhuang) -> None:
    elsewhere = Site.objects.create(
        name="伏道采样点", kind="testing_site", region_code="410523106201"
    )
    with pytest.raises(ValidationError) as caught:
        actions.create_box(actor=None, round_=gz.round, site=elsewhere, barcode="BOX-03")
    assert "site" in caught.value.error_dict
    warehouse = Site.objects.create(name="仓库", kind="warehouse", region_code=JIANGTAITUN)
    with pytest.raises(ValidationError):
        actions.create_box(actor=None, round_=gz.round, site=warehouse, barcode="BOX-03")
    Round.objects.filter(pk=gz.round.pk).update(status=RoundStatus.CLOSED)
    gz.round.refresh_from_db()
    with pytest.raises(ValidationError) as caught:
        actions.create_box(actor=None, round_=gz.round, site=gz.site, barcode="BOX-03")
    assert "round" in caught.value.error_dict


def test_add_and_remove_tubes(gz: Gaozhuang, tubes: list[Tube], sampler: Any) -> None:
    box = actions.create_box(actor=sampler, round_=gz.round, site=gz.site, barcode="BOX-04")
    tube = actions.add_tube(actor=sampler, box=box, tube_barcode="]C1gzt001\r")
    assert tube.status == "boxed"
    actions.add_tube(actor=sampler, box=box, tube_barcode="GZT002")
    box.refresh_from_db()
    assert box.tube_count == 2
    assert set(Tube.objects.filter(box=box).values_list("barcode", flat=True)) == {
        "GZT001",
        "GZT002",
    }
    actions.remove_tube(actor=sampler, box=box, tube_barcode="GZT001", reason="装错箱")
    box.refresh_from_db()
    assert box.tube_count == 1
    tube = Tube.objects.get(barcode="GZT001")
    assert tube.status == "closed" and tube.box is None
    entry = AuditEntry.objects.get(action="screening.unbox_tube")
    assert entry.after["reason"] == "装错箱"
    assert AuditEntry.objects.filter(action="screening.box_tube").count() == 2
    with pytest.raises(ValidationError) as caught:
        actions.remove_tube(actor=sampler, box=box, tube_barcode="GZT001")
    assert codes_of(caught.value) == {"tube": ["not_in_box"]}
    with pytest.raises(ValidationError):
        actions.remove_tube(actor=sampler, box=box, tube_barcode="GZT002", reason="\x00")


def test_add_tube_refusals(gz: Gaozhuang, tubes: list[Tube], sampler: Any) -> None:
    box = actions.create_box(actor=None, round_=gz.round, site=gz.site, barcode="BOX-05")
    other_box = actions.create_box(actor=None, round_=gz.round, site=gz.site, barcode="BOX-06")
    actions.add_tube(actor=None, box=other_box, tube_barcode="GZT003")
    actions.add_tube(actor=None, box=box, tube_barcode="GZT001")
    open_tube = sampled_tube(gz.round, gz.site, "GZT004", gz.jiangtaitun[8:9], close=False)
    village_tube = sampled_tube(gz.round, gz.other_site, "GZT005", gz.dongzhengsi[:1])
    cases = [
        (open_tube.barcode, "tube_open"),
        ("GZT001", "in_box"),
        ("GZT003", "other_box"),
        ("NOSUCH", "unknown"),
        (village_tube.barcode, "unknown"),  # another village's tube: not found for them
        ("", "invalid"),
        ("GZ T00 1!", "invalid"),
        ("T" * 40, "invalid"),
    ]
    for code, expected in cases:
        with pytest.raises(ValidationError) as caught:
            actions.add_tube(actor=sampler, box=box, tube_barcode=code)
        assert codes_of(caught.value) == {"tube": [expected]}, code
    box.refresh_from_db()
    assert box.tube_count == 1


def test_add_tube_from_another_round(gz: Gaozhuang, tubes: list[Tube]) -> None:
    other = create_round(
        actor=None,
        name="第10轮",
        starts_at=timezone.now(),
        ends_at=timezone.now() + dt.timedelta(hours=4),
        zones=[ZoneInput(GAOZHUANG, 10)],
    )
    other = start_sampling(actor=None, round_=other)
    box = actions.create_box(actor=None, round_=other, site=gz.site, barcode="BOX-07")
    with pytest.raises(ValidationError) as caught:
        actions.add_tube(actor=None, box=box, tube_barcode="GZT001")
    assert codes_of(caught.value) == {"tube": ["other_round"]}
    assert "第9轮全员核酸" in caught.value.messages[0]


def test_hand_over(gz: Gaozhuang, tubes: list[Tube], sampler: Any) -> None:
    first = packed_box(gz.round, gz.site, "BOX-08", tubes[:2])
    second = packed_box(gz.round, gz.site, "BOX-09", tubes[2:])
    handed_at = timezone.now() - dt.timedelta(minutes=5)
    handover = actions.hand_over(
        actor=sampler,
        boxes=[first, second],
        lab_name=" 安阳县人民医院 检验科 ",
        courier_name="李师傅",
        courier_phone="１３８-0013-8000",
        handed_at=handed_at,
    )
    assert handover.lab_name == "安阳县人民医院 检验科"
    assert handover.courier_phone == "13800138000"
    assert (handover.box_count, handover.tube_count) == (2, 3)
    assert handover.handed_at == handed_at and handover.region_code == JIANGTAITUN
    assert set(Box.objects.values_list("status", flat=True)) == {BoxStatus.HANDED_OVER}
    assert set(Tube.objects.values_list("status", flat=True)) == {"transit"}
    entry = AuditEntry.objects.get(action="screening.hand_over")
    assert entry.after["boxes"] == ["BOX-08", "BOX-09"] and entry.actor == sampler
    # Handed over: nothing changes any more.
    for call in (
        lambda: actions.add_tube(actor=None, box=first, tube_barcode="GZT003"),
        lambda: actions.remove_tube(actor=None, box=first, tube_barcode="GZT001"),
        lambda: actions.hand_over(
            actor=None, boxes=[first], lab_name="x", courier_name="y", courier_phone="13800138000"
        ),
    ):
        with pytest.raises(ValidationError):
            call()


def _hand(boxes: list[Box], **values: Any) -> Handover:
    data = {
        "lab_name": "县医院",
        "courier_name": "李师傅",
        "courier_phone": "13800138000",
        **values,
    }
    return actions.hand_over(actor=None, boxes=boxes, **data)


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"lab_name": ""}, "lab_name"),
        ({"lab_name": "医院" * 60}, "lab_name"),
        ({"courier_name": "  "}, "courier_name"),
        ({"courier_name": "李\x07"}, "courier_name"),
        ({"courier_phone": ""}, "courier_phone"),
        ({"courier_phone": "12345"}, "courier_phone"),
        ({"courier_phone": 13800138000}, "courier_phone"),
        ({"handed_at": timezone.now() + dt.timedelta(days=1)}, "handed_at"),
        ({"handed_at": timezone.now() - dt.timedelta(days=30)}, "handed_at"),
        ({"handed_at": "2022-01-20 09:00"}, "handed_at"),
    ],
)
def test_hand_over_bad_input(
    gz: Gaozhuang, tubes: list[Tube], values: dict[str, Any], field: str
) -> None:
    box = packed_box(gz.round, gz.site, "BOX-10", tubes[:1])
    with pytest.raises(ValidationError) as caught:
        _hand([box], **values)
    assert field in caught.value.error_dict
    assert not Handover.objects.exists()
    assert Tube.objects.get(barcode="GZT001").status == "boxed"


def test_hand_over_refuses_empty_boxes_mixed_sites_and_nothing(
    gz: Gaozhuang, tubes: list[Tube]
) -> None:
    full = packed_box(gz.round, gz.site, "BOX-11", tubes[:1])
    empty = actions.create_box(actor=None, round_=gz.round, site=gz.site, barcode="BOX-12")
    with pytest.raises(ValidationError) as caught:
        _hand([full, empty])
    assert codes_of(caught.value) == {"boxes": ["empty"]}
    elsewhere = actions.create_box(
        actor=None, round_=gz.round, site=gz.other_site, barcode="BOX-13"
    )
    with pytest.raises(ValidationError):
        _hand([full, elsewhere])
    with pytest.raises(ValidationError) as caught:
        _hand([])
    assert codes_of(caught.value) == {"boxes": ["required"]}
    assert not Handover.objects.exists()


def test_hand_over_needs_sample_over_every_box(
    gz: Gaozhuang, tubes: list[Tube], make_user: Any
) -> None:
    box = packed_box(gz.round, gz.site, "BOX-14", tubes[:1])
    for user in (
        make_user(role=Role.SAMPLER, region=DONGZHENGSI),
        make_user(role=Role.INSPECTOR, region=GAOZHUANG),
    ):
        with pytest.raises(PermissionDenied):
            actions.hand_over(
                actor=user, boxes=[box], lab_name="x", courier_name="y", courier_phone="13800138000"
            )


# ----------------------------------------------------------------------------- packing page


def box_result(response: Any) -> tuple[str, str, str]:
    html = body_text(response)
    match = re.search(r'data-testid="station-result" data-level="(\w+)" data-code="(\w+)"', html)
    state = re.search(r'id="station-state" hidden data-set-box="([^"]*)"', html)
    assert match and state, html[:2000]
    return match.group(1), match.group(2), state.group(1)


def test_box_station_access_matrix(gz: Gaozhuang, make_user: Any, client_for: Any) -> None:
    check_access_matrix(
        AccessCase(
            url=f"/screening/boxes/?round={gz.round.pk}&site={gz.site.pk}",
            role=Role.SAMPLER,
            region=JIANGTAITUN,
            other_region=DONGZHENGSI,
            wrong_role=Role.INSPECTOR,
        ),
        make_user,
        client_for,
        wrong_role_statuses=(403,),
    )
    for url in ("/screening/boxes/scan/", "/screening/boxes/remove/"):
        check_access_matrix(
            AccessCase(
                url=url,
                role=Role.VILLAGE_CADRE,
                region=JIANGTAITUN,
                other_region=DONGZHENGSI,
                wrong_role=Role.INSPECTOR,
                method="post",
                data={"round": gz.round.pk, "site": gz.site.pk, "code": "BOX-20"},
            ),
            make_user,
            client_for,
            wrong_role_statuses=(403,),
        )


def test_pack_boxes_on_the_page(
    gz: Gaozhuang, tubes: list[Tube], sampler: Any, client_for: Any
) -> None:
    client = client_for(sampler)
    assert gz.site.name in body_text(client.get("/screening/boxes/"))
    base = {"round": gz.round.pk, "site": gz.site.pk}

    def post(url: str = "/screening/boxes/scan/", **data: Any) -> Any:
        return client.post(url, {**base, **data}, headers=XHR)

    assert box_result(post(box="", code="]C1box-21")) == ("ok", "box_opened", "BOX-21")
    response = post(box="BOX-21", code="gzt001")
    assert box_result(response) == ("ok", "tube_boxed", "BOX-21")
    assert 'data-testid="box-tube"' in body_text(response)
    assert box_result(post(box="BOX-21", code="GZT001"))[:2] == ("error", "invalid")
    assert box_result(post(box="BOX-21", code="NOSUCH"))[0] == "error"
    assert box_result(post(box="BOX-21", code=""))[:2] == ("error", "empty")
    assert box_result(post(box="BOX-21", code="9" * 300))[:2] == ("error", "too_long")
    # Scanning a box code while packing switches boxes; "done" sets the box aside.
    assert box_result(post(box="", code="BOX-22"))[2] == "BOX-22"
    assert box_result(post(box="BOX-22", code="BOX-21")) == ("ok", "box_continued", "BOX-21")
    assert box_result(post(box="BOX-21", finish="1")) == ("info", "box_finished", "")
    assert box_result(post(box="", code="box-21")) == ("ok", "box_continued", "BOX-21")
    response = post("/screening/boxes/remove/", box="BOX-21", item="GZT001", reason="Wrong box")
    assert box_result(response) == ("info", "tube_unboxed", "BOX-21")
    response = post("/screening/boxes/remove/", box="BOX-21", item="GZT001", reason="x")
    assert box_result(response)[0] == "error"
    response = post("/screening/boxes/remove/", box="NOPE", item="GZT001")
    assert box_result(response)[:2] == ("error", "unknown_box")
    assert box_result(post(box="", code="箱"))[0] == "error"


def test_box_code_used_at_another_site(gz: Gaozhuang, sampler: Any, client_for: Any) -> None:
    actions.create_box(actor=None, round_=gz.round, site=gz.other_site, barcode="BOX-23")
    response = client_for(sampler).post(
        "/screening/boxes/scan/",
        {"round": gz.round.pk, "site": gz.site.pk, "box": "", "code": "BOX-23"},
        headers=XHR,
    )
    level, code, box = box_result(response)
    assert (level, code, box) == ("error", "duplicate", "")


# ----------------------------------------------------------------------------- handover pages


def test_handover_form(gz: Gaozhuang, tubes: list[Tube], sampler: Any, client_for: Any) -> None:
    box = packed_box(gz.round, gz.site, "BOX-30", tubes)
    empty = actions.create_box(actor=None, round_=gz.round, site=gz.site, barcode="BOX-31")
    client = client_for(sampler)
    url = f"/screening/handovers/new/?round={gz.round.pk}&site={gz.site.pk}"
    html = body_text(client.get(url))
    assert "BOX-30" in html and "BOX-31" in html
    base = {
        "round": gz.round.pk,
        "site": gz.site.pk,
        "lab_name": "县医院检验科",
        "courier_name": "李师傅",
        "courier_phone": "13800138000",
        "handed_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
    }
    bad = [
        ({"boxes": []}, "Choose at least one box"),
        ({"boxes": [empty.pk]}, "BOX-31"),
        ({"boxes": [box.pk], "courier_phone": "123"}, "courier_phone"),
        ({"boxes": [box.pk], "handed_at": "２０２２-13-45T99:99"}, "handed_at"),
        ({"boxes": [box.pk], "handed_at": "2099-01-01T08:00"}, "handed_at"),
        ({"boxes": [box.pk], "lab_name": "医" * 101}, "lab_name"),
        ({"boxes": ["abc"]}, "boxes"),
    ]
    for values, marker in bad:
        response = client.post(
            "/screening/handovers/new/", {**base, **values}, HTTP_ACCEPT_LANGUAGE="en"
        )
        assert response.status_code == 422, values
        assert marker in body_text(response) or "is-invalid" in body_text(response)
    assert not Handover.objects.exists()
    response = client.post("/screening/handovers/new/", {**base, "boxes": [box.pk]})
    handover = Handover.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/screening/handovers/{handover.pk}/"
    assert handover.tube_count == 3 and handover.box_count == 1
    assert "BOX-30" not in body_text(client.get(url))  # handed over: no longer offered


@pytest.fixture
def handover(gz: Gaozhuang, tubes: list[Tube]) -> Handover:
    box = packed_box(gz.round, gz.site, "BOX-40", tubes)
    return _hand([box], lab_name="安阳县人民医院")


def test_handover_pages_access_matrix(handover: Handover, make_user: Any, client_for: Any) -> None:
    for suffix in ("", "print/"):
        results = check_access_matrix(
            AccessCase(
                url=f"/screening/handovers/{handover.pk}/{suffix}",
                role=Role.INSPECTOR,  # read-only roles read handovers
                region=JIANGTAITUN,
                other_region=DONGZHENGSI,
                wrong_role=Role.WAREHOUSE_KEEPER,
            ),
            make_user,
            client_for,
            wrong_role_statuses=(403,),
        )
        html = body_text(results["allowed"])
        assert "138****8000" in html and "13800138000" not in html
        assert "BOX-40" in html and "GZT001" in html
    html = body_text(
        client_for(make_user(role=Role.SAMPLER, region=JIANGTAITUN)).get(
            f"/screening/handovers/{handover.pk}/print/"
        )
    )
    assert "@page { size: A4" in html and 'class="signatures"' in html
    for junk in ("0", str(2**70)):
        assert (
            client_for(make_user(role=Role.HQ_COMMANDER, region="41"))
            .get(f"/screening/handovers/{junk}/")
            .status_code
            == 404
        )


def test_handover_list_is_scoped_and_pinned(
    gz: Gaozhuang, handover: Handover, make_user: Any, client_for: Any
) -> None:
    inspector = client_for(make_user(role=Role.INSPECTOR, region=JIANGTAITUN))
    outsider = client_for(make_user(role=Role.SAMPLER, region=DONGZHENGSI))
    assert "安阳县人民医院" in body_text(inspector.get("/screening/handovers/"))
    assert "安阳县人民医院" not in body_text(outsider.get("/screening/handovers/"))
    anonymous = client_for(None).get("/screening/handovers/")
    assert anonymous.status_code == 302
    keeper = client_for(make_user(role=Role.WAREHOUSE_KEEPER, region=JIANGTAITUN))
    assert keeper.get("/screening/handovers/").status_code == 403
    before = count_queries(inspector, "/screening/handovers/")
    people = [gz.jiangtaitun[8], gz.jiangtaitun[9], *gz.dongzhengsi]
    for n, person in enumerate(people):
        tube = sampled_tube(gz.round, gz.site, f"GZL{n:03d}", [person])
        box = packed_box(gz.round, gz.site, f"BOX-L{n}", [tube])
        _hand([box], lab_name=f"实验室{n}")
    assert count_queries(inspector, "/screening/handovers/") == before
    assert "实验室3" in body_text(inspector.get("/screening/handovers/", {"round": gz.round.pk}))
    assert inspector.get("/screening/handovers/", {"round": "abc", "page": "x"}).status_code == 200
    other_round = body_text(inspector.get("/screening/handovers/", {"round": gz.round.pk + 1}))
    assert "实验室3" not in other_round


def test_courier_phone_reveal_is_logged(
    handover: Handover, make_user: Any, client_for: Any
) -> None:
    url = f"/screening/handovers/{handover.pk}/reveal/"
    inspector = client_for(make_user(role=Role.INSPECTOR, region=JIANGTAITUN))
    assert inspector.post(url).status_code == 403
    outsider = client_for(make_user(role=Role.VILLAGE_CADRE, region=DONGZHENGSI))
    assert outsider.post(url).status_code == 404
    cadre = client_for(make_user(role=Role.VILLAGE_CADRE, region=JIANGTAITUN))
    assert 'data-testid="reveal"' in body_text(cadre.get(f"/screening/handovers/{handover.pk}/"))
    assert cadre.get(url).status_code == 405
    response = cadre.post(url)
    assert "13800138000" in body_text(response)
    entry = AccessLogEntry.objects.get()
    assert entry.kind == "reveal" and entry.fields == ["courier_phone"]
    assert entry.object_id == str(handover.pk)


@pytest.mark.parametrize("url", ["/screening/boxes/scan/", "/screening/boxes/remove/"])
def test_control_characters_on_the_packing_page_never_fail(
    gz: Gaozhuang, tubes: list[Tube], sampler: Any, client_for: Any, url: str
) -> None:
    packed_box(gz.round, gz.site, "BOX-50", tubes[:1])
    junk = "\x00\x1b[31m\u200b"
    client = client_for(sampler)
    for box in ("BOX-50", junk, ""):
        data = {"round": gz.round.pk, "site": gz.site.pk, "box": box}
        data.update({"code": junk, "item": junk, "reason": junk, "finish": junk})
        assert client.post(url, data, headers=XHR).status_code == 200
    assert (
        client.get(f"/screening/boxes/?round={gz.round.pk}&site={gz.site.pk}&box=%00").status_code
        == 200
    )
