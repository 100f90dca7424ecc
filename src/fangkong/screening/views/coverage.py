"""Pages: coverage of a round (应检尽检) per village, live while sampling, and the
door-to-door list of who is missing (未检人员, 敲门行动) for one village.

Coverage needs Perm.VIEW_SCREENING; rows are limited to the user's villages. The missing
list is masked; a holder of Perm.REVEAL_IDENTITY over the village may reveal it (a POST,
logged in the access log) or, holding Perm.EXPORT too, export it (logged as well).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import URLPattern, path
from django.views.decorators.http import require_http_methods

from fangkong.accounts.roles import Perm
from fangkong.core.audit import log_access
from fangkong.core.cleaning import nfkc
from fangkong.core.regioncodes import is_valid_code
from fangkong.core.scoping import has_permission
from fangkong.geo.models import Region
from fangkong.geo.views import require_anywhere
from fangkong.screening.models import Round, RoundStatus
from fangkong.screening.queries import coverage as queries
from fangkong.screening.queries.rounds import get_round

REFRESH_SECONDS = 30
REVEALED_FIELDS = ["id_number", "phone", "address"]


def _round(request: HttpRequest, pk: int) -> Round:
    found = get_round(request.user, pk)
    if found is None:
        raise Http404
    return found


def clean_area_code(raw: str) -> str | None:
    """A division code from the URL or query (full-width digits folded), else None."""
    code = nfkc(raw)[:20]
    return code if code.isascii() and is_valid_code(code) else None


@require_anywhere(Perm.VIEW_SCREENING)
def coverage_view(request: HttpRequest, pk: int) -> HttpResponse:
    round_ = _round(request, pk)
    region = clean_area_code(request.GET.get("region", "")) or ""
    by_township = request.GET.get("level") == "township"
    level = queries.TOWNSHIP_LENGTH if by_township else queries.VILLAGE_LENGTH
    result = queries.coverage(request.user, round_, region, level)
    context = {
        "round": round_,
        "coverage": result,
        "region": region,
        "by_township": by_township,
        "live": round_.status == RoundStatus.SAMPLING,
        "refresh_seconds": REFRESH_SECONDS,
        "query": request.GET.urlencode(),
    }
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "screening/coverage/_table.html", context)
    return render(request, "screening/coverage/coverage.html", context)


def _village(request: HttpRequest, code: str) -> Region:
    """The village (or village group) of the list: inside the user's regions, else 404."""
    clean = clean_area_code(code)
    if clean is None or len(clean) < queries.VILLAGE_LENGTH:
        raise Http404
    if not has_permission(request.user, Perm.VIEW_SCREENING, clean):
        raise Http404
    region = Region.objects.filter(code=clean).first()
    if region is None:
        raise Http404
    return region


@require_http_methods(["GET", "POST"])
@require_anywhere(Perm.VIEW_SCREENING)
def missing_list(request: HttpRequest, pk: int, code: str) -> HttpResponseBase:
    """GET: the masked list (or ?format=csv|xlsx: the export). POST reveal=1: unmasked."""
    round_ = _round(request, pk)
    village = _village(request, code)
    user = request.user
    fmt = request.GET.get("format", "")
    if request.method == "GET" and fmt in ("csv", "xlsx"):
        if not has_permission(user, Perm.EXPORT, village.code):
            raise PermissionDenied
        return queries.export_missing(
            user,
            round_,
            village.code,
            fmt=fmt,
            encoding=request.GET.get("encoding", "utf-8-sig"),
            reveal=request.GET.get("reveal") == "1",
        )
    can_reveal = has_permission(user, Perm.REVEAL_IDENTITY, village.code)
    revealed = request.method == "POST" and request.POST.get("reveal") == "1"
    if revealed and not can_reveal:
        raise PermissionDenied
    rows, total = queries.missing_rows(user, round_, village.code, revealed=revealed)
    if revealed:
        log_access(
            user,
            "reveal",
            object_type="screening.roundtarget",
            object_id=str(round_.pk),
            region_code=village.code,
            fields=REVEALED_FIELDS,
            row_count=len(rows),
            unmasked=True,
            detail=f"round {round_.pk} missing list {village.code}",
        )
    return render(
        request,
        "screening/coverage/missing.html",
        {
            "round": round_,
            "village": village,
            "rows": rows,
            "total": total,
            "truncated": total > len(rows),
            "revealed": revealed,
            "can_reveal": can_reveal,
            "can_export": has_permission(user, Perm.EXPORT, village.code),
        },
    )


urlpatterns: list[URLPattern] = [
    path("rounds/<int:pk>/coverage/", coverage_view, name="coverage"),
    path("rounds/<int:pk>/coverage/<str:code>/missing/", missing_list, name="missing_list"),
]
