"""Positive tracing: members of a tube, who sees whom, control, re-sampling, closing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from fangkong.core.models import AuditEntry
from fangkong.people import actions as people_actions
from fangkong.screening.actions import tracing as actions
from fangkong.screening.actions.results import record_result
from fangkong.screening.models import (
    CaseStatus,
    ControlMeasure,
    ResampleTask,
    TaskStatus,
    TubeStatus,
)
from fangkong.screening.models import TestResult as LabResult
from fangkong.screening.queries import tracing as queries
from tests.conftest import ANYANG_COUNTY, DONGZHENGSI, FUDAO, GAOZHUANG, JIANGTAITUN
from tests.screening.conftest import Gaozhuang
from tests.screening.results_fixtures import make_tube, positive_pool

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english() -> Any:
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture
def case(gz: Gaozhuang) -> Any:
    return positive_pool(gz)


def test_members_with_village_address_phone_masked(gz: Gaozhuang, case: Any) -> None:
    trace = queries.trace_tube(case.tube)
    assert [m.name for m in trace.members] == ["王秀英", "李桂兰", "张伟", "马超"]
    first = trace.members[0]
    person = gz.jiangtaitun[0]
    assert first.village_name == "蒋台屯村" and first.village_code == JIANGTAITUN
    assert first.id_number == person.id_number[:6] + "********" + person.id_number[-4:]
    assert first.phone == person.phone[:3] + "****" + person.phone[-4:]
    assert first.address != person.address and not first.revealed
    assert first.key_groups == ["卧床不起"]  # the bedridden tag
    assert first.task is not None and first.task.status == TaskStatus.PENDING
    assert trace.members[3].village_name == "东正寺村"
    revealed = queries.trace_tube(case.tube, reveal=True).members[0]
    assert (revealed.id_number, revealed.phone, revealed.address) == (
        person.id_number,
        person.phone,
        person.address,
    )


def test_household_and_other_samples(gz: Gaozhuang, case: Any) -> None:
    people_actions.create_household(actor=None, head=gz.jiangtaitun[1], label="王家")
    make_tube(gz.round, gz.site, "R001", gz.jiangtaitun[1:2], capacity=1, reason="单采复检")
    member = queries.trace_tube(case.tube).members[1]
    assert member.household == "王家"
    assert [o.barcode for o in member.other_samples] == ["R001"]


def test_tracing_query_count_does_not_grow_with_members(gz: Gaozhuang, case: Any) -> None:
    small = make_tube(gz.round, gz.other_site, "S009", gz.dongzhengsi[:1], capacity=1)
    with CaptureQueriesContext(connection) as big_run:
        queries.trace_tube(case.tube)
    with CaptureQueriesContext(connection) as small_run:
        queries.trace_tube(small)
    assert len(big_run.captured_queries) <= 7
    assert len(small_run.captured_queries) <= len(big_run.captured_queries)


def test_who_sees_which_members(gz: Gaozhuang, case: Any, make_user: Any) -> None:
    township = make_user(role="township_officer", region=GAOZHUANG)
    hq = make_user(role="hq", region=ANYANG_COUNTY)
    cadre = make_user(role="village_cadre", region=JIANGTAITUN)
    other_cadre = make_user(role="village_cadre", region=DONGZHENGSI)
    outsider = make_user(role="township_officer", region=FUDAO)
    inspector = make_user(role="inspector", region=GAOZHUANG)
    for user, names, hidden in (
        (township, ["王秀英", "李桂兰", "张伟", "马超"], 0),
        (hq, ["王秀英", "李桂兰", "张伟", "马超"], 0),
        (cadre, ["王秀英", "李桂兰", "张伟"], 1),
        (other_cadre, ["马超"], 3),
    ):
        trace = queries.trace_tube(case.tube, user)
        assert [m.name for m in trace.members] == names
        assert trace.hidden == hidden
        assert queries.visible_cases(user).filter(pk=case.pk).exists()
    assert not queries.visible_cases(outsider).exists()
    assert not queries.visible_cases(inspector).exists()
    assert queries.trace_tube(case.tube, outsider).members == []
    # The cadre of 东正寺 may reveal their own villager only.
    trace = queries.trace_tube(case.tube, other_cadre, reveal=True)
    assert trace.members[0].revealed and trace.revealed_count == 1


def test_walk_in_from_another_county_is_traced_by_the_sites_township(
    gz: Gaozhuang, make_user: Any
) -> None:
    tube = make_tube(gz.round, gz.site, "W001", [gz.jiangtaitun[5], gz.outsider])
    record_result(None, tube, LabResult.POOL_POSITIVE, timezone.now())
    township = make_user(role="township_officer", region=GAOZHUANG)
    fudao = make_user(role="village_cadre", region="410523106201")
    assert [m.name for m in queries.trace_tube(tube, township).members] == ["杨磊", "郑爽"]
    assert [m.name for m in queries.trace_tube(tube, fudao).members] == ["郑爽"]
    task = ResampleTask.objects.get(person=gz.outsider)
    assert task.region_code == "410523106201"
    assert queries.can_trace_task(township, task) and queries.can_trace_task(fudao, task)


def test_mark_controlled(gz: Gaozhuang, case: Any, make_user: Any) -> None:
    cadre = make_user(role="village_cadre", region=JIANGTAITUN)
    task = case.tasks.get(person=gz.jiangtaitun[0])
    done = actions.mark_controlled(cadre, task, ControlMeasure.HOME, "居家，门磁已装")
    assert done.controlled_at is not None and done.controlled_by == cadre
    assert (done.control_measure, done.control_note) == ("home", "居家,门磁已装")  # NFKC
    entry = AuditEntry.objects.get(action="screening.mark_controlled")
    assert entry.actor == cadre and entry.after["control_measure"] == "home"
    first = done.controlled_at
    again = actions.mark_controlled(cadre, done, ControlMeasure.CENTRALIZED)
    assert again.control_measure == "centralized" and again.controlled_at == first
    with pytest.raises(ValidationError):
        actions.mark_controlled(cadre, task, "locked_up")
    with pytest.raises(ValidationError):
        actions.mark_controlled(cadre, task, ControlMeasure.HOME, "x" * 201)
    other = make_user(role="village_cadre", region=DONGZHENGSI)
    with pytest.raises(PermissionDenied):
        actions.mark_controlled(other, task, ControlMeasure.HOME)
    sampler = make_user(role="sampler", region=JIANGTAITUN)
    with pytest.raises(PermissionDenied):
        actions.mark_controlled(sampler, task, ControlMeasure.HOME)


def test_resample_then_result_settles_and_closes(gz: Gaozhuang, case: Any) -> None:
    tasks = {t.person_id: t for t in case.tasks.all()}
    people = [*gz.jiangtaitun[:3], gz.dongzhengsi[1]]
    tubes = []
    for i, person in enumerate(people):
        site = gz.site if person.region_code == JIANGTAITUN else gz.other_site
        tube = make_tube(gz.round, site, f"R10{i}", [person], capacity=1, reason="单采复检")
        tubes.append(tube)
        task = actions.record_resample(None, tasks[person.pk], tube)
        assert task.status == TaskStatus.RESAMPLED and task.resample_tube == tube
        assert task.resampled_at is not None
    now = timezone.now()
    record_result(None, tubes[0], LabResult.NEGATIVE, now)
    record_result(None, tubes[1], LabResult.INVALID, now)  # needs another tube
    record_result(None, tubes[2], LabResult.POSITIVE, now)
    statuses = dict(case.tasks.values_list("person_id", "status"))
    assert statuses[people[0].pk] == TaskStatus.NEGATIVE
    assert statuses[people[1].pk] == TaskStatus.RESAMPLED
    assert statuses[people[2].pk] == TaskStatus.POSITIVE
    # The positive single tube is a case of its own: the person.
    single = queries.trace_tube(tubes[2])
    assert single.case is not None and [m.name for m in single.members] == ["张伟"]
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN
    actions.record_task_result(None, tasks[people[1].pk], LabResult.NEGATIVE)
    record_result(None, tubes[3], LabResult.NEGATIVE, now)
    case.refresh_from_db()
    assert case.status == CaseStatus.CLOSED and case.closed_at is not None
    entry = AuditEntry.objects.filter(action="screening.close_case").get()
    assert entry.after["automatic"] is True


def test_resample_refusals(gz: Gaozhuang, case: Any) -> None:
    task = case.tasks.get(person=gz.jiangtaitun[0])
    with pytest.raises(ValidationError, match="positive tube itself"):
        actions.record_resample(None, task, case.tube)
    other = make_tube(gz.round, gz.site, "R200", gz.jiangtaitun[6:7], capacity=1)
    with pytest.raises(ValidationError, match="not sampled into that tube"):
        actions.record_resample(None, task, other)
    pooled = make_tube(
        gz.round, gz.site, "R201", [gz.jiangtaitun[0], gz.jiangtaitun[7]], reason="x"
    )
    with pytest.raises(ValidationError, match="single tube"):
        actions.record_resample(None, task, pooled)


def test_resample_tube_already_resulted_settles_at_once(gz: Gaozhuang, case: Any) -> None:
    task = case.tasks.get(person=gz.jiangtaitun[0])
    tube = make_tube(gz.round, gz.site, "R300", gz.jiangtaitun[:1], capacity=1, reason="单采")
    record_result(None, tube, LabResult.NEGATIVE, timezone.now())
    assert actions.record_resample(None, task, tube).status == TaskStatus.NEGATIVE


def test_cancel_and_close(gz: Gaozhuang, case: Any, make_user: Any) -> None:
    task = case.tasks.get(person=gz.dongzhengsi[1])
    with pytest.raises(ValidationError):
        actions.cancel_task(None, task, "  ")
    cancelled = actions.cancel_task(None, task, "扫错人，已核实")
    assert cancelled.status == TaskStatus.CANCELLED
    with pytest.raises(ValidationError, match="already settled"):
        actions.record_task_result(None, task, LabResult.NEGATIVE)
    cadre = make_user(role="village_cadre", region=DONGZHENGSI)
    with pytest.raises(PermissionDenied):
        actions.close_case(cadre, case, "done")
    officer = make_user(role="township_officer", region=GAOZHUANG)
    with pytest.raises(ValidationError, match="say why"):
        actions.close_case(officer, case)
    closed = actions.close_case(officer, case, "转运至定点医院，其余人员集中隔离")
    assert closed.status == CaseStatus.CLOSED
    with pytest.raises(ValidationError):
        actions.mark_controlled(officer, case.tasks.first(), ControlMeasure.HOME)
    with pytest.raises(ValidationError, match="already closed"):
        actions.close_case(officer, case, "again")


def test_task_result_refusals(gz: Gaozhuang, case: Any) -> None:
    task = case.tasks.first()
    with pytest.raises(ValidationError):
        actions.record_task_result(None, task, LabResult.INVALID)
    with pytest.raises(ValidationError):
        actions.record_task_result(None, task, "阴性")


def test_lists_for_hq_and_villages(gz: Gaozhuang, case: Any, make_user: Any) -> None:
    older = positive_pool(gz, "P002", hours_ago=5, reason="复采")
    hq = make_user(role="hq", region=ANYANG_COUNTY)
    listed = list(queries.case_list_queryset(hq))
    assert [c.pk for c in listed] == [older.pk, case.pk]  # oldest result first
    assert listed[1].task_total == 4 and listed[1].task_pending == 4
    assert queries.since(older.result_at) >= dt.timedelta(hours=5)
    cadre = make_user(role="village_cadre", region=DONGZHENGSI)
    tasks = list(queries.task_list_queryset(cadre))
    assert {t.person_id for t in tasks} == {gz.dongzhengsi[1].pk}
    assert len(tasks) == 2


def test_open_tube_status_unchanged_by_tracing(gz: Gaozhuang, case: Any) -> None:
    case.tube.refresh_from_db()
    assert case.tube.status == TubeStatus.RESULTED
