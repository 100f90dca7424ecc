"""Round actions: plan, edit, start, finish, resume, close, delete; their checks and audit."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from fangkong.core.models import AuditEntry
from fangkong.screening.actions.rounds import (
    ZoneInput,
    close_round,
    create_round,
    delete_round,
    finish_sampling,
    resume_sampling,
    start_sampling,
    update_round,
)
from fangkong.screening.models import Round, RoundStatus, RoundTarget, RoundZone, Tube, TubeStatus
from fangkong.screening.queries.rounds import pool_size_for, visible_rounds, zone_for
from tests.conftest import (
    ANYANG_COUNTY,
    DONGZHENGSI,
    FUDAO,
    FUDAO_ERJIE,
    GAOZHUANG,
    JIANGTAITUN,
)
from tests.screening.conftest import Gaozhuang
from tests.screening.rounds_support import sample_into

NOW = timezone.now()


def plan(actor: Any = None, **values: Any) -> Round:
    data: dict[str, Any] = {
        "name": "第10轮全员核酸",
        "starts_at": NOW + dt.timedelta(days=1),
        "ends_at": NOW + dt.timedelta(days=1, hours=5),
        "zones": [ZoneInput(GAOZHUANG, 10, "防范区"), ZoneInput(JIANGTAITUN, 1, "封控区")],
    }
    data.update(values)
    return create_round(actor=actor, **data)


def error_keys(exc: pytest.ExceptionInfo[ValidationError]) -> set[str]:
    return set(exc.value.message_dict)


# --- planning ---------------------------------------------------------------------------


def test_create_round_sets_area_and_audits(regions: Any, make_user: Any) -> None:
    officer = make_user(role="township_officer", region=GAOZHUANG)
    made = plan(officer, barcode_prefix="ay", barcode_length=12, notes="  早7点  ")
    assert made.status == RoundStatus.PLANNED
    assert made.region_code == GAOZHUANG
    assert made.barcode_prefix == "AY"
    assert made.notes == "早7点"
    zones = {z.region_code: (z.pool_size, z.label, z.upper_code) for z in made.zones.all()}
    assert zones == {
        GAOZHUANG: (10, "防范区", "410522117"),
        JIANGTAITUN: (1, "封控区", "410522116216"),
    }
    entry = AuditEntry.objects.get(action="screening.create_round")
    assert entry.actor == officer
    assert entry.after["zones"] == [[GAOZHUANG, 10, "防范区"], [JIANGTAITUN, 1, "封控区"]]


def test_area_over_two_counties_is_their_common_region(regions: Any) -> None:
    made = plan(zones=[ZoneInput(JIANGTAITUN, 10), ZoneInput(FUDAO_ERJIE, 20)])
    assert made.region_code == "4105"


def test_full_width_codes_and_traditional_names(regions: Any) -> None:
    made = plan(
        name="第１０輪全員核酸",
        zones=[ZoneInput("４１０５２２１１６２１５", 1, "封控區")],
    )
    assert made.name == "第10輪全員核酸"  # NFKC folds the digit; the script stays as typed
    assert made.zones.get().region_code == JIANGTAITUN
    assert made.zones.get().label == "封控區"


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "轮" * 101}, "name"),
        ({"name": "第9轮\x00"}, "name"),
        ({"ends_at": NOW}, "ends_at"),
        ({"ends_at": NOW + dt.timedelta(days=1)}, "ends_at"),
        ({"ends_at": NOW + dt.timedelta(days=30)}, "ends_at"),
        ({"starts_at": dt.datetime(1999, 1, 1, tzinfo=dt.UTC)}, "starts_at"),
        ({"starts_at": "tomorrow"}, "starts_at"),
        ({"zones": []}, "zones"),
        ({"zones": [ZoneInput(JIANGTAITUN, 7)]}, "zones.0.pool_size"),
        ({"zones": [ZoneInput(JIANGTAITUN, True)]}, "zones.0.pool_size"),
        ({"zones": [ZoneInput("410522116299", 10)]}, "zones.0.region_code"),
        ({"zones": [ZoneInput("41052211621", 10)]}, "zones.0.region_code"),
        ({"zones": [ZoneInput("abc", 10)]}, "zones.0.region_code"),
        ({"zones": [ZoneInput(GAOZHUANG, 10), ZoneInput(GAOZHUANG, 1)]}, "zones.1.region_code"),
        (
            {"zones": [ZoneInput(JIANGTAITUN, 10), ZoneInput("４１０５２２１１６２１５", 1)]},
            "zones.1.region_code",
        ),
        ({"zones": [ZoneInput(JIANGTAITUN, 10, "区" * 33)]}, "zones.0.label"),
        ({"default_pool_size": 7}, "default_pool_size"),
        ({"default_pool_size": "10"}, "default_pool_size"),
        ({"barcode_length": 3}, "barcode_length"),
        ({"barcode_length": 33}, "barcode_length"),
        ({"barcode_prefix": "AY 01"}, "barcode_prefix"),
        ({"barcode_prefix": "核酸"}, "barcode_prefix"),
        ({"barcode_prefix": "AYAYAYAY", "barcode_length": 8}, "barcode_prefix"),
        ({"notes": "x" * 2001}, "notes"),
    ],
)
def test_bad_input_is_refused_with_the_field(regions: Any, values: Any, key: str) -> None:
    with pytest.raises(ValidationError) as exc:
        plan(**values)
    assert key in error_keys(exc)
    assert not Round.objects.exists()


def test_out_of_scope_or_without_the_role_is_denied(regions: Any, make_user: Any) -> None:
    officer = make_user(role="township_officer", region=GAOZHUANG)
    with pytest.raises(PermissionDenied):
        plan(officer, zones=[ZoneInput(JIANGTAITUN, 10), ZoneInput(FUDAO_ERJIE, 10)])
    cadre = make_user(role="village_cadre", region=JIANGTAITUN)
    with pytest.raises(PermissionDenied):
        plan(cadre, zones=[ZoneInput(JIANGTAITUN, 10)])
    assert not Round.objects.exists()


# --- editing ----------------------------------------------------------------------------


def test_update_planned_round_replaces_zones_and_audits(regions: Any, make_user: Any) -> None:
    hq = make_user(role="hq", region=ANYANG_COUNTY)
    made = plan(hq)
    changed = update_round(
        actor=hq,
        round_=made,
        name="第10轮（复核）",
        zones=[ZoneInput(DONGZHENGSI, 0, "封控区"), ZoneInput(JIANGTAITUN, 5)],
        default_pool_size=20,
        barcode_prefix="x1",
        barcode_length=10,
    )
    assert changed.name == "第10轮(复核)"
    assert changed.region_code == GAOZHUANG
    assert changed.default_pool_size == 20
    assert (changed.barcode_prefix, changed.barcode_length) == ("X1", 10)
    assert sorted(changed.zones.values_list("region_code", "pool_size")) == [
        (JIANGTAITUN, 5),
        (DONGZHENGSI, 0),
    ]
    entry = AuditEntry.objects.get(action="screening.update_round")
    assert entry.before["name"] == "第10轮全员核酸"
    assert entry.after["zones"] == [[JIANGTAITUN, 5, ""], [DONGZHENGSI, 0, "封控区"]]


def test_update_without_changes_writes_no_audit(regions: Any) -> None:
    made = plan()
    update_round(actor=None, round_=made, name=made.name)
    assert not AuditEntry.objects.filter(action="screening.update_round").exists()


def test_update_refuses_bad_values_and_keeps_the_round(regions: Any) -> None:
    made = plan()
    with pytest.raises(ValidationError) as exc:
        update_round(actor=None, round_=made, ends_at=made.starts_at - dt.timedelta(hours=1))
    assert "ends_at" in error_keys(exc)
    with pytest.raises(ValidationError) as exc:
        update_round(actor=None, round_=made, zones=[ZoneInput(JIANGTAITUN, 7)])
    assert "zones.0.pool_size" in error_keys(exc)
    made.refresh_from_db()
    assert made.zones.count() == 2


def test_update_moving_the_area_out_of_scope_is_denied(regions: Any, make_user: Any) -> None:
    officer = make_user(role="township_officer", region=GAOZHUANG)
    made = plan(officer)
    with pytest.raises(PermissionDenied):
        update_round(actor=officer, round_=made, zones=[ZoneInput(FUDAO, 10)])
    other = make_user(role="township_officer", region=FUDAO)
    with pytest.raises(PermissionDenied):
        update_round(actor=other, round_=made, name="x")
    assert RoundZone.objects.filter(round=made).count() == 2


def test_running_round_keeps_its_area_but_may_extend(gz: Gaozhuang) -> None:
    later = gz.round.ends_at + dt.timedelta(hours=2)
    changed = update_round(actor=None, round_=gz.round, ends_at=later, name="第9轮全员核酸(延长)")
    assert changed.ends_at == later
    with pytest.raises(ValidationError) as exc:
        update_round(actor=None, round_=gz.round, zones=[ZoneInput(JIANGTAITUN, 1)])
    assert "zones" in error_keys(exc)
    with pytest.raises(ValidationError) as exc:
        update_round(actor=None, round_=gz.round, default_pool_size=20)
    assert "default_pool_size" in error_keys(exc)
    # The form sends every field back: unchanged frozen values are fine.
    update_round(
        actor=None,
        round_=gz.round,
        starts_at=gz.round.starts_at,
        default_pool_size=gz.round.default_pool_size,
        notes="午后加开一个点",
    )


# --- status -----------------------------------------------------------------------------


def test_life_of_a_round(gz: Gaozhuang, make_user: Any) -> None:
    officer = make_user(role="township_officer", region=GAOZHUANG)
    tube = sample_into(gz.round, gz.site, "GZ0001", gz.jiangtaitun[:2])
    assert tube.status == TubeStatus.OPEN
    with pytest.raises(ValidationError) as exc:
        finish_sampling(actor=officer, round_=gz.round)
    assert exc.value.code == "open_tubes"
    finished = finish_sampling(actor=officer, round_=gz.round, force=True)
    assert finished.status == RoundStatus.AWAITING_RESULTS
    tube.refresh_from_db()
    assert tube.status == TubeStatus.CLOSED and tube.closed_at is not None
    assert AuditEntry.objects.get(action="screening.finish_sampling").after["tubes_closed"] == 1
    resumed = resume_sampling(actor=officer, round_=gz.round)
    assert resumed.status == RoundStatus.SAMPLING
    finish_sampling(actor=officer, round_=gz.round)  # nothing open now
    with pytest.raises(ValidationError) as exc:
        close_round(actor=officer, round_=gz.round)
    assert exc.value.code == "pending_results"
    Tube.objects.filter(pk=tube.pk).update(status=TubeStatus.RESULTED, result="negative")
    closed = close_round(actor=officer, round_=gz.round)
    assert closed.status == RoundStatus.CLOSED and closed.closed_at is not None
    with pytest.raises(ValidationError):
        update_round(actor=officer, round_=gz.round, name="x")
    with pytest.raises(ValidationError):
        resume_sampling(actor=officer, round_=gz.round)
    actions = list(
        AuditEntry.objects.filter(object_type="screening.round").values_list("action", flat=True)
    )
    assert set(actions) >= {
        "screening.start_sampling",
        "screening.finish_sampling",
        "screening.resume_sampling",
        "screening.close_round",
    }


def test_empty_open_tubes_do_not_block_finishing(gz: Gaozhuang) -> None:
    empty = sample_into(gz.round, gz.site, "GZ0002", [])
    finish_sampling(actor=None, round_=gz.round)
    empty.refresh_from_db()
    assert empty.status == TubeStatus.OPEN


def test_close_anyway_records_the_tubes_left(gz: Gaozhuang) -> None:
    sample_into(gz.round, gz.site, "GZ0003", gz.jiangtaitun[:1])
    finish_sampling(actor=None, round_=gz.round, force=True)
    close_round(actor=None, round_=gz.round, force=True)
    assert AuditEntry.objects.get(action="screening.close_round").after["tubes_without_result"] == 1


def test_status_order_is_enforced(gz: Gaozhuang, regions: Any) -> None:
    with pytest.raises(ValidationError):
        close_round(actor=None, round_=gz.round)
    with pytest.raises(ValidationError):
        resume_sampling(actor=None, round_=gz.round)
    with pytest.raises(ValidationError):
        delete_round(actor=None, round_=gz.round)
    planned = plan()
    with pytest.raises(ValidationError):
        finish_sampling(actor=None, round_=planned)


def test_status_changes_need_the_role_over_the_round(gz: Gaozhuang, make_user: Any) -> None:
    for user in (
        make_user(role="village_cadre", region=JIANGTAITUN),
        make_user(role="township_officer", region=FUDAO),
        make_user(role="sampler", region=GAOZHUANG),
    ):
        with pytest.raises(PermissionDenied):
            finish_sampling(actor=user, round_=gz.round, force=True)
    gz.round.refresh_from_db()
    assert gz.round.status == RoundStatus.SAMPLING


def test_delete_planned_round(regions: Any, make_user: Any) -> None:
    officer = make_user(role="township_officer", region=GAOZHUANG)
    made = plan(officer)
    delete_round(actor=officer, round_=made)
    assert not Round.objects.exists() and not RoundZone.objects.exists()
    entry = AuditEntry.objects.get(action="screening.delete_round")
    assert entry.before["name"] == "第10轮全员核酸" and entry.after is None


def test_start_freezes_the_target_and_is_fast_to_repeat(gz: Gaozhuang) -> None:
    assert RoundTarget.objects.filter(round=gz.round).count() == gz.round.target_count == 12


def test_tags_out_of_date_do_not_raise_priority(regions: Any) -> None:
    from fangkong.people.actions import tag_persons
    from fangkong.screening.targets import PRIORITY_BEDRIDDEN, PRIORITY_DEFAULT
    from tests.screening.conftest import person

    old = person("钱多", JIANGTAITUN, "19900101", "601")
    now_bed = person("钱少", JIANGTAITUN, "19900101", "603")
    tag_persons(
        actor=None, persons=[old], group="bedridden", until=timezone.localdate() - dt.timedelta(1)
    )
    tag_persons(actor=None, persons=[now_bed], group="bedridden")
    made = start_sampling(actor=None, round_=plan(zones=[ZoneInput(JIANGTAITUN, 1)]))
    priorities = dict(RoundTarget.objects.filter(round=made).values_list("person_id", "priority"))
    assert priorities == {old.pk: PRIORITY_DEFAULT, now_bed.pk: PRIORITY_BEDRIDDEN}


# --- zones and visibility ---------------------------------------------------------------


def test_zone_lookup_takes_the_longest_code(gz: Gaozhuang) -> None:
    assert zone_for(gz.round, JIANGTAITUN + "001").region_code == JIANGTAITUN  # type: ignore[union-attr]
    assert pool_size_for(gz.round, DONGZHENGSI) == 1
    assert pool_size_for(gz.round, "410522116216") == 10  # the township's zone
    assert pool_size_for(gz.round, FUDAO_ERJIE) is None
    assert zone_for(gz.round, "") is None


def test_visible_rounds_overlap_the_users_regions(gz: Gaozhuang, make_user: Any) -> None:
    sees = {
        "cadre of a zone village": make_user(role="village_cadre", region=JIANGTAITUN),
        "cadre of a village inside the township zone": make_user(
            role="village_cadre", region="410522116216"
        ),
        "county HQ": make_user(role="hq", region=ANYANG_COUNTY),
        "township": make_user(role="township_officer", region=GAOZHUANG),
    }
    for label, user in sees.items():
        assert list(visible_rounds(user)) == [gz.round], label
    for user in (
        make_user(role="village_cadre", region=FUDAO_ERJIE),
        make_user(role="township_officer", region=FUDAO),
        make_user(role="warehouse_keeper", region=GAOZHUANG),
    ):
        assert not visible_rounds(user).exists()
