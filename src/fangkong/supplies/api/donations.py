"""API: the donations register under /api/v1/supplies/donations.

Everything needs Perm.MANAGE_DONATIONS over the region of the unit keeping the record
(a donation outside it is a 404). The donor's phone is masked in every response;
``POST .../reveal`` returns it to holders of Perm.REVEAL_IDENTITY and is logged.
``POST .../receive`` (inbound) and ``POST .../issue`` (outbound, given from a depot) post
the catalogue lines to stock exactly once; a second call is a 409.
"""

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError
from ninja.pagination import paginate
from pydantic import StrictInt, StrictStr

from fangkong.accounts.roles import Perm
from fangkong.core.audit import log_access
from fangkong.core.masking import mask
from fangkong.core.pagination import PageNumber
from fangkong.core.scoping import ensure_permission_somewhere, has_permission
from fangkong.supplies.actions import donations as actions
from fangkong.supplies.filters_counts import DonationFilter
from fangkong.supplies.forms.donations import stock_locations
from fangkong.supplies.models import Donation, DonationDirection, Item
from fangkong.supplies.views.donations import (
    MAX_PK,
    build_export,
    donation_lines,
    get_donation,
    line_texts,
    visible_donations,
)

router = Router(tags=["supplies"])

MAX_LINES = actions.MAX_LINES


class DonationLineOut(Schema):
    id: int
    item_id: int | None
    description: str
    quantity: int
    unit: str
    pack_count: int | None
    text: str = Field(description='"210 瓶 (7 箱)"')


class DonationOut(Schema):
    id: int
    number: str
    direction: str
    status: str
    region_code: str
    donated_on: dt.date
    donor_name: str
    donor_type: str
    donor_credit_code: str
    donor_contact: str
    donor_phone: str = Field(description="masked: 138****5678")
    recipient_name: str
    recipient_type: str
    note: str
    acknowledged_at: dt.datetime | None

    @staticmethod
    def resolve_donor_phone(obj: Donation) -> str:
        return str(mask("phone", obj.donor_phone) or "")


class DonationDetailOut(DonationOut):
    lines: list[DonationLineOut] = []
    stock_document: str | None = None

    @staticmethod
    def resolve_lines(obj: Donation) -> list[dict[str, Any]]:
        return [
            {
                "id": shown.line.pk,
                "item_id": shown.line.item_id,
                "description": shown.line.description,
                "quantity": shown.line.quantity,
                "unit": shown.line.unit,
                "pack_count": shown.line.pack_count,
                "text": shown.quantity,
            }
            for shown in line_texts(donation_lines(obj))
        ]

    @staticmethod
    def resolve_stock_document(obj: Donation) -> str | None:
        document = actions.stock_document_of(obj)
        return document.number if document else None


class DonationLineIn(Schema):
    item_id: int | None = Field(None, description="a catalogue item; else describe the goods")
    description: str = ""
    quantity: StrictInt | StrictStr | None = Field(
        None, description="in the item's base unit (or `unit`)"
    )
    pack_count: StrictInt | StrictStr | None = Field(
        None, description="packs of the item's largest pack"
    )
    unit: str = Field("", description="for goods not in the catalogue")


class DonationIn(Schema):
    direction: str = Field(description="inbound (received) or outbound (given)")
    region_code: str = Field(description="region of the unit keeping the register")
    donated_on: dt.date
    donor_name: str
    donor_type: str = Field(description="enterprise, government, organization, individual")
    donor_credit_code: str = ""
    donor_contact: str = ""
    donor_phone: str = ""
    recipient_name: str
    recipient_type: str
    note: str = ""
    lines: list[DonationLineIn]


class PostStockIn(Schema):
    location_id: int
    lots: dict[str, str] = Field(
        {}, description="donation line id → lot number, for items tracked by lot"
    )


class PhoneOut(Schema):
    donor_phone: str


def _items(lines: list[DonationLineIn]) -> dict[int, Item]:
    ids = {line.item_id for line in lines if line.item_id is not None}
    if any(not 0 < pk <= MAX_PK for pk in ids):
        raise ValidationError({"lines": [_("No such item in the catalogue.")]})
    found = {item.pk: item for item in Item.objects.filter(pk__in=ids, active=True)}
    missing = [
        index
        for index, line in enumerate(lines)
        if line.item_id is not None and line.item_id not in found
    ]
    if missing:
        raise ValidationError(
            {f"lines.{i}.item_id": [_("No such item in the catalogue.")] for i in missing}
        )
    return found


@router.get("/donations", response=list[DonationOut])
@paginate(PageNumber)
def list_donations(
    request: HttpRequest,
    direction: str | None = None,
    donor_type: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    q: str | None = None,
) -> Any:
    """The register in the caller's regions, newest first."""
    ensure_permission_somewhere(request.user, Perm.MANAGE_DONATIONS)
    data = {
        k: v
        for k, v in {
            "direction": direction,
            "donor_type": donor_type,
            "date_from": date_from,
            "date_to": date_to,
            "q": q,
        }.items()
        if v not in (None, "")
    }
    filterset = DonationFilter(
        data, queryset=visible_donations(request.user).order_by("-donated_on", "-id")
    )
    if not filterset.is_valid():
        raise ValidationError({k: list(v) for k, v in filterset.errors.items()})
    return filterset.qs


@router.get("/donations/export", response={200: None})
def export_donations(request: HttpRequest) -> HttpResponseBase:
    """The filtered register as xlsx or csv (?format=, ?encoding=, list filters); phones
    masked, formulas neutralized, logged. Needs Perm.EXPORT too."""
    ensure_permission_somewhere(request.user, Perm.MANAGE_DONATIONS)
    ensure_permission_somewhere(request.user, Perm.EXPORT)
    response = build_export(request, request.GET)
    if response is None:
        raise ValidationError(_("The filter is invalid; fix it before exporting."))
    return response


@router.get("/donations/{donation_id}", response=DonationDetailOut)
def get_donation_detail(request: HttpRequest, donation_id: int) -> Donation:
    ensure_permission_somewhere(request.user, Perm.MANAGE_DONATIONS)
    return get_donation(request.user, donation_id)


@router.post("/donations", response={201: DonationDetailOut})
def create_donation(request: HttpRequest, payload: DonationIn) -> Status[Donation]:
    ensure_permission_somewhere(request.user, Perm.MANAGE_DONATIONS)
    region_code = payload.region_code.strip()[:15]
    if not has_permission(request.user, Perm.MANAGE_DONATIONS, region_code) or not region_code:
        raise Http404
    if len(payload.lines) > MAX_LINES:
        raise ValidationError({"lines": [_("At most %(max)d lines.") % {"max": MAX_LINES}]})
    items = _items(payload.lines)
    donation = actions.record_donation(
        actor=request.user,
        region_code=region_code,
        direction=payload.direction,
        donated_on=payload.donated_on,
        donor_name=payload.donor_name,
        donor_type=payload.donor_type,
        donor_credit_code=payload.donor_credit_code,
        donor_contact=payload.donor_contact,
        donor_phone=payload.donor_phone,
        recipient_name=payload.recipient_name,
        recipient_type=payload.recipient_type,
        note=payload.note,
        lines=[
            actions.DonationLineInput(
                item=items.get(line.item_id) if line.item_id is not None else None,
                description=line.description,
                quantity=line.quantity,
                pack_count=line.pack_count,
                unit=line.unit,
            )
            for line in payload.lines
        ],
    )
    return Status(201, get_donation(request.user, donation.pk))


def _post_stock(
    request: HttpRequest, donation_id: int, payload: PostStockIn, direction: str
) -> Donation:
    ensure_permission_somewhere(request.user, Perm.MANAGE_DONATIONS)
    donation = get_donation(request.user, donation_id)
    if donation.direction != direction:
        raise ValidationError(
            _("Receive donations received; issue donations given.")
            if direction == DonationDirection.INBOUND
            else _("Only a donation given can be issued from stock.")
        )
    if not has_permission(request.user, Perm.POST_STOCK):
        raise PermissionDenied
    location = (
        stock_locations(request.user).filter(pk=payload.location_id).first()
        if 0 < payload.location_id <= MAX_PK
        else None
    )
    if location is None:
        raise Http404
    lots: dict[int, str] = {}
    for key, code in payload.lots.items():
        if not key.isdigit() or not 0 < int(key) <= MAX_PK:
            raise ValidationError({"lots": [_("Lots are keyed by donation line id.")]})
        lots[int(key)] = code
    try:
        actions.post_donation_stock(
            actor=request.user, donation=donation, location=location, lot_codes=lots
        )
    except ValidationError as exc:
        if getattr(exc, "code", None) == "already_posted":
            raise HttpError(409, " ".join(exc.messages)) from None
        raise
    return get_donation(request.user, donation_id)


@router.post("/donations/{donation_id}/receive", response=DonationDetailOut)
def receive_donation(request: HttpRequest, donation_id: int, payload: PostStockIn) -> Donation:
    """Receive an inbound donation's catalogue lines into a depot (one receipt, once)."""
    return _post_stock(request, donation_id, payload, DonationDirection.INBOUND)


@router.post("/donations/{donation_id}/issue", response=DonationDetailOut)
def issue_donation(request: HttpRequest, donation_id: int, payload: PostStockIn) -> Donation:
    """Issue a donation given from a depot's stock (one issue, once)."""
    return _post_stock(request, donation_id, payload, DonationDirection.OUTBOUND)


@router.post("/donations/{donation_id}/acknowledge", response=DonationDetailOut)
def acknowledge_donation(request: HttpRequest, donation_id: int) -> Donation:
    """Mark the acknowledgement (捐赠证明) as issued; a second time is a 409."""
    ensure_permission_somewhere(request.user, Perm.MANAGE_DONATIONS)
    donation = get_donation(request.user, donation_id)
    try:
        actions.acknowledge_donation(actor=request.user, donation=donation)
    except ValidationError as exc:
        if getattr(exc, "code", None) == "already_acknowledged":
            raise HttpError(409, " ".join(exc.messages)) from None
        raise
    return get_donation(request.user, donation_id)


@router.post("/donations/{donation_id}/reveal", response=PhoneOut)
def reveal_donor_phone(request: HttpRequest, donation_id: int) -> dict[str, str]:
    ensure_permission_somewhere(request.user, Perm.MANAGE_DONATIONS)
    donation = get_donation(request.user, donation_id)
    if not has_permission(request.user, Perm.REVEAL_IDENTITY, donation.region_code):
        raise PermissionDenied
    log_access(
        request.user,
        "reveal",
        object_type="supplies.donation",
        object_id=str(donation.pk),
        region_code=donation.region_code,
        fields=["donor_phone"],
        unmasked=True,
        detail="api",
    )
    return {"donor_phone": donation.donor_phone}
