"""API: transport boxes and lab handovers under /api/v1/screening.

Writes (``POST /boxes``, ``POST /boxes/{id}/tubes``, ``POST /boxes/{id}/remove``,
``DELETE /boxes/{id}/tubes/{barcode}``, ``POST /handovers``) need Perm.SAMPLE over the
site; reads (``GET /boxes/{id}``, ``GET /handovers``, ``GET /handovers/{id}``) need
Perm.VIEW_SCREENING. Anything outside the caller's regions is a 404. The courier's
phone is masked; ``POST /handovers/{id}/reveal`` returns it to holders of
Perm.REVEAL_IDENTITY and is logged.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import StrictInt, StrictStr

from fangkong.accounts.roles import Perm
from fangkong.core.masking import mask
from fangkong.core.pagination import PageNumber
from fangkong.core.scoping import (
    ensure_permission_somewhere,
    get_scoped_or_404,
    restrict,
)
from fangkong.screening.actions import boxes as actions
from fangkong.screening.models import Box, Handover, Tube
from fangkong.screening.queries.handovers import (
    PACKING_ROUNDS,
    get_handover,
    visible_handovers,
)
from fangkong.screening.queries.handovers import reveal_courier_phone as courier_phone_revealed
from fangkong.screening.queries.rounds import MAX_PK, sample_sites, sampling_rounds

router = Router(tags=["screening"])


class TubeBrief(Schema):
    barcode: str
    member_count: int
    status: str


class BoxOut(Schema):
    id: int
    round_id: int
    site_id: int
    barcode: str
    status: str
    tube_count: int
    handover_id: int | None
    region_code: str


class BoxDetailOut(BoxOut):
    tubes: list[TubeBrief] = []

    @staticmethod
    def resolve_tubes(obj: Box) -> list[dict[str, Any]]:
        rows = Tube.objects.filter(box=obj).order_by("barcode")
        return [dict(row) for row in rows.values("barcode", "member_count", "status")]


class BoxIn(Schema):
    round_id: StrictInt
    site_id: StrictInt
    barcode: StrictStr = Field(description="the box code as scanned; scanner noise is removed")


class TubeIn(Schema):
    tube: StrictStr = Field(description="the tube barcode as scanned")


class RemoveIn(Schema):
    tube: StrictStr
    reason: StrictStr = ""


class HandoverIn(Schema):
    boxes: list[StrictInt] = Field(description="ids of packing boxes of one site and round")
    lab_name: StrictStr
    courier_name: StrictStr
    courier_phone: StrictStr
    handed_at: dt.datetime | None = Field(None, description="default: now")


class HandoverOut(Schema):
    id: int
    round_id: int
    round_name: str = Field(alias="round.name")
    site_id: int
    site_name: str = Field(alias="site.name")
    region_code: str
    lab_name: str
    courier_name: str
    courier_phone: str = Field(description="masked: 138****5678")
    handed_at: dt.datetime
    box_count: int
    tube_count: int

    @staticmethod
    def resolve_courier_phone(obj: Handover) -> str:
        return str(mask("phone", obj.courier_phone) or "")


class HandoverDetailOut(HandoverOut):
    boxes: list[BoxDetailOut] = []

    @staticmethod
    def resolve_boxes(obj: Handover) -> list[Box]:
        return list(Box.objects.filter(handover=obj).order_by("barcode"))


class PhoneOut(Schema):
    courier_phone: str


def _pk_or_404(value: int) -> int:
    if not 0 < value <= MAX_PK:
        raise Http404
    return value


def _packing_box(request: HttpRequest, box_id: int) -> Box:
    ensure_permission_somewhere(request.user, Perm.SAMPLE)
    return get_scoped_or_404(Box.objects.all(), request.user, Perm.SAMPLE, pk=_pk_or_404(box_id))


def _box_out(box: Box) -> Box:
    box.refresh_from_db()
    return box


@router.post("/boxes", response={201: BoxDetailOut})
def create_box(request: HttpRequest, payload: BoxIn) -> Status[Box]:
    """Open a transport box at a testing site (the code is unique within the round)."""
    ensure_permission_somewhere(request.user, Perm.SAMPLE)
    site = get_scoped_or_404(
        sample_sites(request.user), request.user, Perm.SAMPLE, pk=_pk_or_404(payload.site_id)
    )
    round_ = (
        sampling_rounds(request.user, PACKING_ROUNDS)
        .filter(pk=_pk_or_404(payload.round_id))
        .first()
    )
    if round_ is None:
        raise Http404
    box = actions.create_box(actor=request.user, round_=round_, site=site, barcode=payload.barcode)
    return Status(201, box)


@router.get("/boxes/{box_id}", response=BoxDetailOut)
def get_box(request: HttpRequest, box_id: int) -> Box:
    ensure_permission_somewhere(request.user, Perm.VIEW_SCREENING)
    return get_scoped_or_404(
        Box.objects.all(), request.user, Perm.VIEW_SCREENING, pk=_pk_or_404(box_id)
    )


@router.post("/boxes/{box_id}/tubes", response=BoxDetailOut)
def add_tube(request: HttpRequest, box_id: int, payload: TubeIn) -> Box:
    """Pack a closed tube into the box."""
    box = _packing_box(request, box_id)
    actions.add_tube(actor=request.user, box=box, tube_barcode=payload.tube)
    return _box_out(box)


@router.post("/boxes/{box_id}/remove", response=BoxDetailOut)
def remove_tube(request: HttpRequest, box_id: int, payload: RemoveIn) -> Box:
    """Take a tube out of a packing box (it is closed again)."""
    box = _packing_box(request, box_id)
    actions.remove_tube(
        actor=request.user, box=box, tube_barcode=payload.tube, reason=payload.reason
    )
    return _box_out(box)


@router.delete("/boxes/{box_id}/tubes/{barcode}", response=BoxDetailOut)
def delete_tube(request: HttpRequest, box_id: int, barcode: str, reason: str = "") -> Box:
    """The same as ``POST /boxes/{id}/remove``."""
    box = _packing_box(request, box_id)
    actions.remove_tube(actor=request.user, box=box, tube_barcode=barcode, reason=reason)
    return _box_out(box)


@router.post("/handovers", response={201: HandoverDetailOut})
def create_handover(request: HttpRequest, payload: HandoverIn) -> Status[Handover]:
    """Hand boxes of one site and round to a lab: boxes handed over, tubes in transit."""
    ensure_permission_somewhere(request.user, Perm.SAMPLE)
    if len(payload.boxes) > actions.MAX_BOXES_PER_HANDOVER:
        raise ValidationError(
            {
                "boxes": [
                    _("At most %(max)d boxes per handover.")
                    % {"max": actions.MAX_BOXES_PER_HANDOVER}
                ]
            }
        )
    ids = {_pk_or_404(pk) for pk in payload.boxes}
    boxes = list(restrict(Box.objects.filter(pk__in=ids), request.user, Perm.SAMPLE))
    if len(boxes) != len(ids):
        raise Http404
    handover = actions.hand_over(
        actor=request.user,
        boxes=boxes,
        lab_name=payload.lab_name,
        courier_name=payload.courier_name,
        courier_phone=payload.courier_phone,
        handed_at=payload.handed_at,
    )
    return Status(201, get_handover(request.user, handover.pk))


@router.get("/handovers", response=list[HandoverOut])
@paginate(PageNumber)
def list_handovers(request: HttpRequest, round_id: int | None = None) -> Any:
    """Handovers in the caller's regions, newest first (?round_id= narrows to a round)."""
    ensure_permission_somewhere(request.user, Perm.VIEW_SCREENING)
    queryset = visible_handovers(request.user).select_related("round", "site")
    if round_id is not None:
        queryset = queryset.filter(round_id=round_id if 0 < round_id <= MAX_PK else 0)
    return queryset.order_by("-handed_at", "-id")


@router.get("/handovers/{handover_id}", response=HandoverDetailOut)
def get_handover_detail(request: HttpRequest, handover_id: int) -> Handover:
    ensure_permission_somewhere(request.user, Perm.VIEW_SCREENING)
    return get_handover(request.user, handover_id)


@router.post("/handovers/{handover_id}/reveal", response=PhoneOut)
def reveal_courier_phone(request: HttpRequest, handover_id: int) -> dict[str, str]:
    """The courier's phone in full; needs Perm.REVEAL_IDENTITY over the record; logged."""
    ensure_permission_somewhere(request.user, Perm.VIEW_SCREENING)
    handover = get_handover(request.user, handover_id)
    return {"courier_phone": courier_phone_revealed(request.user, handover, "api")}
