"""API: testing rounds, coverage (应检尽检), the door-to-door list and the round dashboard,
under /api/v1/screening.

Reading needs Perm.VIEW_SCREENING over part of the round's area (a round elsewhere is a
404); planning and status changes need Perm.MANAGE_ROUNDS over the round's region (403).
Coverage, tubes and the dashboard are limited to the caller's regions. The missing list
is masked unless ``reveal=true`` by a holder of Perm.REVEAL_IDENTITY over the village;
each reveal is logged in the access log.

No ``from __future__ import annotations``: ninja reads the schemas from the signatures.
"""

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import StrictInt

from fangkong.accounts.roles import Perm
from fangkong.core.audit import log_access
from fangkong.core.cleaning import nfkc
from fangkong.core.pagination import MAX_PAGE_SIZE, PageNumber
from fangkong.core.queries import with_region_name
from fangkong.core.regioncodes import is_valid_code
from fangkong.core.scoping import has_permission, restrict
from fangkong.geo.models import Region
from fangkong.screening.actions import rounds as actions
from fangkong.screening.filters import RoundFilter, TubeFilter
from fangkong.screening.models import Round, Tube
from fangkong.screening.queries import coverage as coverage_queries
from fangkong.screening.queries import dashboard as dashboard_queries
from fangkong.screening.queries import rounds as queries

router = Router(tags=["screening"])


class ZoneOut(Schema):
    region_code: str
    region_name: str = ""
    pool_size: int
    label: str


class RoundOut(Schema):
    id: int
    name: str
    status: str
    status_label: str
    region_code: str
    region_name: str | None = None
    starts_at: dt.datetime
    ends_at: dt.datetime
    default_pool_size: int
    barcode_prefix: str
    barcode_length: int | None
    target_count: int
    target_taken_at: dt.datetime | None
    closed_at: dt.datetime | None
    notes: str

    @staticmethod
    def resolve_status_label(obj: Round) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_region_name(obj: Round) -> str | None:
        return getattr(obj, "region_name", None)


class RoundDetailOut(RoundOut):
    zones: list[ZoneOut]

    @staticmethod
    def resolve_zones(obj: Round) -> list[Any]:
        return queries.zones_of(obj)


class ZoneIn(Schema):
    region_code: str = Field(..., max_length=40, description="division code (any level)")
    pool_size: StrictInt = Field(..., description="1, 5, 10, 20, or 0: one tube per household")
    label: str = Field("", max_length=200, description="封控区 / 管控区 / 防范区 ...")


class RoundIn(Schema):
    name: str = Field(..., max_length=1000)
    starts_at: dt.datetime = Field(description="naive times are Asia/Shanghai")
    ends_at: dt.datetime
    zones: list[ZoneIn] = Field(..., max_length=actions.MAX_ZONES)
    default_pool_size: StrictInt = 10
    barcode_prefix: str = Field("", max_length=200)
    barcode_length: StrictInt | None = None
    notes: str = Field("", max_length=10_000)


class RoundPatch(Schema):
    name: str | None = Field(None, max_length=1000)
    starts_at: dt.datetime | None = None
    ends_at: dt.datetime | None = None
    zones: list[ZoneIn] | None = Field(None, max_length=actions.MAX_ZONES)
    default_pool_size: StrictInt | None = None
    barcode_prefix: str | None = Field(None, max_length=200)
    barcode_length: StrictInt | None = None
    notes: str | None = Field(None, max_length=10_000)


class RoundQuery(Schema):
    q: str | None = Field(None, max_length=64)
    status: str | None = Field(None, max_length=16)
    region: str | None = Field(None, max_length=100)


class CoverageRowOut(Schema):
    region_code: str
    region_name: str
    target: int
    sampled: int
    missing: int
    pct: float | None


class CoverageOut(Schema):
    round_id: int
    status: str
    level: str
    rows: list[CoverageRowOut]
    total: CoverageRowOut
    computed_at: dt.datetime


class CoverageQuery(Schema):
    region: str | None = Field(None, max_length=20, description="limit to a region's subtree")
    level: str = Field("village", pattern="^(village|township)$")


class MissingOut(Schema):
    person_id: int
    name: str
    sex: str
    age: int | None
    id_number: str = Field(description="masked unless revealed")
    phone: str = Field(description="masked unless revealed")
    address: str = Field(description="masked unless revealed")
    region_code: str
    region_name: str
    priority: int
    priority_label: str
    key_groups: list[str]


class MissingPage(Schema):
    count: int
    page: int
    page_size: int
    revealed: bool
    items: list[MissingOut]


class MissingQuery(Schema):
    reveal: bool = False
    page: int = Field(1, ge=1, le=1_000_000)
    page_size: int = Field(100, ge=1, le=MAX_PAGE_SIZE)


class HourOut(Schema):
    hour: str
    samples: int


class SiteOut(Schema):
    site_id: int
    name: str
    samples: int


class DashboardOut(Schema):
    round_id: int
    status: str
    samples: int
    per_hour: list[HourOut]
    per_site: list[SiteOut]
    tubes: dict[str, int]
    tubes_in_transit: int
    results: dict[str, int]
    results_pending: int
    people_pending: int
    positives_open: int
    computed_at: str


class TubeOut(Schema):
    id: int
    barcode: str
    site_id: int
    site_name: str
    region_code: str
    status: str
    capacity: int
    member_count: int
    household_mode: bool
    opened_at: dt.datetime
    closed_at: dt.datetime | None
    result: str
    result_at: dt.datetime | None

    @staticmethod
    def resolve_site_name(obj: Tube) -> str:
        return obj.site.name


class TubeQuery(Schema):
    status: str | None = Field(None, max_length=16)
    barcode: str | None = Field(None, max_length=32)


# ---------------------------------------------------------------- helpers


def _round(request: HttpRequest, round_id: int) -> Round:
    found = queries.get_round(request.user, round_id)
    if found is None:
        raise Http404
    return found


def _detail(round_id: int) -> Round:
    return with_region_name(Round.objects.filter(pk=round_id)).get()


def _require_manage(request: HttpRequest, round_: Round) -> None:
    if not has_permission(request.user, Perm.MANAGE_ROUNDS, round_.region_code):
        raise PermissionDenied


def _zones(user: Any, zones: list[ZoneIn]) -> list[actions.ZoneInput]:
    """Zones as the action takes them; a region outside the caller's scope answers like
    an unknown one (422 on the row), so the API does not confirm what exists there."""
    errors: dict[str, list[str]] = {}
    for index, zone in enumerate(zones):
        code = nfkc(zone.region_code).replace(" ", "")
        in_format = code.isascii() and is_valid_code(code)
        if in_format and not has_permission(user, Perm.MANAGE_ROUNDS, code):
            errors[f"zones.{index}.region_code"] = [
                _("No region with code %(code)s in your jurisdiction.") % {"code": code}
            ]
    if errors:
        raise ValidationError(errors)
    return [actions.ZoneInput(z.region_code, z.pool_size, z.label) for z in zones]


def _filtered(filterset: Any) -> QuerySet[Any]:
    if not filterset.is_valid():
        raise ValidationError({k: list(v) for k, v in filterset.errors.items()})
    return filterset.qs  # type: ignore[no-any-return]


# ---------------------------------------------------------------- rounds


@router.get("/rounds", response=list[RoundOut])
@paginate(PageNumber)
def list_rounds(request: HttpRequest, filters: Query[RoundQuery]) -> Any:
    """Rounds whose area overlaps the caller's regions, newest first."""
    if not has_permission(request.user, Perm.VIEW_SCREENING):
        raise PermissionDenied
    data = {k: v for k, v in filters.dict().items() if v not in (None, "")}
    queryset = with_region_name(queries.visible_rounds(request.user)).order_by("-starts_at", "-id")
    return _filtered(RoundFilter(data, queryset=queryset, request=request))


@router.post("/rounds", response={201: RoundDetailOut})
def create_round(request: HttpRequest, payload: RoundIn) -> Status[Round]:
    """Plan a round over zones (each with its pooling)."""
    if not has_permission(request.user, Perm.MANAGE_ROUNDS):
        raise PermissionDenied
    made = actions.create_round(
        actor=request.user,
        name=payload.name,
        starts_at=payload.starts_at,
        ends_at=payload.ends_at,
        zones=_zones(request.user, payload.zones),
        default_pool_size=payload.default_pool_size,
        barcode_prefix=payload.barcode_prefix,
        barcode_length=payload.barcode_length,
        notes=payload.notes,
    )
    return Status(201, _detail(made.pk))


@router.get("/rounds/{round_id}", response=RoundDetailOut)
def get_round(request: HttpRequest, round_id: int) -> Round:
    return _detail(_round(request, round_id).pk)


@router.patch("/rounds/{round_id}", response=RoundDetailOut)
def update_round(request: HttpRequest, round_id: int, payload: RoundPatch) -> Round:
    """Change a planned round; once sampling started, only name, ends_at and notes."""
    found = _round(request, round_id)
    _require_manage(request, found)
    changes = payload.dict(exclude_unset=True)
    if "zones" in changes:
        if payload.zones is None:
            raise ValidationError({"zones": [_("Choose at least one region for the round.")]})
        changes["zones"] = _zones(request.user, payload.zones)
    for key in ("name", "starts_at", "ends_at", "default_pool_size"):
        if key in changes and changes[key] is None:
            raise ValidationError({key: [_("This field cannot be empty.")]})
    actions.update_round(actor=request.user, round_=found, **changes)
    return _detail(found.pk)


@router.delete("/rounds/{round_id}", response={204: None})
def delete_round(request: HttpRequest, round_id: int) -> Any:
    """Delete a planned round (a started round is closed instead)."""
    found = _round(request, round_id)
    _require_manage(request, found)
    actions.delete_round(actor=request.user, round_=found)
    return Status(204, None)


@router.post("/rounds/{round_id}/start", response=RoundDetailOut)
def start_round(request: HttpRequest, round_id: int) -> Round:
    """planned → sampling; takes the target population (应检人员)."""
    found = _round(request, round_id)
    _require_manage(request, found)
    actions.start_sampling(actor=request.user, round_=found)
    return _detail(found.pk)


@router.post("/rounds/{round_id}/finish", response=RoundDetailOut)
def finish_round(request: HttpRequest, round_id: int, force: bool = False) -> Round:
    """sampling → awaiting results; 422 while tubes with people are open, unless
    ``?force=true`` (they are closed now)."""
    found = _round(request, round_id)
    _require_manage(request, found)
    actions.finish_sampling(actor=request.user, round_=found, force=force)
    return _detail(found.pk)


@router.post("/rounds/{round_id}/resume", response=RoundDetailOut)
def resume_round(request: HttpRequest, round_id: int) -> Round:
    """awaiting results → sampling (finished too early)."""
    found = _round(request, round_id)
    _require_manage(request, found)
    actions.resume_sampling(actor=request.user, round_=found)
    return _detail(found.pk)


@router.post("/rounds/{round_id}/close", response=RoundDetailOut)
def close_round(request: HttpRequest, round_id: int, force: bool = False) -> Round:
    """awaiting results → closed; 422 while tubes have no result, unless ``?force=true``
    (results for the round are refused afterwards)."""
    found = _round(request, round_id)
    _require_manage(request, found)
    actions.close_round(actor=request.user, round_=found, force=force)
    return _detail(found.pk)


# ---------------------------------------------------------------- coverage and dashboard


def _area_code(raw: str, field: str) -> str:
    code = nfkc(raw).replace(" ", "")[:20]
    if not (code.isascii() and is_valid_code(code)):
        raise ValidationError({field: [_("Enter a division code of 2 to 15 digits.")]})
    return code


@router.get("/rounds/{round_id}/coverage", response=CoverageOut)
def round_coverage(request: HttpRequest, round_id: int, params: Query[CoverageQuery]) -> Any:
    """Target, sampled, missing and percentage per village (or township), live."""
    found = _round(request, round_id)
    region = _area_code(params.region, "region") if params.region else ""
    township = params.level == "township"
    length = coverage_queries.TOWNSHIP_LENGTH if township else coverage_queries.VILLAGE_LENGTH
    result = coverage_queries.coverage(request.user, found, region, length)
    return {
        "round_id": found.pk,
        "status": found.status,
        "level": params.level,
        "rows": [row.as_dict() for row in result.rows],
        "total": result.total.as_dict(),
        "computed_at": result.computed_at,
    }


@router.get("/rounds/{round_id}/coverage/{village_code}/missing", response=MissingPage)
def round_missing(
    request: HttpRequest, round_id: int, village_code: str, params: Query[MissingQuery]
) -> Any:
    """Who in the village is not sampled yet, bedridden and elderly first (敲门行动)."""
    found = _round(request, round_id)
    code = nfkc(village_code)[:20]
    user = request.user
    if not (code.isascii() and is_valid_code(code) and len(code) >= 12):
        raise Http404
    if not has_permission(user, Perm.VIEW_SCREENING, code):
        raise Http404
    if not Region.objects.filter(code=code).exists():
        raise Http404
    if params.reveal and not has_permission(user, Perm.REVEAL_IDENTITY, code):
        raise PermissionDenied
    queryset = coverage_queries.missing_targets(user, found, code)
    total = queryset.count()
    offset = (params.page - 1) * params.page_size
    rows = coverage_queries.build_missing_rows(
        queryset, revealed=params.reveal, offset=offset, limit=params.page_size
    )
    items = [row.as_dict() for row in rows]
    if params.reveal:
        log_access(
            user,
            "reveal",
            object_type="screening.roundtarget",
            object_id=str(found.pk),
            region_code=code,
            fields=["id_number", "phone", "address"],
            row_count=len(items),
            unmasked=True,
            detail=f"api round {found.pk} missing list {code} page {params.page}",
        )
    return {
        "count": total,
        "page": params.page,
        "page_size": params.page_size,
        "revealed": params.reveal,
        "items": items,
    }


@router.get("/rounds/{round_id}/dashboard", response=DashboardOut)
def round_dashboard(request: HttpRequest, round_id: int) -> Any:
    """Samples per hour (local) and per site, tubes by state, results pending, positives."""
    found = _round(request, round_id)
    return dashboard_queries.dashboard(request.user, found).as_dict()


@router.get("/rounds/{round_id}/tubes", response=list[TubeOut])
@paginate(PageNumber)
def round_tubes(request: HttpRequest, round_id: int, filters: Query[TubeQuery]) -> Any:
    """The round's tubes at sites in the caller's regions, newest first."""
    found = _round(request, round_id)
    data = {k: v for k, v in filters.dict().items() if v not in (None, "")}
    tubes = restrict(
        Tube.objects.filter(round=found).select_related("site"), request.user, Perm.VIEW_SCREENING
    ).order_by("-opened_at", "-id")
    return _filtered(TubeFilter(data, queryset=tubes))
