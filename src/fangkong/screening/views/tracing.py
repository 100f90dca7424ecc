"""Pages: positive tracing (阳性追踪): open cases, a case's members, villages' tasks.

- ``case_list``: every open positive in the user's regions with the time since its
  result, oldest first; the table refreshes itself every 30 seconds.
- ``case_detail``: the tube's members with village, address and phone (masked; a logged
  reveal button for holders of REVEAL_IDENTITY), per member the control measure, the
  re-sample tube, a result from elsewhere or a cancellation; closing the case.
- ``task_list``: the re-sampling tasks (单采) of the user's villages, open first.
- ``tube_trace``: the members of any tube by its barcode (a positive single tube: the
  person).
Access: TRACE_POSITIVES somewhere (else 403); a case or tube with nothing in the user's
regions is a 404 (screening.queries.tracing says who sees which members). Writes go
through screening.actions.tracing; every answer to a POST is a redirect with a message.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from fangkong.accounts.roles import Perm
from fangkong.core.scoping import has_permission
from fangkong.geo.views import require_anywhere
from fangkong.screening.actions import tracing as actions
from fangkong.screening.models import CaseStatus, ControlMeasure, TaskStatus, TestResult
from fangkong.screening.queries import tracing as queries

CASES_PER_PAGE = 50
TASKS_PER_PAGE = 50
CASE_STATUSES = ("open", "closed", "all")
TASK_STATUSES = ("open", *TaskStatus.values, "all")


def _page(request: HttpRequest, queryset: Any, size: int) -> Any:
    return Paginator(queryset, size).get_page(request.GET.get("page"))


@require_GET
@require_anywhere(Perm.TRACE_POSITIVES)
def case_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status") or "open"
    if status not in CASE_STATUSES:
        status = "open"
    cases = queries.case_list_queryset(request.user, "" if status == "all" else status)
    context = {
        "page": _page(request, cases, CASES_PER_PAGE),
        "status": status,
        "statuses": [
            ("open", _("Open")),
            ("closed", _("Closed")),
            ("all", _("All")),
        ],
    }
    if request.headers.get("HX-Request"):
        return render(request, "screening/tracing/_case_rows.html", context)
    return render(request, "screening/tracing/case_list.html", context)


def _case(request: HttpRequest, pk: Any) -> Any:
    case = queries.case_for(request.user, pk)
    if case is None:
        raise Http404
    return case


def _members_context(request: HttpRequest, trace: queries.Trace) -> dict[str, Any]:
    case = trace.case
    return {
        "trace": trace,
        "case": case,
        "tube": trace.tube,
        "case_open": case is not None and case.status == CaseStatus.OPEN,
        "can_reveal": any(m.can_reveal for m in trace.members),
        "measures": ControlMeasure.choices,
        "results": [
            (TestResult.NEGATIVE, TestResult.NEGATIVE.label),
            (TestResult.POSITIVE, TestResult.POSITIVE.label),
        ],
    }


@require_GET
@require_anywhere(Perm.TRACE_POSITIVES)
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case(request, pk)
    trace = queries.trace_tube(case.tube, request.user)
    context = _members_context(request, trace)
    context["can_close"] = case.status == CaseStatus.OPEN and has_permission(
        request.user, Perm.TRACE_POSITIVES, case.region_code
    )
    context["since"] = queries.since(case.result_at)
    return render(request, "screening/tracing/case_detail.html", context)


@require_POST
@require_anywhere(Perm.TRACE_POSITIVES)
def case_reveal(request: HttpRequest, pk: int) -> HttpResponse:
    """The members in full (those the user may reveal); logged. An htmx fragment."""
    case = _case(request, pk)
    trace = queries.trace_tube(case.tube, request.user, reveal=True)
    if not trace.revealed_count:
        raise PermissionDenied
    queries.log_trace_reveal(
        request.user, trace, "screening.positivecase", case.pk, f"tube {trace.tube.barcode}"
    )
    return render(request, "screening/tracing/_members.html", _members_context(request, trace))


@require_POST
@require_anywhere(Perm.TRACE_POSITIVES)
def case_close(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case(request, pk)
    try:
        actions.close_case(request.user, case, request.POST.get("note", ""))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("The case is closed."))
    return redirect("screening:case_detail", pk=case.pk)


def _task(request: HttpRequest, pk: Any) -> Any:
    task = queries.task_for(request.user, pk)
    if task is None:
        raise Http404
    return task


def _back(request: HttpRequest, task: Any) -> HttpResponse:
    if request.POST.get("back") == "tasks":
        return redirect(reverse("screening:task_list"))
    return redirect("screening:case_detail", pk=task.case_id)


def _run(request: HttpRequest, task: Any, done: str, call: Any) -> HttpResponse:
    try:
        call()
    except ValidationError as exc:
        messages.error(request, f"{task.person.name}: {' '.join(exc.messages)}")
    except PermissionDenied:
        raise Http404 from None
    else:
        messages.success(request, f"{task.person.name}: {done}")
    return _back(request, task)


@require_POST
@require_anywhere(Perm.TRACE_POSITIVES)
def task_control(request: HttpRequest, pk: int) -> HttpResponse:
    task = _task(request, pk)
    return _run(
        request,
        task,
        _("control measure recorded."),
        lambda: actions.mark_controlled(
            request.user, task, request.POST.get("measure", ""), request.POST.get("note", "")
        ),
    )


@require_POST
@require_anywhere(Perm.TRACE_POSITIVES)
def task_resample(request: HttpRequest, pk: int) -> HttpResponse:
    task = _task(request, pk)

    def call() -> None:
        tube = queries.find_tube(request.POST.get("tube", ""))
        if tube is None:
            raise ValidationError(_("No tube with this barcode."))
        actions.record_resample(request.user, task, tube)

    return _run(request, task, _("re-sample tube recorded."), call)


@require_POST
@require_anywhere(Perm.TRACE_POSITIVES)
def task_result(request: HttpRequest, pk: int) -> HttpResponse:
    task = _task(request, pk)
    return _run(
        request,
        task,
        _("result recorded."),
        lambda: actions.record_task_result(request.user, task, request.POST.get("result", "")),
    )


@require_POST
@require_anywhere(Perm.TRACE_POSITIVES)
def task_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    task = _task(request, pk)
    return _run(
        request,
        task,
        _("task cancelled."),
        lambda: actions.cancel_task(request.user, task, request.POST.get("note", "")),
    )


@require_GET
@require_anywhere(Perm.TRACE_POSITIVES)
def task_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status") or "open"
    if status not in TASK_STATUSES:
        status = "open"
    tasks = queries.task_list_queryset(request.user, "" if status == "all" else status)
    return render(
        request,
        "screening/tracing/task_list.html",
        {
            "page": _page(request, tasks, TASKS_PER_PAGE),
            "status": status,
            "statuses": [("open", _("Open")), *TaskStatus.choices, ("all", _("All"))],
            "measures": ControlMeasure.choices,
        },
    )


@require_GET
@require_anywhere(Perm.TRACE_POSITIVES)
def tube_trace(request: HttpRequest) -> HttpResponse:
    """The members of a tube by its barcode (?barcode=); reveal=1 shows them in full."""
    barcode = request.GET.get("barcode", "")[:64]
    context: dict[str, Any] = {"barcode": barcode, "trace": None}
    if barcode.strip():
        tube = queries.find_tube(barcode)
        if tube is None:
            raise Http404
        reveal = request.GET.get("reveal") == "1"
        trace = queries.trace_tube(tube, request.user, reveal=reveal)
        visible_site = has_permission(request.user, Perm.TRACE_POSITIVES, tube.region_code)
        if not trace.members and not visible_site:
            raise Http404
        if reveal and trace.revealed_count:
            queries.log_trace_reveal(
                request.user, trace, "screening.tube", tube.pk, f"tube {trace.tube.barcode}"
            )
        context.update(_members_context(request, trace))
    return render(request, "screening/tracing/tube_trace.html", context)


urlpatterns: list[URLPattern] = [
    path("cases/", case_list, name="case_list"),
    path("cases/<int:pk>/", case_detail, name="case_detail"),
    path("cases/<int:pk>/reveal/", case_reveal, name="case_reveal"),
    path("cases/<int:pk>/close/", case_close, name="case_close"),
    path("tasks/", task_list, name="task_list"),
    path("tasks/<int:pk>/control/", task_control, name="task_control"),
    path("tasks/<int:pk>/resample/", task_resample, name="task_resample"),
    path("tasks/<int:pk>/result/", task_result, name="task_result"),
    path("tasks/<int:pk>/cancel/", task_cancel, name="task_cancel"),
    path("trace/", tube_trace, name="tube_trace"),
]
