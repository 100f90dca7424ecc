"""Page: the round dashboard (轮次看板): samples per hour and per site (ECharts), tubes by
state, results pending, positive cases open. Needs Perm.VIEW_SCREENING; every figure is
limited to the user's regions. While sampling, htmx refreshes the figures every minute.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path

from fangkong.accounts.roles import Perm
from fangkong.geo.views import require_anywhere
from fangkong.screening.models import RoundStatus, TestResult, TubeStatus
from fangkong.screening.queries import dashboard as queries
from fangkong.screening.queries.rounds import get_round

REFRESH_SECONDS = 60


def chart_data(board: queries.Dashboard) -> dict[str, object]:
    """What the charts draw (json_script): hour labels in local time, site bars."""
    return {
        "hours": [h.hour.strftime("%m-%d %H:00") for h in board.per_hour],
        "per_hour": [h.samples for h in board.per_hour],
        "sites": [s.name for s in board.per_site],
        "per_site": [s.samples for s in board.per_site],
    }


@require_anywhere(Perm.VIEW_SCREENING)
def dashboard_view(request: HttpRequest, pk: int) -> HttpResponse:
    round_ = get_round(request.user, pk)
    if round_ is None:
        raise Http404
    board = queries.dashboard(request.user, round_)
    context = {
        "round": round_,
        "board": board,
        "chart": chart_data(board),
        "tube_rows": [
            (status.label, board.tubes.get(status.value, 0), board.people_in_tubes.get(status, 0))
            for status in TubeStatus
        ],
        "result_rows": [
            (result.label, board.results.get(result.value, 0)) for result in TestResult
        ],
        "live": round_.status == RoundStatus.SAMPLING,
        "refresh_seconds": REFRESH_SECONDS,
    }
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "screening/dashboard/_figures.html", context)
    return render(request, "screening/dashboard/dashboard.html", context)


urlpatterns: list[URLPattern] = [
    path("rounds/<int:pk>/dashboard/", dashboard_view, name="dashboard"),
]
