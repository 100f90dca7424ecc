"""Tracing a positive tube (阳性追踪): control each member, re-sample them (单采), close.

A positive case holds one re-sampling task per member, assigned to the member's village.
The village (or the township, or HQ: see screening.queries.tracing) then
- marks the member controlled (``mark_controlled``: 就地管控, 居家隔离, 集中隔离, 转运就医);
  the isolation work builds its orders on this action and its audit entry;
- links the single tube the member was re-sampled into (``record_resample``); when that
  tube's result comes in (the result import, or already there) the task is settled:
  negative or positive; an invalid or re-test result leaves it waiting for another tube;
- or records a result obtained elsewhere (``record_task_result``), or cancels the task
  with a reason (``cancel_task``).
A case closes by itself once no task is open, or by hand with a note (``close_case``).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fangkong.accounts.roles import Perm
from fangkong.core import audit
from fangkong.core.cleaning import clean_text, error
from fangkong.core.scoping import require_permission
from fangkong.screening.models import (
    POSITIVE_RESULTS,
    CaseStatus,
    ControlMeasure,
    PositiveCase,
    ResampleTask,
    Sample,
    TaskStatus,
    TestResult,
    Tube,
)
from fangkong.screening.queries.tracing import can_trace_task

OPEN_TASK_STATUSES = (TaskStatus.PENDING, TaskStatus.RESAMPLED)
TASK_FIELDS = (
    "status",
    "controlled_at",
    "controlled_by",
    "control_measure",
    "control_note",
    "resample_tube",
    "resampled_at",
)
CASE_FIELDS = ("status", "closed_at", "close_note", "member_count")


def _require_task(actor: Any, task: ResampleTask) -> None:
    if actor is not None and not can_trace_task(actor, task):
        raise PermissionDenied(_("You may not trace this person."))


def _locked(task: ResampleTask) -> ResampleTask:
    fresh = ResampleTask.objects.select_for_update().select_related("case").get(pk=task.pk)
    if fresh.case.status != CaseStatus.OPEN:
        raise error(None, _("This case is closed."))
    return fresh


def _save_task(actor: Any, task: ResampleTask, before: dict[str, Any], action: str) -> None:
    task.save(update_fields=[*TASK_FIELDS, "updated_at"])
    audit.record(actor, action, task, before=before, after=audit.snapshot(task, TASK_FIELDS))


def mark_controlled(actor: Any, task: ResampleTask, measure: str, note: str = "") -> ResampleTask:
    """Record the control measure taken for the member (管控措施); again to change it."""
    _require_task(actor, task)
    if measure not in ControlMeasure.values:
        raise error("measure", _("Choose how the person is controlled."))
    cleaned = clean_text(note, max_length=200, field="note")
    with transaction.atomic():
        task = _locked(task)
        if task.status == TaskStatus.CANCELLED:
            raise error(None, _("This task was cancelled."))
        before = audit.snapshot(task, TASK_FIELDS)
        if task.controlled_at is None:
            task.controlled_at = timezone.now()
        task.controlled_by = actor if getattr(actor, "is_authenticated", False) else None
        task.control_measure = measure
        task.control_note = cleaned
        _save_task(actor, task, before, "screening.mark_controlled")
    return task


def _task_status_for(result: str) -> str | None:
    if result == TestResult.NEGATIVE:
        return TaskStatus.NEGATIVE
    if result in POSITIVE_RESULTS:
        return TaskStatus.POSITIVE
    return None  # invalid or re-test: the member needs another tube


def record_resample(actor: Any, task: ResampleTask, tube: Tube) -> ResampleTask:
    """Link the single tube (单采) the member was re-sampled into; settle it if resulted."""
    _require_task(actor, task)
    if tube.pk == task.case.tube_id:
        raise error("tube", _("This is the positive tube itself; scan the new single tube."))
    members = list(
        Sample.objects.filter(tube=tube, removed_at__isnull=True).values_list(
            "person_id", "scanned_at"
        )
    )
    mine = [scanned for person_id, scanned in members if person_id == task.person_id]
    if not mine:
        raise error("tube", _("This person was not sampled into that tube."))
    if len(members) != 1:
        raise error(
            "tube",
            _("A re-sample is a single tube (单采); this tube holds %(count)d people.")
            % {"count": len(members)},
        )
    with transaction.atomic():
        task = _locked(task)
        if task.status not in OPEN_TASK_STATUSES:
            raise error(None, _("This task is already settled."))
        before = audit.snapshot(task, TASK_FIELDS)
        task.resample_tube = tube
        task.resampled_at = mine[0]
        task.status = TaskStatus.RESAMPLED
        _save_task(actor, task, before, "screening.record_resample")
        # The tube's own row: its result may have come in since the caller read it.
        result = Tube.objects.filter(pk=tube.pk).values_list("result", flat=True).first()
        status = _task_status_for(result) if result else None
        if status is not None:
            _settle(actor, task, status)
    return task


def _settle(actor: Any, task: ResampleTask, status: str) -> None:
    before = audit.snapshot(task, TASK_FIELDS)
    task.status = status
    _save_task(actor, task, before, "screening.settle_task")
    close_if_done(actor, task.case)


def settle_from_result(actor: Any, task: ResampleTask, result: str) -> bool:
    """The re-sample tube of ``task`` got ``result`` (called by the result import)."""
    status = _task_status_for(result)
    if status is None or task.status not in OPEN_TASK_STATUSES:
        return False
    if task.case.status != CaseStatus.OPEN:
        return False
    _settle(actor, task, status)
    return True


def record_task_result(actor: Any, task: ResampleTask, result: str) -> ResampleTask:
    """A result for the member obtained elsewhere (a hospital): negative or positive."""
    _require_task(actor, task)
    status = _task_status_for(result)
    if result not in (TestResult.NEGATIVE, TestResult.POSITIVE) or status is None:
        raise error("result", _("Choose negative or positive."))
    with transaction.atomic():
        task = _locked(task)
        if task.status not in OPEN_TASK_STATUSES:
            raise error(None, _("This task is already settled."))
        if task.resampled_at is None:
            task.resampled_at = timezone.now()
        _settle(actor, task, status)
    return task


def cancel_task(actor: Any, task: ResampleTask, note: str) -> ResampleTask:
    """Nobody is to be re-sampled (a wrong scan, a duplicate person): the reason is kept."""
    _require_task(actor, task)
    cleaned = clean_text(note, max_length=200, field="note", required=True)
    with transaction.atomic():
        task = _locked(task)
        if task.status not in OPEN_TASK_STATUSES:
            raise error(None, _("This task is already settled."))
        task.control_note = cleaned
        _settle(actor, task, TaskStatus.CANCELLED)
    return task


def _close(actor: Any, case: PositiveCase, note: str, automatic: bool) -> None:
    before = audit.snapshot(case, CASE_FIELDS)
    case.status = CaseStatus.CLOSED
    case.closed_at = timezone.now()
    case.close_note = note
    case.save(update_fields=["status", "closed_at", "close_note", "updated_at"])
    after = {**audit.snapshot(case, CASE_FIELDS), "automatic": automatic}
    audit.record(actor, "screening.close_case", case, before=before, after=after)


def close_if_done(actor: Any, case: PositiveCase) -> bool:
    """Close the case once it has tasks and none of them is open."""
    if case.status != CaseStatus.OPEN:
        return False
    tasks = ResampleTask.objects.filter(case=case)
    if not tasks.exists() or tasks.filter(status__in=OPEN_TASK_STATUSES).exists():
        return False
    _close(actor, case, _("Every member re-sampled or settled."), automatic=True)
    return True


def close_case(actor: Any, case: PositiveCase, note: str = "") -> PositiveCase:
    """Close a case by hand; with members still open the note must say why."""
    require_permission(
        actor, Perm.TRACE_POSITIVES, case.region_code, _("You may not close this case.")
    )
    cleaned = clean_text(note, max_length=200, field="note")
    with transaction.atomic():
        case = PositiveCase.objects.select_for_update().get(pk=case.pk)
        if case.status != CaseStatus.OPEN:
            raise error(None, _("This case is already closed."))
        still_open = ResampleTask.objects.filter(case=case, status__in=OPEN_TASK_STATUSES)
        if still_open.exists() and not cleaned:
            raise error(
                "note",
                _("Members are still to be re-sampled: say why the case is closed anyway."),
            )
        _close(actor, case, cleaned, automatic=False)
    return case
