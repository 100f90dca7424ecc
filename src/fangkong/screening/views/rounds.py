"""Pages: testing rounds (检测轮次): list, plan, detail (zones, tubes, positives), edit,
start / finish / resume / close / delete. Coverage and the dashboard live in
views.coverage and views.dashboard; their URLs are added here.

Access: every page needs Perm.VIEW_SCREENING somewhere (else 403); a round whose area
does not overlap the user's regions is a 404. Planning and status changes need
Perm.MANAGE_ROUNDS over the round's region (403 otherwise). Writes go through
``screening.actions.rounds``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fangkong.accounts.roles import Perm
from fangkong.core.queries import with_region_name
from fangkong.core.scoping import has_permission, restrict
from fangkong.core.tables import paginate_table
from fangkong.geo.views import require_anywhere
from fangkong.screening.actions import rounds as actions
from fangkong.screening.filters import RoundFilter, TubeFilter
from fangkong.screening.forms.rounds import ForceForm, RoundForm
from fangkong.screening.models import CaseStatus, PositiveCase, Round, RoundStatus, Tube
from fangkong.screening.queries import rounds as queries
from fangkong.screening.tables import RoundTable, TubeTable
from fangkong.screening.views import coverage, dashboard

ROUNDS_PER_PAGE = 30
TUBES_PER_PAGE = 50
POSITIVES_SHOWN = 20


def get_round(request: HttpRequest, pk: int) -> Round:
    """The round if its area overlaps the user's regions, else 404."""
    found = queries.get_round(request.user, pk)
    if found is None:
        raise Http404
    return found


def can_manage(user: Any, round_: Round) -> bool:
    return has_permission(user, Perm.MANAGE_ROUNDS, round_.region_code)


def _require_manage(request: HttpRequest, round_: Round) -> None:
    if not can_manage(request.user, round_):
        raise PermissionDenied


@require_anywhere(Perm.VIEW_SCREENING)
def round_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    queryset = with_region_name(queries.visible_rounds(user)).order_by("-starts_at", "-id")
    round_filter = RoundFilter(request.GET or None, queryset=queryset, request=request)
    table = paginate_table(request, RoundTable(round_filter.qs), ROUNDS_PER_PAGE)
    return render(
        request,
        "screening/rounds/round_list.html",
        {
            "filter": round_filter,
            "table": table,
            "can_create": has_permission(user, Perm.MANAGE_ROUNDS),
        },
    )


def _tubes(request: HttpRequest, round_: Round) -> tuple[TubeFilter, TubeTable]:
    """The round's tubes in the user's regions: count + one page (site joined)."""
    tubes = restrict(
        Tube.objects.filter(round=round_).select_related("site"), request.user, Perm.VIEW_SCREENING
    ).order_by("-opened_at", "-id")
    tube_filter = TubeFilter(request.GET or None, queryset=tubes)
    table = paginate_table(request, TubeTable(tube_filter.qs), TUBES_PER_PAGE)
    return tube_filter, table


def _positives(request: HttpRequest, round_: Round) -> list[PositiveCase]:
    cases = restrict(
        PositiveCase.objects.filter(round=round_).select_related("tube"),
        request.user,
        Perm.VIEW_SCREENING,
    )
    return list(cases.order_by("status", "-result_at", "-id")[:POSITIVES_SHOWN])


@require_anywhere(Perm.VIEW_SCREENING)
def round_detail(request: HttpRequest, pk: int) -> HttpResponse:
    round_ = get_round(request, pk)
    user = request.user
    manage = can_manage(user, round_)
    tube_filter, tube_table = _tubes(request, round_)
    if request.htmx and request.GET.get("part") == "tubes":  # type: ignore[attr-defined]
        return render(
            request,
            "screening/rounds/_tubes.html",
            {"round": round_, "tube_filter": tube_filter, "tube_table": tube_table},
        )
    return render(
        request,
        "screening/rounds/round_detail.html",
        {
            "round": round_,
            "zones": queries.zones_of(round_),
            "tube_filter": tube_filter,
            "tube_table": tube_table,
            "positives": _positives(request, round_),
            "open_case": CaseStatus.OPEN,
            "can_manage": manage,
            "can_edit": manage and round_.status != RoundStatus.CLOSED,
            "can_sample": has_permission(user, Perm.SAMPLE)
            and round_.status == RoundStatus.SAMPLING,
            "can_trace": has_permission(user, Perm.TRACE_POSITIVES),
            "can_import": has_permission(user, Perm.IMPORT_RESULTS),
            # Packing and handing boxes over goes on after sampling finishes.
            "can_box": has_permission(user, Perm.SAMPLE)
            and round_.status in (RoundStatus.SAMPLING, RoundStatus.AWAITING_RESULTS),
            "statuses": RoundStatus,
        },
    )


@require_anywhere(Perm.MANAGE_ROUNDS)
def round_create(request: HttpRequest) -> HttpResponse:
    form = RoundForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            made = actions.create_round(actor=request.user, **form.action_values())
        except ValidationError as exc:
            form.action_errors(exc)
        except PermissionDenied:
            form.add_error(None, _("You may not run rounds over this region."))
        else:
            messages.success(request, _("Round %(name)s planned.") % {"name": made.name})
            return redirect("screening:round_detail", pk=made.pk)
    return render(
        request,
        "screening/rounds/round_form.html",
        {"form": form},
        status=422 if form.errors else 200,
    )


@require_anywhere(Perm.MANAGE_ROUNDS)
def round_edit(request: HttpRequest, pk: int) -> HttpResponse:
    round_ = get_round(request, pk)
    _require_manage(request, round_)
    if round_.status == RoundStatus.CLOSED:
        messages.error(request, _("A closed round cannot be changed."))
        return redirect("screening:round_detail", pk=pk)
    form = RoundForm(request.POST or None, user=request.user, round_=round_)
    if request.method == "POST" and form.is_valid():
        try:
            actions.update_round(actor=request.user, round_=round_, **form.action_values())
        except ValidationError as exc:
            form.action_errors(exc)
        except PermissionDenied:
            form.add_error(None, _("You may not run rounds over this region."))
        else:
            messages.success(request, _("Round saved."))
            return redirect("screening:round_detail", pk=pk)
    return render(
        request,
        "screening/rounds/round_form.html",
        {"form": form, "round": round_},
        status=422 if form.errors else 200,
    )


def _status_change(request: HttpRequest, pk: int, verb: str) -> HttpResponse:
    round_ = get_round(request, pk)
    _require_manage(request, round_)
    force_form = ForceForm(request.POST)
    force = force_form.is_valid() and bool(force_form.cleaned_data["force"])
    done = {
        "start": (lambda: actions.start_sampling(actor=request.user, round_=round_)),
        "finish": (lambda: actions.finish_sampling(actor=request.user, round_=round_, force=force)),
        "resume": (lambda: actions.resume_sampling(actor=request.user, round_=round_)),
        "close": (lambda: actions.close_round(actor=request.user, round_=round_, force=force)),
    }
    success = {
        "start": _("Sampling started: the target population is taken."),
        "finish": _("Sampling finished; the round awaits results."),
        "resume": _("The round is sampling again."),
        "close": _("Round closed."),
    }
    try:
        done[verb]()
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, success[verb])
    return redirect("screening:round_detail", pk=pk)


@require_POST
@require_anywhere(Perm.MANAGE_ROUNDS)
def round_start(request: HttpRequest, pk: int) -> HttpResponse:
    return _status_change(request, pk, "start")


@require_POST
@require_anywhere(Perm.MANAGE_ROUNDS)
def round_finish(request: HttpRequest, pk: int) -> HttpResponse:
    return _status_change(request, pk, "finish")


@require_POST
@require_anywhere(Perm.MANAGE_ROUNDS)
def round_resume(request: HttpRequest, pk: int) -> HttpResponse:
    return _status_change(request, pk, "resume")


@require_POST
@require_anywhere(Perm.MANAGE_ROUNDS)
def round_close(request: HttpRequest, pk: int) -> HttpResponse:
    return _status_change(request, pk, "close")


@require_POST
@require_anywhere(Perm.MANAGE_ROUNDS)
def round_delete(request: HttpRequest, pk: int) -> HttpResponse:
    round_ = get_round(request, pk)
    _require_manage(request, round_)
    try:
        actions.delete_round(actor=request.user, round_=round_)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        return redirect("screening:round_detail", pk=pk)
    messages.success(request, _("Round %(name)s deleted.") % {"name": round_.name})
    return redirect("screening:round_list")


urlpatterns: list[URLPattern] = [
    path("", round_list, name="round_list"),
    path("rounds/new/", round_create, name="round_create"),
    path("rounds/<int:pk>/", round_detail, name="round_detail"),
    path("rounds/<int:pk>/edit/", round_edit, name="round_edit"),
    path("rounds/<int:pk>/start/", round_start, name="round_start"),
    path("rounds/<int:pk>/finish/", round_finish, name="round_finish"),
    path("rounds/<int:pk>/resume/", round_resume, name="round_resume"),
    path("rounds/<int:pk>/close/", round_close, name="round_close"),
    path("rounds/<int:pk>/delete/", round_delete, name="round_delete"),
    *coverage.urlpatterns,
    *dashboard.urlpatterns,
]
