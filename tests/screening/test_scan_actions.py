"""The sampling actions around the scan: open and close a tube, remove a sample, walk-ins."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from fangkong.accounts.roles import Role
from fangkong.core.models import AuditEntry
from fangkong.people.actions import DuplicatePerson
from fangkong.people.models import Person
from fangkong.screening.actions.rounds import ZoneInput, create_round
from fangkong.screening.actions.sampling import (
    close_tube,
    open_tube,
    register_walk_in,
    remove_sample,
    set_tube_capacity,
    zone_pool_size,
)
from fangkong.screening.actions.scan import scan
from fangkong.screening.models import (
    HOUSEHOLD_POOL,
    HOUSEHOLD_TUBE_CAPACITY,
    RoundStatus,
    Sample,
    Tube,
    TubeStatus,
)
from tests.conftest import DONGZHENGSI, FUDAO, GAOZHUANG, JIANGTAITUN
from tests.people.conftest import make_id
from tests.screening.conftest import Gaozhuang


@pytest.fixture
def sampler(gz: Gaozhuang, make_user: Any) -> Any:
    return make_user("sampler", role=Role.SAMPLER, region=JIANGTAITUN)


def fields_of(exc: pytest.ExceptionInfo[ValidationError]) -> set[str]:
    return set(exc.value.message_dict)


def test_open_tube_takes_the_zone_pool_size(gz: Gaozhuang, sampler: Any) -> None:
    tube = open_tube(actor=sampler, round_=gz.round, site=gz.site, barcode="TB0001")
    assert (tube.capacity, tube.household_mode, tube.status) == (10, False, TubeStatus.OPEN)
    assert tube.region_code == JIANGTAITUN and tube.opened_by_id == sampler.pk
    entry = AuditEntry.objects.get(action="screening.open_tube")
    assert entry.object_id == str(tube.pk) and entry.after["barcode"] == "TB0001"
    # Longest zone wins: 东正寺村 (1:1) inside 高庄镇 (10:1).
    assert zone_pool_size(gz.round, DONGZHENGSI) == 1
    assert zone_pool_size(gz.round, "410522116219") == 10  # 伯台村: only the township zone
    assert zone_pool_size(gz.round, FUDAO) == gz.round.default_pool_size  # outside


def test_household_zone_opens_household_tubes(gz: Gaozhuang) -> None:
    from fangkong.geo.models import Site

    round_ = create_round(
        actor=None,
        name="封控区一户一管",
        starts_at=gz.round.starts_at,
        ends_at=gz.round.ends_at,
        zones=[ZoneInput(GAOZHUANG, HOUSEHOLD_POOL, "封控区")],
    )
    type(round_).objects.filter(pk=round_.pk).update(status=RoundStatus.SAMPLING)
    round_.refresh_from_db()
    site = Site.objects.get(pk=gz.site.pk)
    tube = open_tube(actor=None, round_=round_, site=site, barcode="HH0001")
    assert tube.household_mode and tube.capacity == HOUSEHOLD_TUBE_CAPACITY


def test_open_tube_refusals(gz: Gaozhuang, sampler: Any, make_user: Any) -> None:
    open_tube(actor=None, round_=gz.round, site=gz.site, barcode="TB0001")
    with pytest.raises(ValidationError) as caught:
        open_tube(actor=sampler, round_=gz.round, site=gz.site, barcode="tb0001")
    assert fields_of(caught) == {"barcode"}
    with pytest.raises(ValidationError) as caught:
        open_tube(actor=sampler, round_=gz.round, site=gz.site, barcode="TB0002", typed=True)
    assert fields_of(caught) == {"confirm_barcode"}
    with pytest.raises(ValidationError):
        open_tube(
            actor=sampler, round_=gz.round, site=gz.site, barcode="TB0002", typed=True,
            confirm_barcode="TB0020",
        )  # fmt: skip
    typed = open_tube(
        actor=sampler, round_=gz.round, site=gz.site, barcode="TB0002", typed=True,
        confirm_barcode=" ｔｂ０００２ ",
    )  # fmt: skip
    assert typed.barcode == "TB0002"
    for bad in (0.5, "10", True, 21, -1):
        with pytest.raises(ValidationError) as caught:
            open_tube(actor=sampler, round_=gz.round, site=gz.site, barcode="TB0003", capacity=bad)
        assert fields_of(caught) == {"capacity"}
    elsewhere = make_user(role=Role.SAMPLER, region=FUDAO)
    with pytest.raises(PermissionDenied):
        open_tube(actor=elsewhere, round_=gz.round, site=gz.site, barcode="TB0003")
    inspector = make_user(role=Role.INSPECTOR, region=JIANGTAITUN)
    with pytest.raises(PermissionDenied):
        open_tube(actor=inspector, round_=gz.round, site=gz.site, barcode="TB0003")
    type(gz.round).objects.filter(pk=gz.round.pk).update(status=RoundStatus.AWAITING_RESULTS)
    gz.round.refresh_from_db()
    with pytest.raises(ValidationError) as caught:
        open_tube(actor=sampler, round_=gz.round, site=gz.site, barcode="TB0003")
    assert fields_of(caught) == {"round"}
    assert not Tube.objects.filter(barcode="TB0003").exists()


def test_barcode_used_in_an_earlier_round_is_refused(gz: Gaozhuang) -> None:
    open_tube(actor=None, round_=gz.round, site=gz.site, barcode="TB0001")
    later = create_round(
        actor=None,
        name="第10轮",
        starts_at=gz.round.starts_at,
        ends_at=gz.round.ends_at,
        zones=[ZoneInput(JIANGTAITUN, 10)],
    )
    type(later).objects.filter(pk=later.pk).update(status=RoundStatus.SAMPLING)
    later.refresh_from_db()
    with pytest.raises(ValidationError) as caught:
        open_tube(actor=None, round_=later, site=gz.site, barcode="TB0001")
    assert caught.value.error_dict["barcode"][0].code == "duplicate"


def test_inactive_site_is_refused(gz: Gaozhuang) -> None:
    gz.site.active = False
    with pytest.raises(ValidationError) as caught:
        open_tube(actor=None, round_=gz.round, site=gz.site, barcode="TB0001")
    assert fields_of(caught) == {"site"}


def test_close_tube(gz: Gaozhuang, sampler: Any, make_user: Any) -> None:
    tube = open_tube(actor=None, round_=gz.round, site=gz.site, barcode="TB0001")
    with pytest.raises(ValidationError):
        close_tube(actor=sampler, tube=tube)  # empty
    scan(actor=None, tube_barcode="TB0001", person_code=gz.jiangtaitun[0].id_number)
    with pytest.raises(PermissionDenied):
        close_tube(actor=make_user(role=Role.SAMPLER, region=FUDAO), tube=tube)
    closed = close_tube(actor=sampler, tube=tube)
    assert closed.status == TubeStatus.CLOSED and closed.closed_at is not None
    entry = AuditEntry.objects.get(action="screening.close_tube")
    assert entry.before["status"] == "open" and entry.after["status"] == "closed"
    with pytest.raises(ValidationError):
        close_tube(actor=sampler, tube=tube)


def test_set_tube_capacity(gz: Gaozhuang, sampler: Any, make_user: Any) -> None:
    tube = open_tube(actor=None, round_=gz.round, site=gz.site, barcode="TB0001")
    assert tube.capacity == 10
    for someone in gz.jiangtaitun[:3]:
        scan(actor=None, tube_barcode="TB0001", person_code=someone.id_number)
    with pytest.raises(PermissionDenied):
        set_tube_capacity(actor=make_user(role=Role.SAMPLER, region=FUDAO), tube=tube, capacity=5)
    for bad in (2, -1, 21, 101, "5", 5.0, None, True):
        with pytest.raises(ValidationError) as caught:
            set_tube_capacity(actor=sampler, tube=tube, capacity=bad)
        assert fields_of(caught) == {"capacity"}, bad
    with pytest.raises(ValidationError) as caught:
        set_tube_capacity(actor=sampler, tube=tube, capacity=0)  # household: only while empty
    assert fields_of(caught) == {"capacity"}
    changed = set_tube_capacity(actor=sampler, tube=tube, capacity=5)
    assert changed.capacity == 5 and changed.status == TubeStatus.OPEN
    entry = AuditEntry.objects.get(action="screening.set_tube_capacity")
    assert entry.before["capacity"] == 10 and entry.after["capacity"] == 5
    # Down to the people already in it: full, so it closes, as a filling scan does.
    full = set_tube_capacity(actor=sampler, tube=tube, capacity=3)
    assert full.status == TubeStatus.CLOSED and full.closed_at is not None
    with pytest.raises(ValidationError):
        set_tube_capacity(actor=sampler, tube=tube, capacity=10)  # closed
    empty = open_tube(actor=None, round_=gz.round, site=gz.site, barcode="TB0002")
    household = set_tube_capacity(actor=sampler, tube=empty, capacity=0)
    assert household.household_mode and household.capacity == HOUSEHOLD_TUBE_CAPACITY
    back = set_tube_capacity(actor=sampler, tube=empty, capacity=1)
    assert not back.household_mode and back.capacity == 1
    out = scan(actor=None, tube_barcode="TB0002", person_code=gz.jiangtaitun[5].id_number)
    assert out.code == "tube_full_closed"


def test_remove_sample_keeps_the_row_and_fixes_counts(gz: Gaozhuang, sampler: Any) -> None:
    open_tube(actor=None, round_=gz.round, site=gz.site, barcode="TB0001")
    someone = gz.jiangtaitun[0]
    out = scan(actor=None, tube_barcode="TB0001", person_code=someone.id_number)
    sample = Sample.objects.get(pk=out.sample_id)
    with pytest.raises(ValidationError) as caught:
        remove_sample(actor=sampler, sample=sample, reason="")
    assert fields_of(caught) == {"reason"}
    removed = remove_sample(actor=sampler, sample=sample, reason="扫错人")
    assert removed.removed_at is not None
    assert Sample.objects.filter(pk=sample.pk).exists()
    assert Tube.objects.get(barcode="TB0001").member_count == 0
    with pytest.raises(ValidationError):
        remove_sample(actor=sampler, sample=sample, reason="again")
    # Scanned again afterwards: a fresh sample, no reason needed.
    again = scan(actor=None, tube_barcode="TB0001", person_code=someone.id_number)
    assert again.code == "added"


def test_remove_sample_needs_sampling_over_the_tube(gz: Gaozhuang, make_user: Any) -> None:
    open_tube(actor=None, round_=gz.round, site=gz.site, barcode="TB0001")
    out = scan(actor=None, tube_barcode="TB0001", person_code=gz.jiangtaitun[0].id_number)
    sample = Sample.objects.get(pk=out.sample_id)
    with pytest.raises(PermissionDenied):
        remove_sample(actor=make_user(role=Role.SAMPLER, region=FUDAO), sample=sample, reason="x")
    with pytest.raises(PermissionDenied):
        remove_sample(
            actor=make_user(role=Role.INSPECTOR, region=JIANGTAITUN), sample=sample, reason="x"
        )


def test_walk_in(gz: Gaozhuang, sampler: Any, make_user: Any) -> None:
    number = make_id("19910909", "919", "410523")
    person = register_walk_in(
        actor=sampler, round_=gz.round, site=gz.site, name=" 赵 六 ", id_type="mainland",
        id_number=number.lower(), phone="13912345678", region_code="410523106202",
    )  # fmt: skip
    assert (person.name, person.id_number, person.region_code) == ("赵六", number, "410523106202")
    assert person.birth_date is not None and person.sex
    entry = AuditEntry.objects.get(action="screening.register_walk_in")
    assert entry.actor_id == sampler.pk and entry.object_id == str(person.pk)
    assert AuditEntry.objects.filter(
        action="people.create_person", object_id=str(person.pk)
    ).exists()
    with pytest.raises(DuplicatePerson) as caught:
        register_walk_in(
            actor=sampler, round_=gz.round, site=gz.site, name="赵六", id_type="mainland",
            id_number=number,
        )  # fmt: skip
    assert caught.value.existing.pk == person.pk
    with pytest.raises(PermissionDenied):
        register_walk_in(
            actor=make_user(role=Role.INSPECTOR, region=JIANGTAITUN), round_=gz.round,
            site=gz.site, name="钱七", id_type="none", id_number="",
        )  # fmt: skip
    with pytest.raises(ValidationError) as bad:
        register_walk_in(
            actor=sampler, round_=gz.round, site=gz.site, name="钱七", id_type="mainland",
            id_number=number[:17] + ("0" if number[17] != "0" else "1"),
        )  # fmt: skip
    assert "id_number" in bad.value.message_dict
    assert Person.objects.filter(name="钱七").count() == 0


def test_walk_in_at_a_township_site_needs_a_village(gz: Gaozhuang) -> None:
    from fangkong.geo.models import Site

    site = Site.objects.create(name="高庄镇卫生院", kind="testing_site", region_code=GAOZHUANG)
    with pytest.raises(ValidationError) as caught:
        register_walk_in(
            actor=None, round_=gz.round, site=site, name="钱七", id_type="none", id_number=""
        )
    assert fields_of(caught) == {"region_code"}
