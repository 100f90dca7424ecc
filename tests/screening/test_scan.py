"""The scan: every check and every write, through both implementations.

Each test runs with ``scan_plain`` (SQLite's path, any database) and, on PostgreSQL, with
``scan_one_statement``: both must give identical outcomes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.utils import translation

from fangkong.accounts.roles import Role
from fangkong.core.models import AuditEntry
from fangkong.people import actions as people_actions
from fangkong.people.models import Person
from fangkong.screening import codes
from fangkong.screening.actions.sampling import open_tube, remove_sample
from fangkong.screening.actions.scan import ScanOutcome, scan, scan_one_statement, scan_plain
from fangkong.screening.models import (
    HOUSEHOLD_TUBE_CAPACITY,
    RoundStatus,
    RoundTarget,
    Sample,
    Tube,
    TubeStatus,
)
from tests.conftest import DONGZHENGSI, FUDAO, GAOZHUANG, JIANGTAITUN
from tests.people.conftest import make_id
from tests.screening.conftest import Gaozhuang, person

Scan = Callable[..., ScanOutcome]


@pytest.fixture(params=["plain", "one_statement"])
def do_scan(request: pytest.FixtureRequest) -> Scan:
    if request.param == "one_statement" and connection.vendor != "postgresql":
        pytest.skip("the one-statement scan runs on PostgreSQL")
    return scan_plain if request.param == "plain" else scan_one_statement


@pytest.fixture
def sampler(gz: Gaozhuang, make_user: Any) -> Any:
    return make_user("sampler", role=Role.SAMPLER, region=JIANGTAITUN)


@pytest.fixture
def tube(gz: Gaozhuang) -> Tube:
    return open_tube(actor=None, round_=gz.round, site=gz.site, barcode="TB0001")


def ids(people: list[Person]) -> list[str]:
    return [p.id_number for p in people]


def test_scan_adds_the_person_and_marks_the_target(
    gz: Gaozhuang, sampler: Any, tube: Tube, do_scan: Scan
) -> None:
    someone = gz.jiangtaitun[3]
    with translation.override("en"):
        out = do_scan(actor=sampler, tube_barcode="TB0001", person_code=someone.id_number)
    assert (out.ok, out.level, out.code, out.message) == (True, "ok", "added", "Added.")
    assert out.tube_member_count == 1 and out.tube_capacity == 10 and out.tube_status == "open"
    assert out.person_name == someone.name
    assert out.person_id_masked == someone.id_number[:6] + "********" + someone.id_number[-4:]
    assert someone.id_number not in str(out.as_dict())
    assert out.person_region == JIANGTAITUN and out.person_region_name == "蒋台屯村"
    assert out.in_target and not out.out_of_area and not out.needs_reason
    sample = Sample.objects.get(pk=out.sample_id)
    assert (sample.tube_id, sample.person_id, sample.round_id) == (tube.pk, someone.pk, gz.round.pk)
    assert sample.site_id == gz.site.pk and sample.region_code == JIANGTAITUN
    assert sample.scanned_by_id == sampler.pk and sample.in_target and not sample.out_of_area
    assert sample.repeat_reason == "" and sample.removed_at is None
    target = RoundTarget.objects.get(round=gz.round, person=someone)
    assert target.first_sampled_at == sample.scanned_at
    tube.refresh_from_db()
    assert tube.member_count == 1 and tube.status == TubeStatus.OPEN
    # Samples are their own evidence: the scan writes no audit entry.
    assert not AuditEntry.objects.filter(action__startswith="screening.scan").exists()
    assert not AuditEntry.objects.filter(object_type="screening.sample").exists()


def test_tube_closes_itself_when_full(gz: Gaozhuang, sampler: Any, do_scan: Scan) -> None:
    open_tube(actor=None, round_=gz.round, site=gz.site, barcode="TB0005", capacity=5)
    outcomes = [
        do_scan(actor=sampler, tube_barcode="TB0005", person_code=p.id_number)
        for p in gz.jiangtaitun[:6]
    ]
    assert [o.code for o in outcomes] == ["added"] * 4 + ["tube_full_closed", "tube_closed"]
    assert outcomes[4].ok and outcomes[4].tube_status == "closed"
    assert outcomes[4].tube_member_count == 5
    assert not outcomes[5].ok and outcomes[5].person_name == ""  # refused before the person
    tube = Tube.objects.get(barcode="TB0005")
    assert tube.status == TubeStatus.CLOSED and tube.closed_at is not None
    assert tube.member_count == 5 == Sample.objects.filter(tube=tube).count()


def test_single_tube_closes_at_once(gz: Gaozhuang, sampler: Any, do_scan: Scan) -> None:
    open_tube(actor=None, round_=gz.round, site=gz.site, barcode="S1", capacity=1)
    out = do_scan(actor=sampler, tube_barcode="S1", person_code=gz.jiangtaitun[0].id_number)
    assert out.code == "tube_full_closed" and out.tube_status == "closed"


def test_same_tube_twice(gz: Gaozhuang, sampler: Any, tube: Tube, do_scan: Scan) -> None:
    code = gz.jiangtaitun[2].id_number
    assert do_scan(actor=sampler, tube_barcode="TB0001", person_code=code).code == "added"
    again = do_scan(actor=sampler, tube_barcode="TB0001", person_code=code)
    assert (again.ok, again.level, again.code) == (False, "error", "duplicate_in_tube")
    assert again.person_name == gz.jiangtaitun[2].name and again.tube_member_count == 1
    assert Sample.objects.filter(tube=tube).count() == 1


def test_person_in_another_open_tube_is_refused(
    gz: Gaozhuang, sampler: Any, tube: Tube, do_scan: Scan
) -> None:
    open_tube(actor=None, round_=gz.round, site=gz.site, barcode="TB0002")
    code = gz.jiangtaitun[2].id_number
    assert do_scan(actor=sampler, tube_barcode="TB0001", person_code=code).code == "added"
    other = do_scan(actor=sampler, tube_barcode="TB0002", person_code=code, reason="复检")
    assert (other.ok, other.code, other.needs_reason) == (False, "in_open_tube", False)
    assert Tube.objects.get(barcode="TB0002").member_count == 0
    # Taken out of the first tube, the person may go into the second.
    sample = Sample.objects.get(tube=tube)
    remove_sample(actor=sampler, sample=sample, reason="扫错管")
    assert do_scan(actor=sampler, tube_barcode="TB0002", person_code=code).code == "added"


def test_already_sampled_needs_a_reason(gz: Gaozhuang, sampler: Any, do_scan: Scan) -> None:
    open_tube(actor=None, round_=gz.round, site=gz.site, barcode="S1", capacity=1)
    open_tube(actor=None, round_=gz.round, site=gz.site, barcode="TB0002")
    someone = gz.jiangtaitun[4]
    assert do_scan(actor=sampler, tube_barcode="S1", person_code=someone.id_number).ok
    first_at = RoundTarget.objects.get(round=gz.round, person=someone).first_sampled_at
    warned = do_scan(actor=sampler, tube_barcode="TB0002", person_code=someone.id_number)
    assert (warned.ok, warned.level, warned.code, warned.needs_reason) == (
        False,
        "warning",
        "already_sampled",
        True,
    )
    assert warned.person_name == someone.name
    blank = do_scan(
        actor=sampler, tube_barcode="TB0002", person_code=someone.id_number, reason=" \t"
    )
    assert blank.code == "already_sampled"
    again = do_scan(
        actor=sampler,
        tube_barcode="TB0002",
        person_code=someone.id_number,
        reason="  复检\x00 （混管阳性后） " + "长" * 200,
    )
    assert again.ok and again.code == "added" and again.level == "ok"
    sample = Sample.objects.get(pk=again.sample_id)
    assert (
        sample.repeat_reason.startswith("复检 (混管阳性后) 长") and len(sample.repeat_reason) == 100
    )
    # The first sampling time stays the first one.
    assert RoundTarget.objects.get(round=gz.round, person=someone).first_sampled_at == first_at


def test_reason_without_a_previous_sample_is_not_stored(
    gz: Gaozhuang, sampler: Any, tube: Tube, do_scan: Scan
) -> None:
    out = do_scan(
        actor=sampler, tube_barcode="TB0001", person_code=gz.jiangtaitun[1].id_number, reason="复检"
    )
    assert out.code == "added" and Sample.objects.get(pk=out.sample_id).repeat_reason == ""


def test_outsider_is_added_and_flagged(
    gz: Gaozhuang, sampler: Any, tube: Tube, do_scan: Scan
) -> None:
    out = do_scan(actor=sampler, tube_barcode="TB0001", person_code=gz.outsider.id_number)
    assert (out.ok, out.level, out.code, out.out_of_area, out.in_target) == (
        True,
        "warning",
        "added",
        True,
        False,
    )
    assert out.person_region == gz.outsider.region_code
    sample = Sample.objects.get(pk=out.sample_id)
    assert sample.out_of_area and not sample.in_target
    assert not RoundTarget.objects.filter(person=gz.outsider).exists()


def test_scanner_noise_and_typed_forms(
    gz: Gaozhuang, sampler: Any, tube: Tube, do_scan: Scan
) -> None:
    people = gz.jiangtaitun
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in people[0].id_number)
    assert do_scan(actor=sampler, tube_barcode="]C1tb0001\r\n", person_code=full_width).ok
    assert do_scan(
        actor=sampler, tube_barcode="＊TB0001＊", person_code=f"]Q1{people[1].id_number}\r"
    ).ok
    qr = codes.make_person_qr(people[2].pk)
    out = do_scan(actor=sampler, tube_barcode="TB0001", person_code=f"]Q1{qr.lower()}\n")
    assert out.ok and out.person_name == people[2].name
    last6 = people[3].id_number[-6:].lower()
    out = do_scan(actor=sampler, tube_barcode="TB0001", person_code=last6, name=people[3].name)
    assert out.ok and out.person_name == people[3].name
    assert Tube.objects.get(pk=tube.pk).member_count == 4


def test_last_six_in_traditional_characters(
    gz: Gaozhuang, sampler: Any, tube: Tube, do_scan: Scan
) -> None:
    someone = person("刘强", JIANGTAITUN, "19700707", "777")
    out = do_scan(
        actor=sampler, tube_barcode="TB0001", person_code=someone.id_number[-6:], name="劉強"
    )
    assert out.ok and out.person_name == "刘强"


def test_last_six_matching_two_people_is_ambiguous(
    gz: Gaozhuang, sampler: Any, tube: Tube, do_scan: Scan
) -> None:
    # Same day of birth, same sequence and the same check digit: the same last 6.
    first = make_id("19800101", "555")
    second = next(
        number
        for year in range(1950, 2000)
        if (number := make_id(f"{year}0101", "555"))[-6:] == first[-6:] and number != first
    )
    people_actions.create_person(
        actor=None, name="王芳", id_type="mainland", id_number=first, region_code=JIANGTAITUN
    )
    people_actions.create_person(
        actor=None, name="王芳", id_type="mainland", id_number=second, region_code=DONGZHENGSI
    )
    out = do_scan(actor=sampler, tube_barcode="TB0001", person_code=first[-6:], name="王芳")
    assert (out.ok, out.code, out.person_name) == (False, "ambiguous", "")
    nobody = do_scan(actor=sampler, tube_barcode="TB0001", person_code=first[-6:], name="王芳芳")
    assert nobody.code == "unknown_person"
    assert do_scan(actor=sampler, tube_barcode="TB0001", person_code=second).ok


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (make_id("19900101", "999"), "unknown_person"),
        (make_id("19900101", "999")[:17] + "Z", "invalid_id"),
        ("410522199013011231", "invalid_id"),
        ("41052219900101123", "invalid_id"),
        ("", "invalid_id"),
        ("张三", "invalid_id"),
        ("123456", "invalid_id"),
        ("FK1:1:0000000000000000", "invalid_id"),
        ("E99999999", "unknown_person"),
    ],
)
def test_unknown_and_invalid_people(
    gz: Gaozhuang, sampler: Any, tube: Tube, do_scan: Scan, code: str, expected: str
) -> None:
    out = do_scan(actor=sampler, tube_barcode="TB0001", person_code=code)
    assert (out.ok, out.level, out.code) == (False, "error", expected)
    assert out.message and out.person_name == "" and out.sample_id is None
    assert out.tube_barcode == "TB0001" and out.tube_capacity == 10
    assert Tube.objects.get(pk=tube.pk).member_count == 0


def test_invalid_id_message_says_why(
    gz: Gaozhuang, sampler: Any, tube: Tube, do_scan: Scan
) -> None:
    number = gz.jiangtaitun[0].id_number
    wrong = number[:17] + ("0" if number[17] != "0" else "1")
    with translation.override("en"):
        out = do_scan(actor=sampler, tube_barcode="TB0001", person_code=wrong)
    assert out.code == "invalid_id" and "check digit" in out.message


def test_passport_holder(gz: Gaozhuang, sampler: Any, tube: Tube, do_scan: Scan) -> None:
    visitor = people_actions.create_person(
        actor=None, name="John Smith", id_type="passport", id_number="E12345678",
        region_code=JIANGTAITUN,
    )  # fmt: skip
    out = do_scan(actor=sampler, tube_barcode="TB0001", person_code="e1234 5678")
    assert out.ok and out.person_name == visitor.name
    assert out.person_id_masked == "*********"  # short numbers are masked whole


def test_qr_of_a_merged_record_samples_the_kept_one(
    gz: Gaozhuang, sampler: Any, tube: Tube, do_scan: Scan
) -> None:
    keep = gz.jiangtaitun[5]
    duplicate = people_actions.create_person(
        actor=None, name=keep.name, id_type="none", id_number="", region_code=JIANGTAITUN
    )
    people_actions.merge_persons(actor=None, keep=keep, duplicate=duplicate)
    out = do_scan(
        actor=sampler, tube_barcode="TB0001", person_code=codes.make_person_qr(duplicate.pk)
    )
    assert out.ok and Sample.objects.get(pk=out.sample_id).person_id == keep.pk
    missing = do_scan(
        actor=sampler, tube_barcode="TB0001", person_code=codes.make_person_qr(10**12)
    )
    assert missing.code == "unknown_person"


@pytest.mark.parametrize("barcode", ["TB9999", "", "   ", "管", "x" * 500, "]C1"])
def test_unknown_tube(gz: Gaozhuang, sampler: Any, tube: Tube, do_scan: Scan, barcode: str) -> None:
    out = do_scan(actor=sampler, tube_barcode=barcode, person_code=gz.jiangtaitun[0].id_number)
    assert (out.ok, out.code, out.tube_capacity, out.person_name) == (False, "tube_unknown", 0, "")


def test_tube_of_another_region_is_unknown_and_untouched(
    gz: Gaozhuang, make_user: Any, tube: Tube, do_scan: Scan
) -> None:
    elsewhere = make_user("fudao", role=Role.SAMPLER, region=FUDAO)
    out = do_scan(actor=elsewhere, tube_barcode="TB0001", person_code=gz.jiangtaitun[0].id_number)
    assert (out.ok, out.code, out.tube_capacity, out.tube_member_count) == (
        False,
        "tube_unknown",
        0,
        0,
    )
    assert out.person_name == "" and out.person_id_masked == ""
    assert Tube.objects.get(pk=tube.pk).member_count == 0
    # A sampler over the township (an ancestor of the site's village) may scan.
    township = make_user("gz", role=Role.TOWNSHIP_OFFICER, region=GAOZHUANG)
    assert do_scan(
        actor=township, tube_barcode="TB0001", person_code=gz.jiangtaitun[0].id_number
    ).ok


@pytest.mark.parametrize("role", [Role.INSPECTOR, Role.WAREHOUSE_KEEPER, None])
def test_roles_without_sampling(
    gz: Gaozhuang, make_user: Any, tube: Tube, do_scan: Scan, role: str | None
) -> None:
    user = make_user(role=role, region=JIANGTAITUN)
    out = do_scan(actor=user, tube_barcode="TB0001", person_code=gz.jiangtaitun[0].id_number)
    assert (out.ok, out.code, out.tube_capacity, out.person_name) == (False, "not_allowed", 0, "")
    assert Tube.objects.get(pk=tube.pk).member_count == 0


def test_inactive_user_and_the_system(
    gz: Gaozhuang, sampler: Any, tube: Tube, do_scan: Scan
) -> None:
    sampler.is_active = False
    assert (
        do_scan(actor=sampler, tube_barcode="TB0001", person_code=gz.jiangtaitun[0].id_number).code
        == "not_allowed"
    )
    out = do_scan(actor=None, tube_barcode="TB0001", person_code=gz.jiangtaitun[0].id_number)
    assert out.ok and Sample.objects.get(pk=out.sample_id).scanned_by_id is None


@pytest.mark.parametrize(
    "status", [RoundStatus.AWAITING_RESULTS, RoundStatus.CLOSED, RoundStatus.PLANNED]
)
def test_round_not_sampling(
    gz: Gaozhuang, sampler: Any, tube: Tube, do_scan: Scan, status: str
) -> None:
    type(gz.round).objects.filter(pk=gz.round.pk).update(status=status)
    out = do_scan(actor=sampler, tube_barcode="TB0001", person_code=gz.jiangtaitun[0].id_number)
    assert (out.ok, out.code, out.tube_capacity) == (False, "round_closed", 10)
    assert Tube.objects.get(pk=tube.pk).member_count == 0


def test_closed_and_full_tubes(gz: Gaozhuang, sampler: Any, tube: Tube, do_scan: Scan) -> None:
    Tube.objects.filter(pk=tube.pk).update(status=TubeStatus.BOXED)
    out = do_scan(actor=sampler, tube_barcode="TB0001", person_code=gz.jiangtaitun[0].id_number)
    assert (out.code, out.tube_status) == ("tube_closed", "boxed")
    # Open but at capacity (a capacity lowered by hand, say): full, nothing written.
    Tube.objects.filter(pk=tube.pk).update(status=TubeStatus.OPEN, capacity=0)
    out = do_scan(actor=sampler, tube_barcode="TB0001", person_code=gz.jiangtaitun[0].id_number)
    assert out.code == "tube_full"
    assert not Sample.objects.filter(tube=tube).exists()


def test_household_tube_takes_one_household(gz: Gaozhuang, sampler: Any, do_scan: Scan) -> None:
    a, b, c, d = gz.jiangtaitun[:4]
    home = people_actions.create_household(actor=None, head=a)
    people_actions.set_household(actor=None, person=b, household=home)
    other = people_actions.create_household(actor=None, head=c)
    hh = open_tube(actor=None, round_=gz.round, site=gz.site, barcode="HH01", capacity=0)
    assert hh.household_mode and hh.capacity == HOUSEHOLD_TUBE_CAPACITY
    first = do_scan(actor=sampler, tube_barcode="HH01", person_code=a.id_number)
    assert first.ok and first.household_mode
    assert Tube.objects.get(pk=hh.pk).household_id == home.pk
    assert do_scan(actor=sampler, tube_barcode="HH01", person_code=b.id_number).ok
    refused = do_scan(actor=sampler, tube_barcode="HH01", person_code=c.id_number)
    assert (refused.ok, refused.code) == (False, "other_household")
    assert refused.person_name == c.name
    loner = do_scan(actor=sampler, tube_barcode="HH01", person_code=d.id_number)  # no household
    assert loner.code == "other_household"
    assert other.pk and Tube.objects.get(pk=hh.pk).member_count == 2
    # A person with no household fills a household tube alone.
    open_tube(actor=None, round_=gz.round, site=gz.site, barcode="HH02", capacity=0)
    assert do_scan(actor=sampler, tube_barcode="HH02", person_code=d.id_number).ok
    assert (
        do_scan(actor=sampler, tube_barcode="HH02", person_code=c.id_number).code
        == "other_household"
    )


def test_emptied_household_tube_takes_any_household(
    gz: Gaozhuang, sampler: Any, do_scan: Scan
) -> None:
    a, _b, c = gz.jiangtaitun[:3]
    people_actions.create_household(actor=None, head=a)
    home_c = people_actions.create_household(actor=None, head=c)
    open_tube(actor=None, round_=gz.round, site=gz.site, barcode="HH01", capacity=0)
    first = do_scan(actor=sampler, tube_barcode="HH01", person_code=a.id_number)
    remove_sample(actor=sampler, sample=Sample.objects.get(pk=first.sample_id), reason="扫错户")
    assert do_scan(actor=sampler, tube_barcode="HH01", person_code=c.id_number).ok
    assert Tube.objects.get(barcode="HH01").household_id == home_c.pk


def test_zone_pool_sizes_come_from_the_site(gz: Gaozhuang, sampler: Any, do_scan: Scan) -> None:
    single = open_tube(actor=None, round_=gz.round, site=gz.other_site, barcode="DZ01")
    assert single.capacity == 1  # 东正寺村 is a 封控区 at 1:1
    out = do_scan(actor=None, tube_barcode="DZ01", person_code=gz.dongzhengsi[0].id_number)
    assert out.code == "tube_full_closed"


def test_walk_in_from_elsewhere_is_sampled_out_of_area(
    gz: Gaozhuang, sampler: Any, tube: Tube, do_scan: Scan
) -> None:
    from fangkong.screening.actions.sampling import register_walk_in

    number = make_id("19910909", "919", "410523")
    assert (
        do_scan(actor=sampler, tube_barcode="TB0001", person_code=number).code == "unknown_person"
    )
    walk_in = register_walk_in(
        actor=sampler, round_=gz.round, site=gz.site, name="赵六", id_type="mainland",
        id_number=number, region_code="410523106202",
    )  # fmt: skip
    out = do_scan(actor=sampler, tube_barcode="TB0001", person_code=number)
    assert out.ok and out.out_of_area and not out.in_target and out.person_name == walk_in.name


def test_scan_dispatches_on_the_database(gz: Gaozhuang, sampler: Any, tube: Tube) -> None:
    out = scan(actor=sampler, tube_barcode="TB0001", person_code=gz.jiangtaitun[0].id_number)
    assert out.ok and out.code == "added"


def test_both_implementations_give_identical_outcomes(
    gz: Gaozhuang, sampler: Any, make_user: Any
) -> None:
    """A scripted session through each implementation, on two rounds of the same data."""
    if connection.vendor != "postgresql":
        pytest.skip("the one-statement scan runs on PostgreSQL")
    people = gz.jiangtaitun
    script: list[tuple[str, str, str, str]] = [
        ("T1", people[0].id_number, "", ""),
        ("T1", people[0].id_number, "", ""),
        ("T2", people[0].id_number, "", ""),
        ("T1", gz.outsider.id_number, "", ""),
        ("T1", people[1].id_number[-6:], "", people[1].name),
        ("T1", make_id("19900101", "999"), "", ""),
        ("T1", "41052219900101123X", "", ""),
        ("T9", people[2].id_number, "", ""),
        ("S1", people[3].id_number, "", ""),
        ("S1", people[4].id_number, "", ""),
        ("T2", people[3].id_number, "", ""),
        ("T2", people[3].id_number, "复检", ""),
    ]
    results: dict[str, list[dict[str, Any]]] = {}
    for label, impl in (("plain", scan_plain), ("one", scan_one_statement)):
        for barcode, capacity in (("T1", 10), ("T2", 10), ("S1", 1)):
            open_tube(
                actor=None, round_=gz.round, site=gz.site, barcode=f"{label}{barcode}",
                capacity=capacity,
            )  # fmt: skip
        rows = []
        for barcode, code, reason, name in script:
            out = impl(
                actor=sampler, tube_barcode=f"{label}{barcode}", person_code=code, reason=reason,
                name=name,
            ).as_dict()  # fmt: skip
            out["tube_barcode"] = out["tube_barcode"][len(label) :]
            out["sample_id"] = out["sample_id"] is not None
            rows.append(out)
        results[label] = rows
        # A fresh round of the same people for the other implementation.
        Sample.objects.all().update(removed_at="2022-01-20T08:00:00+08:00")
    for plain, one in zip(results["plain"], results["one"], strict=True):
        assert plain == one


def test_prepared_statements_come_back_after_discard(
    gz: Gaozhuang, sampler: Any, tube: Tube
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    people = gz.jiangtaitun
    assert scan_one_statement(
        actor=sampler, tube_barcode="TB0001", person_code=people[0].id_number
    ).ok
    connection.connection.execute("DEALLOCATE ALL")
    assert scan_one_statement(
        actor=sampler, tube_barcode="TB0001", person_code=people[1].id_number
    ).ok
    assert Tube.objects.get(pk=tube.pk).member_count == 2


def test_a_failing_statement_leaves_the_connection_usable(
    gz: Gaozhuang, sampler: Any, tube: Tube, monkeypatch: pytest.MonkeyPatch
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    from fangkong.screening.actions import scan_pg

    broken = scan_pg._Statements(
        "fangkong_scan_broken",
        "SELECT 1 / 0 WHERE %(barcode)s <> ''",
        "SELECT %(barcode)s",
        ("barcode",),
        ("barcode",),
    )
    monkeypatch.setattr(scan_pg, "_pg_statements", lambda kind, caller="given": broken)
    with pytest.raises(Exception, match="division by zero"):
        scan_one_statement(
            actor=sampler, tube_barcode="TB0001", person_code=gz.jiangtaitun[0].id_number
        )
    monkeypatch.undo()
    assert scan_one_statement(
        actor=sampler, tube_barcode="TB0001", person_code=gz.jiangtaitun[0].id_number
    ).ok
    assert Tube.objects.get(pk=tube.pk).member_count == 1


def test_unprepared_statements_give_the_same_outcome(
    gz: Gaozhuang, sampler: Any, tube: Tube, settings: Any
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    settings.SCREENING_SCAN_PREPARED = False
    out = scan_one_statement(
        actor=sampler, tube_barcode="TB0001", person_code=gz.jiangtaitun[0].id_number
    )
    assert out.ok and out.code == "added"
    again = scan_one_statement(
        actor=sampler, tube_barcode="TB0001", person_code=gz.jiangtaitun[0].id_number
    )
    assert again.code == "duplicate_in_tube"
