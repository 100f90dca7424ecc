"""API: positive tracing (阳性追踪) under /api/v1/screening.

GET /cases (open first, then the oldest result; ?status=open|closed), GET /cases/{id}
(the members; ?reveal=true shows identity numbers, phones and addresses to holders of
REVEAL_IDENTITY, logged), GET /tubes/{barcode}/trace (the members of any tube), GET
/tasks (re-sampling tasks of the caller's villages), POST /tasks/{id}/control,
/tasks/{id}/resample, /tasks/{id}/result, /tasks/{id}/cancel, /cases/{id}/close.
Needs TRACE_POSITIVES (403 when the role never has it); a case, task or tube with nothing
in the caller's regions is a 404 (see screening.queries.tracing).

No ``from __future__ import annotations``: ninja reads the schemas from the signatures.
"""

import datetime as dt
from typing import Any, Literal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Case, IntegerField, Value, When
from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from ninja.pagination import paginate

from fangkong.accounts.roles import Perm
from fangkong.core.cleaning import record_pk
from fangkong.core.pagination import PageNumber
from fangkong.core.scoping import ensure_permission_somewhere, has_permission
from fangkong.screening.actions import tracing as actions
from fangkong.screening.models import CaseStatus, PositiveCase, ResampleTask
from fangkong.screening.queries import tracing as queries

router = Router(tags=["screening tracing"])


class CaseOut(Schema):
    id: int
    tube_barcode: str
    round_id: int
    round_name: str
    site_name: str
    region_code: str
    region_name: str | None
    result: str
    result_label: str
    result_at: dt.datetime
    seconds_since_result: int
    status: str
    member_count: int
    tasks_open: int
    tasks_pending: int
    tasks_controlled: int

    @staticmethod
    def resolve_tube_barcode(obj: PositiveCase) -> str:
        return obj.tube.barcode

    @staticmethod
    def resolve_round_name(obj: PositiveCase) -> str:
        return obj.round.name

    @staticmethod
    def resolve_site_name(obj: PositiveCase) -> str:
        return obj.tube.site.name

    @staticmethod
    def resolve_region_name(obj: PositiveCase) -> str | None:
        return getattr(obj, "region_name", None)

    @staticmethod
    def resolve_result_label(obj: PositiveCase) -> str:
        return str(obj.get_result_display())

    @staticmethod
    def resolve_seconds_since_result(obj: PositiveCase) -> int:
        return int(queries.since(obj.result_at).total_seconds())

    @staticmethod
    def resolve_tasks_open(obj: PositiveCase) -> int:
        return int(getattr(obj, "task_open", 0))

    @staticmethod
    def resolve_tasks_pending(obj: PositiveCase) -> int:
        return int(getattr(obj, "task_pending", 0))

    @staticmethod
    def resolve_tasks_controlled(obj: PositiveCase) -> int:
        return int(getattr(obj, "task_controlled", 0))


class TaskOut(Schema):
    id: int
    case_id: int
    person_id: int
    person_name: str
    region_code: str
    region_name: str | None = None
    status: str
    status_label: str
    controlled_at: dt.datetime | None
    control_measure: str
    control_note: str
    resample_tube: str | None
    resampled_at: dt.datetime | None
    positive_tube: str

    @staticmethod
    def resolve_person_name(obj: ResampleTask) -> str:
        return obj.person.name

    @staticmethod
    def resolve_region_name(obj: ResampleTask) -> str | None:
        return getattr(obj, "region_name", None)

    @staticmethod
    def resolve_status_label(obj: ResampleTask) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_resample_tube(obj: ResampleTask) -> str | None:
        return obj.resample_tube.barcode if obj.resample_tube else None

    @staticmethod
    def resolve_positive_tube(obj: ResampleTask) -> str:
        return obj.case.tube.barcode


class OtherSampleOut(Schema):
    barcode: str
    round_name: str
    scanned_at: dt.datetime
    result: str


class MemberOut(Schema):
    person_id: int
    name: str
    id_type: str
    id_number: str
    phone: str
    address: str
    village_code: str
    village_name: str
    household: str
    key_groups: list[str]
    scanned_at: dt.datetime
    revealed: bool
    task: TaskOut | None
    other_samples: list[OtherSampleOut]


class TraceOut(Schema):
    tube_barcode: str
    round_name: str
    site_name: str
    tube_status: str
    result: str
    result_at: dt.datetime | None
    case_id: int | None
    hidden_members: int
    members: list[MemberOut]


class CaseDetailOut(CaseOut):
    close_note: str
    closed_at: dt.datetime | None
    trace: TraceOut


class CaseQuery(Schema):
    status: Literal["open", "closed", "all"] = "all"


class TaskQuery(Schema):
    status: Literal["open", "pending", "resampled", "negative", "positive", "cancelled", "all"] = (
        "open"
    )


class ControlIn(Schema):
    measure: str = Field(description="in_place, home, centralized or hospital")
    note: str = Field("", max_length=400)


class ResampleIn(Schema):
    tube_barcode: str = Field(max_length=256, description="the single tube (单采)")


class TaskResultIn(Schema):
    result: str = Field(description="negative or positive (a result obtained elsewhere)")


class NoteIn(Schema):
    note: str = Field("", max_length=400)


def _require(request: HttpRequest) -> None:
    ensure_permission_somewhere(request.user, Perm.TRACE_POSITIVES)


def _trace_out(trace: queries.Trace) -> dict[str, Any]:
    tube = trace.tube
    return {
        "tube_barcode": tube.barcode,
        "round_name": tube.round.name,
        "site_name": tube.site.name,
        "tube_status": tube.status,
        "result": tube.result,
        "result_at": tube.result_at,
        "case_id": trace.case.pk if trace.case else None,
        "hidden_members": trace.hidden,
        "members": trace.members,
    }


@router.get("/cases", response=list[CaseOut])
@paginate(PageNumber)
def list_cases(request: HttpRequest, filters: Query[CaseQuery]) -> Any:
    """Positive cases in the caller's regions: open first, then the oldest result."""
    _require(request)
    status = "" if filters.status == "all" else filters.status
    open_first = Case(
        When(status=CaseStatus.OPEN, then=Value(0)), default=Value(1), output_field=IntegerField()
    )
    return (
        queries.case_list_queryset(request.user, status)
        .annotate(open_first=open_first)
        .order_by("open_first", "result_at", "id")
    )


def _case(request: HttpRequest, case_id: int) -> PositiveCase:
    _require(request)
    if record_pk(case_id) is None:
        raise Http404
    found = queries.case_list_queryset(request.user, "").filter(pk=case_id).first()
    if found is None:
        raise Http404
    return found


@router.get("/cases/{case_id}", response=CaseDetailOut)
def get_case(request: HttpRequest, case_id: int, reveal: bool = False) -> Any:
    """A case with its members; ``reveal=true`` shows them in full (logged)."""
    case = _case(request, case_id)
    trace = queries.trace_tube(case.tube, request.user, reveal=reveal)
    if reveal and trace.revealed_count:
        queries.log_trace_reveal(
            request.user,
            trace,
            "screening.positivecase",
            case.pk,
            f"api: tube {trace.tube.barcode}",
        )
    case.trace = _trace_out(trace)  # type: ignore[attr-defined]
    return case


@router.get("/tubes/{barcode}/trace", response=TraceOut)
def trace_tube(request: HttpRequest, barcode: str, reveal: bool = False) -> Any:
    """The live members of a tube (a positive single tube: the person)."""
    _require(request)
    tube = queries.find_tube(barcode)
    if tube is None:
        raise Http404
    trace = queries.trace_tube(tube, request.user, reveal=reveal)
    if not trace.members and not has_permission(
        request.user, Perm.TRACE_POSITIVES, tube.region_code
    ):
        raise Http404
    if reveal and trace.revealed_count:
        queries.log_trace_reveal(
            request.user, trace, "screening.tube", tube.pk, f"api: tube {trace.tube.barcode}"
        )
    return _trace_out(trace)


@router.post("/cases/{case_id}/close", response=CaseOut)
def close_case(request: HttpRequest, case_id: int, payload: NoteIn) -> Any:
    case = _case(request, case_id)
    actions.close_case(request.user, case, payload.note)
    return _case(request, case_id)


@router.get("/tasks", response=list[TaskOut])
@paginate(PageNumber)
def list_tasks(request: HttpRequest, filters: Query[TaskQuery]) -> Any:
    """Re-sampling tasks of the caller's villages, pending first."""
    _require(request)
    status = "" if filters.status == "all" else filters.status
    return queries.task_list_queryset(request.user, status)


def _task(request: HttpRequest, task_id: int) -> ResampleTask:
    _require(request)
    task = queries.task_for(request.user, task_id)
    if task is None:
        raise Http404
    return task


def _act(request: HttpRequest, task_id: int, call: Any) -> ResampleTask:
    task = _task(request, task_id)
    try:
        call(task)
    except PermissionDenied:
        raise Http404 from None
    return _task(request, task_id)


@router.post("/tasks/{task_id}/control", response=TaskOut)
def control_task(request: HttpRequest, task_id: int, payload: ControlIn) -> Any:
    """Record how the member is controlled (the isolation work builds on this)."""
    return _act(
        request,
        task_id,
        lambda task: actions.mark_controlled(request.user, task, payload.measure, payload.note),
    )


@router.post("/tasks/{task_id}/resample", response=TaskOut)
def resample_task(request: HttpRequest, task_id: int, payload: ResampleIn) -> Any:
    """Link the single tube the member was re-sampled into (scanned there first)."""

    def call(task: ResampleTask) -> None:
        tube = queries.find_tube(payload.tube_barcode)
        if tube is None:
            raise ValidationError({"tube_barcode": [_("No tube with this barcode.")]})
        try:
            actions.record_resample(request.user, task, tube)
        except ValidationError as exc:
            if hasattr(exc, "error_dict") and "tube" in exc.error_dict:
                raise ValidationError({"tube_barcode": exc.error_dict["tube"]}) from None
            raise

    return _act(request, task_id, call)


@router.post("/tasks/{task_id}/result", response=TaskOut)
def task_result(request: HttpRequest, task_id: int, payload: TaskResultIn) -> Any:
    return _act(
        request,
        task_id,
        lambda task: actions.record_task_result(request.user, task, payload.result),
    )


@router.post("/tasks/{task_id}/cancel", response=TaskOut)
def cancel_task(request: HttpRequest, task_id: int, payload: NoteIn) -> Any:
    return _act(
        request, task_id, lambda task: actions.cancel_task(request.user, task, payload.note)
    )
