"""API: sampling at a site under /api/v1/screening (a handheld scanner app's calls).

``POST /scan`` is the hot path: one call per person scanned, answered with the outcome
the screen shows. Its statuses: 200 for every decision a scanner must display, added or
refused (``ok`` says which, ``code`` why); 403 ``not_allowed`` when the caller's roles
never allow sampling; 404 ``tube_unknown`` when the tube is absent or outside the
caller's regions (the same answer for both: nothing leaks); 401 without a login or token;
422 for a malformed body. The 403 and 404 bodies are outcomes too (``code`` and
``message`` as in every error). It costs the token lookup plus one SQL statement on
PostgreSQL (tests/screening/test_sampling_api.py pins it).

Tubes: ``POST /tubes`` opens one (201), ``GET /tubes/{barcode}`` shows it with its members
(names, masked ID numbers), ``POST /tubes/{barcode}/close`` closes it by hand,
``POST /tubes/{barcode}/capacity`` changes its pool size;
``POST /samples/{id}/remove`` takes a mis-scan out of an open tube; ``POST /walk-ins``
registers a person met at the site (201, masked; 409 when already registered). Opening,
closing, removing and registering need Perm.SAMPLE over the site (403 without it
anywhere, 404 outside the caller's regions); reading a tube needs Perm.VIEW_SCREENING.
Refused changes (closed tube, bad barcode ...) are 422 with the field and the reason.
"""

import datetime as dt
import json
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError

from fangkong.accounts.roles import Perm
from fangkong.core.cleaning import MAX_PK
from fangkong.core.masking import mask_id_number
from fangkong.core.regioncodes import upper_bound
from fangkong.core.scoping import (
    ensure_permission_somewhere,
    has_permission,
    restrict,
    scope_codes,
)
from fangkong.geo.models import Site
from fangkong.people.actions import DuplicatePerson
from fangkong.people.models import Person
from fangkong.people.queries import masked_identity
from fangkong.screening import codes
from fangkong.screening.actions import sampling as actions
from fangkong.screening.actions.scan import ScanOutcome, scan
from fangkong.screening.models import Round, Sample, Tube

router = Router(tags=["screening"])

MAX_TEXT = 512  # longer than any code, name or reason: a stuck key or a paste (422)
_SCAN_STATUS = {"not_allowed": 403, "tube_unknown": 404}


def scan_answer(outcome: ScanOutcome) -> tuple[int, bytes]:
    """The scan call's status and JSON body (also scan_route's, the lean route's)."""
    content = json.dumps(outcome.as_dict(), ensure_ascii=False).encode()
    return _SCAN_STATUS.get(outcome.code, 200), content


class ScanIn(Schema):
    tube: str = Field(max_length=MAX_TEXT, description="the tube's barcode as scanned")
    person: str = Field(
        max_length=MAX_TEXT,
        description="an ID number, a personal QR payload (FK1:...), or the last 6 ID digits",
    )
    reason: str = Field("", max_length=MAX_TEXT, description="why sample again (re-test ...)")
    name: str = Field("", max_length=MAX_TEXT, description="the name, with the last 6 digits")


class ScanOut(Schema):
    ok: bool
    level: str = Field(description="ok | warning | error")
    code: str = Field(
        description="added, tube_full_closed, already_sampled (needs_reason), in_open_tube, "
        "duplicate_in_tube, invalid_id, unknown_person (offer a walk-in), ambiguous, "
        "tube_unknown, tube_closed, tube_full, round_closed, not_allowed, other_household"
    )
    message: str
    tube_barcode: str
    tube_member_count: int
    tube_capacity: int
    tube_status: str
    person_name: str
    person_id_masked: str
    person_region: str
    person_region_name: str
    out_of_area: bool
    needs_reason: bool
    in_target: bool
    household_mode: bool
    sample_id: int | None


@router.post(
    "/scan",
    response={200: ScanOut, 403: ScanOut, 404: ScanOut},
    summary="Scan a person into a tube",
)
def scan_person(request: HttpRequest, payload: ScanIn) -> HttpResponse:
    """One scan: every check, the sample and the tube in one call (see the module doc)."""
    outcome = scan(
        actor=request.user,
        tube_barcode=payload.tube,
        person_code=payload.person,
        reason=payload.reason,
        name=payload.name,
    )
    # The outcome is flat and already JSON-safe: skip the response model's validation.
    status, content = scan_answer(outcome)
    return HttpResponse(content, content_type="application/json", status=status)


# --- tubes -----------------------------------------------------------------------------


class TubeIn(Schema):
    round: int = Field(ge=1, le=MAX_PK)
    site: int = Field(ge=1, le=MAX_PK)
    barcode: str = Field(max_length=MAX_TEXT)
    capacity: int | None = Field(
        None, ge=0, le=100, description="people per tube; 0 one household; default: the zone's"
    )
    typed: bool = Field(False, description="typed by hand, not scanned: confirm_barcode needed")
    confirm_barcode: str = Field("", max_length=MAX_TEXT)


class TubeOut(Schema):
    id: int
    barcode: str
    round_id: int
    round_name: str
    site_id: int
    site_name: str
    region_code: str
    capacity: int
    member_count: int
    household_mode: bool
    status: str
    opened_at: dt.datetime
    closed_at: dt.datetime | None

    @staticmethod
    def resolve_round_name(obj: Tube) -> str:
        return obj.round.name

    @staticmethod
    def resolve_site_name(obj: Tube) -> str:
        return obj.site.name


class MemberOut(Schema):
    sample_id: int
    name: str
    id_number: str = Field(description="masked: 410522********1234")
    region_code: str
    scanned_at: dt.datetime
    in_target: bool
    out_of_area: bool
    repeat_reason: str
    removed_at: dt.datetime | None


class TubeDetailOut(TubeOut):
    members: list[MemberOut] = []

    @staticmethod
    def resolve_members(obj: Tube) -> list[dict[str, Any]]:
        return [
            {
                "sample_id": s.pk,
                "name": s.person.name,
                "id_number": mask_id_number(s.person.id_number) if s.person.id_number else "",
                "region_code": s.region_code,
                "scanned_at": s.scanned_at,
                "in_target": s.in_target,
                "out_of_area": s.out_of_area,
                "repeat_reason": s.repeat_reason,
                "removed_at": s.removed_at,
            }
            for s in getattr(obj, "member_list", [])
        ]


def _rounds_for(user: Any) -> QuerySet[Round]:
    """Rounds whose area overlaps the regions where the user samples (a round's code is
    its township or county: under it for a village sampler, above it for a county
    officer). A round not sampling is refused by the action with a reason (422)."""
    rounds = Round.objects.all()
    prefixes = scope_codes(user, Perm.SAMPLE)
    if prefixes is None:
        return rounds
    condition = Q(pk__in=[])
    for code in prefixes:
        ancestors = [code[:n] for n in (2, 4, 6, 9, 12, 15) if n <= len(code)]
        condition |= Q(region_code__gte=code, region_code__lt=upper_bound(code))
        condition |= Q(region_code__in=ancestors)
    return rounds.filter(condition)


def _tube(request: HttpRequest, barcode: str, permission: str) -> Tube:
    clean = codes.normalize_barcode(barcode)
    tube = (
        restrict(Tube.objects.select_related("round", "site"), request.user, permission)
        .filter(barcode=clean)
        .first()
        if clean
        else None
    )
    if tube is None:
        raise Http404
    return tube


def _tube_detail(tube: Tube) -> Tube:
    tube.member_list = list(  # type: ignore[attr-defined]
        Sample.objects.filter(tube=tube).select_related("person").order_by("scanned_at", "id")
    )
    return tube


@router.post("/tubes", response={201: TubeOut})
def open_tube(request: HttpRequest, payload: TubeIn) -> Status[Tube]:
    """Open a tube at a site; capacity defaults to the pool size of the site's zone."""
    ensure_permission_somewhere(request.user, Perm.SAMPLE)
    site = restrict(Site.objects.all(), request.user, Perm.SAMPLE).filter(pk=payload.site).first()
    round_ = _rounds_for(request.user).filter(pk=payload.round).first()
    if site is None or round_ is None:
        raise Http404
    tube = actions.open_tube(
        actor=request.user,
        round_=round_,
        site=site,
        barcode=payload.barcode,
        capacity=payload.capacity,
        typed=payload.typed,
        confirm_barcode=payload.confirm_barcode,
    )
    return Status(201, Tube.objects.select_related("round", "site").get(pk=tube.pk))


@router.get("/tubes/{barcode}", response=TubeDetailOut)
def get_tube(request: HttpRequest, barcode: str) -> Tube:
    """A tube and every sample scanned into it (removed ones too, with their time)."""
    ensure_permission_somewhere(request.user, Perm.VIEW_SCREENING)
    return _tube_detail(_tube(request, barcode, Perm.VIEW_SCREENING))


@router.post("/tubes/{barcode}/close", response=TubeDetailOut)
def close_tube(request: HttpRequest, barcode: str) -> Tube:
    """Close an open tube by hand (a full tube closes itself)."""
    ensure_permission_somewhere(request.user, Perm.SAMPLE)
    tube = _tube(request, barcode, Perm.SAMPLE)
    actions.close_tube(actor=request.user, tube=tube)
    return _tube_detail(_tube(request, barcode, Perm.SAMPLE))


class CapacityIn(Schema):
    capacity: int = Field(ge=0, le=100, description="people per tube; 0 one tube per household")


@router.post("/tubes/{barcode}/capacity", response=TubeDetailOut)
def set_tube_capacity(request: HttpRequest, barcode: str, payload: CapacityIn) -> Tube:
    """Change an open tube's pool size: not below its members (at that number it closes);
    to or from one tube per household (0) only while empty."""
    ensure_permission_somewhere(request.user, Perm.SAMPLE)
    tube = _tube(request, barcode, Perm.SAMPLE)
    actions.set_tube_capacity(actor=request.user, tube=tube, capacity=payload.capacity)
    return _tube_detail(_tube(request, barcode, Perm.SAMPLE))


class RemoveIn(Schema):
    reason: str = Field(max_length=MAX_TEXT)


@router.post("/samples/{sample_id}/remove", response=TubeDetailOut)
def remove_sample(request: HttpRequest, sample_id: int, payload: RemoveIn) -> Tube:
    """Take a mis-scanned person out of a still-open tube; answers the tube."""
    ensure_permission_somewhere(request.user, Perm.SAMPLE)
    if not 0 < sample_id <= MAX_PK:
        raise Http404
    sample = (
        restrict(Sample.objects.all(), request.user, Perm.SAMPLE, field="tube__region_code")
        .filter(pk=sample_id)
        .first()
    )
    if sample is None:
        raise Http404
    actions.remove_sample(actor=request.user, sample=sample, reason=payload.reason)
    tube = Tube.objects.select_related("round", "site").get(pk=sample.tube_id)
    return _tube_detail(tube)


# --- walk-ins --------------------------------------------------------------------------


class WalkInIn(Schema):
    round: int = Field(ge=1, le=MAX_PK)
    site: int = Field(ge=1, le=MAX_PK)
    name: str = Field(max_length=MAX_TEXT)
    id_type: str = Field("mainland", max_length=32)
    id_number: str = Field(max_length=MAX_TEXT)
    phone: str = Field("", max_length=MAX_TEXT)
    region_code: str = Field(
        "", max_length=32, description="the person's village; default: the site's"
    )
    address: str = Field("", max_length=MAX_TEXT)


class WalkInOut(Schema):
    id: int
    name: str
    id_type: str
    id_number: str = Field(description="masked")
    phone: str = Field(description="masked")
    address: str = Field(description="masked")
    region_code: str
    qr_payload: str = Field(description="the personal QR code's content (FK1:...)")

    @staticmethod
    def resolve_id_number(obj: Person) -> str:
        return masked_identity(obj)["id_number"]

    @staticmethod
    def resolve_phone(obj: Person) -> str:
        return masked_identity(obj)["phone"]

    @staticmethod
    def resolve_address(obj: Person) -> str:
        return masked_identity(obj)["address"]

    @staticmethod
    def resolve_qr_payload(obj: Person) -> str:
        return codes.make_person_qr(obj.pk)


@router.post("/walk-ins", response={201: WalkInOut})
def register_walk_in(request: HttpRequest, payload: WalkInIn) -> Status[Person]:
    """Register a person met at the site who is not in the ledger; then scan them."""
    ensure_permission_somewhere(request.user, Perm.SAMPLE)
    site = restrict(Site.objects.all(), request.user, Perm.SAMPLE).filter(pk=payload.site).first()
    round_ = _rounds_for(request.user).filter(pk=payload.round).first()
    if site is None or round_ is None:
        raise Http404
    if not has_permission(request.user, Perm.SAMPLE, site.region_code):
        raise PermissionDenied
    try:
        person = actions.register_walk_in(
            actor=request.user,
            round_=round_,
            site=site,
            name=payload.name,
            id_type=payload.id_type,
            id_number=payload.id_number,
            phone=payload.phone,
            region_code=payload.region_code,
            address=payload.address,
        )
    except DuplicatePerson:
        raise HttpError(
            409, _("This person is already registered: scan their ID card instead.")
        ) from None
    return Status(201, person)
