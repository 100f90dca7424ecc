"""API: stock documents. List (filters), detail, create-and-post per kind, reverse.

A document is visible when its own region or its counterpart's is in the caller's
scope for Perm.VIEW_STOCK; otherwise 404. Posting needs Perm.POST_STOCK over the location
the document belongs to. A repeated ``Idempotency-Key`` header (or ``idempotency_key``
field) returns the document it first posted (200) instead of posting again (201).
Ledger refusals (not enough stock, a blocked lot) are 422 with the message.

No ``from __future__ import annotations``: ninja reads the schemas from the signatures.
"""

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from fangkong.accounts.roles import Perm
from fangkong.core.pagination import PageNumber
from fangkong.core.scoping import ensure_permission_somewhere
from fangkong.supplies import queries_documents as queries
from fangkong.supplies.actions.catalogue import stock_location
from fangkong.supplies.actions.documents import (
    line_from_entry,
    post_stock_document,
    reverse_document,
)
from fangkong.supplies.api.catalogue import (
    MAX_ID,
    Quantity,
    filtered,
    scoped_site,
)
from fangkong.supplies.filters import DocumentFilter
from fangkong.supplies.forms.documents import clean_key, scoped_key
from fangkong.supplies.models import DocumentKind, Item, Pack, StockDocument

router = Router(tags=["supplies"])


# --- schemas ----------------------------------------------------------------------------


class DocumentOut(Schema):
    id: int
    number: str
    kind: str
    status: str
    region_code: str
    counterpart_region_code: str
    source_id: int | None
    source_name: str
    destination_id: int | None
    destination_name: str
    effective_at: dt.datetime
    posted_at: dt.datetime | None
    receipt_source: str
    supplier: str
    recipient_kind: str
    recipient_name: str
    reason: str
    note: str
    reversal_of_id: int | None

    @staticmethod
    def resolve_source_name(obj: StockDocument) -> str:
        return queries.location_label(obj.source)

    @staticmethod
    def resolve_destination_name(obj: StockDocument) -> str:
        return queries.location_label(obj.destination)


class LineOut(Schema):
    item_id: int
    item_name: str
    base_unit: str
    lot: str
    quantity: int
    pack: str | None
    pack_count: int | None
    display: str = Field(description='"1500 套 (30 箱)"')

    @staticmethod
    def resolve_item_name(obj: Any) -> str:
        return str(obj.item)

    @staticmethod
    def resolve_base_unit(obj: Any) -> str:
        return obj.item.base_unit

    @staticmethod
    def resolve_lot(obj: Any) -> str:
        return obj.lot.code

    @staticmethod
    def resolve_pack(obj: Any) -> str | None:
        return obj.pack.name if obj.pack_id else None


class MovementOut(Schema):
    location_id: int
    location_name: str
    item_id: int
    lot: str
    quantity: int
    effective_at: dt.datetime

    @staticmethod
    def resolve_location_name(obj: Any) -> str:
        return obj.location.name

    @staticmethod
    def resolve_lot(obj: Any) -> str:
        return obj.lot.code


class DocumentDetailOut(DocumentOut):
    reversed_by_id: int | None = None
    lines: list[LineOut]
    movements: list[MovementOut]

    @staticmethod
    def resolve_reversed_by_id(obj: StockDocument) -> int | None:
        reversal = queries.reversal_of(obj)
        return reversal.pk if reversal is not None else None

    @staticmethod
    def resolve_lines(obj: StockDocument) -> list[Any]:
        return queries.lines_with_packs(obj)

    @staticmethod
    def resolve_movements(obj: StockDocument) -> list[Any]:
        return list(queries.movements_of(obj))


class DocumentQuery(Schema):
    kind: str | None = Field(None, max_length=16)
    status: str | None = Field(None, max_length=16)
    location: int | None = Field(None, ge=1, le=MAX_ID)
    item: int | None = Field(None, ge=1, le=MAX_ID)
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    number: str | None = Field(None, max_length=32)


class LineIn(Schema):
    item_id: int
    pack_id: int | None = None
    pack_count: Quantity | None = Field(None, description="number of packs")
    units: Quantity | None = Field(
        None, description="loose units; with pack_id and no pack_count, recorded as packs"
    )
    lot: str = Field("", max_length=64)
    expiry_date: dt.date | None = Field(None, description="receipts of lot-tracked items")
    note: str = Field("", max_length=200)


class DocumentIn(Schema):
    effective_at: dt.datetime | None = Field(None, description="default now")
    note: str = Field("", max_length=2000)
    idempotency_key: str | None = Field(None, description="or the Idempotency-Key header")
    lines: list[LineIn] = Field(..., max_length=50)


class ReceiptIn(DocumentIn):
    destination_site_id: int
    receipt_source: str = Field(description="purchase, donation, allocation, return")
    supplier: str = Field("", max_length=120)


class IssueIn(DocumentIn):
    source_site_id: int
    recipient_kind: str = Field("other", description="site, household, person, other")
    recipient_site_id: int | None = None
    recipient_person_id: int | None = Field(
        None, description="the person, or a member of the household"
    )
    recipient_name: str = Field("", max_length=120)


class TransferIn(DocumentIn):
    source_site_id: int
    destination_site_id: int


class AdjustmentIn(DocumentIn):
    source_site_id: int
    reason: str = Field(description="damaged, expired, lost, found")


class ReverseIn(Schema):
    note: str = Field(..., max_length=2000)
    idempotency_key: str | None = None


# --- reads ------------------------------------------------------------------------------


@router.get("/documents", response=list[DocumentOut])
@paginate(PageNumber)
def list_documents(request: HttpRequest, filters: Query[DocumentQuery]) -> Any:
    """Documents of the caller's regions, sent or received; newest first."""
    ensure_permission_somewhere(request.user, Perm.VIEW_STOCK)
    data = {k: v for k, v in filters.dict().items() if v not in (None, "")}
    return filtered(
        DocumentFilter(data, queryset=queries.list_queryset(request.user), request=request)
    )


def _document(request: HttpRequest, document_id: int) -> StockDocument:
    if not 0 < document_id <= MAX_ID:
        raise Http404
    return queries.document_or_404(request.user, document_id)


def _detail(document: StockDocument) -> StockDocument:
    return document


@router.get("/documents/{int:document_id}", response=DocumentDetailOut)
def get_document(request: HttpRequest, document_id: int) -> Any:
    ensure_permission_somewhere(request.user, Perm.VIEW_STOCK)
    return _detail(_document(request, document_id))


# --- posting ----------------------------------------------------------------------------


def _key(request: HttpRequest, payload: Any) -> str | None:
    raw = request.headers.get("Idempotency-Key") or payload.idempotency_key
    if raw is None or raw == "":
        return None
    try:
        return scoped_key(request.user, clean_key(raw))
    except ValidationError as exc:
        raise ValidationError({"idempotency_key": exc.messages}) from None


def _lines(kind: str, payload: Any, reason: str = "") -> list[Any]:
    """Every line checked; all the lines' errors reported together."""
    item_ids = {line.item_id for line in payload.lines if 0 < line.item_id <= MAX_ID}
    pack_ids = {line.pack_id for line in payload.lines if line.pack_id and line.pack_id <= MAX_ID}
    items = Item.objects.in_bulk(item_ids)
    packs = Pack.objects.in_bulk(pack_ids)
    lines, errors = [], {}
    if not payload.lines:
        raise ValidationError({"lines": [_("Add at least one line.")]})
    for index, line in enumerate(payload.lines):
        prefix = f"lines.{index}."
        item = items.get(line.item_id)
        if item is None or not item.active:
            errors[f"{prefix}item_id"] = [_("No such item in the catalogue.")]
            continue
        pack = packs.get(line.pack_id) if line.pack_id else None
        if line.pack_id and pack is None:
            errors[f"{prefix}pack_id"] = [_("No such pack.")]
            continue
        try:
            lines.append(
                line_from_entry(
                    kind=kind,
                    item=item,
                    pack=pack,
                    pack_count=line.pack_count,
                    units=line.units,
                    lot_code=line.lot,
                    expiry_date=line.expiry_date,
                    reason=reason,
                    note=line.note,
                    prefix=prefix,
                )
            )
        except ValidationError as exc:
            errors.update(
                {k: [str(m) for m in v] for k, v in exc.message_dict.items()}
                if hasattr(exc, "error_dict")
                else {f"{prefix}units": exc.messages}
            )
    if errors:
        raise ValidationError(errors)
    return lines


def _post(request: HttpRequest, kind: str, payload: Any, **header: Any) -> Any:
    ensure_permission_somewhere(request.user, Perm.POST_STOCK)
    key = _key(request, payload)
    if key is not None:
        done = StockDocument.objects.filter(idempotency_key=key).first()
        if done is not None:
            return Status(200, _detail(_document(request, done.pk)))
    lines = _lines(kind, payload, header.get("reason", ""))
    document = post_stock_document(
        kind=kind,
        actor=request.user,
        lines=lines,
        effective_at=payload.effective_at,
        note=payload.note,
        idempotency_key=key,
        **header,
    )
    return Status(201, _detail(_document(request, document.pk)))


def _location(request: HttpRequest, site_id: int, permission: str = Perm.POST_STOCK) -> Any:
    return stock_location(
        actor=request.user, site=scoped_site(request, site_id, permission), permission=permission
    )


@router.post("/documents/receipts", response={200: DocumentDetailOut, 201: DocumentDetailOut})
def post_receipt(request: HttpRequest, payload: ReceiptIn) -> Any:
    ensure_permission_somewhere(request.user, Perm.POST_STOCK)
    return _post(
        request,
        DocumentKind.RECEIPT,
        payload,
        destination=_location(request, payload.destination_site_id),
        receipt_source=payload.receipt_source,
        supplier=payload.supplier,
    )


@router.post("/documents/issues", response={200: DocumentDetailOut, 201: DocumentDetailOut})
def post_issue(request: HttpRequest, payload: IssueIn) -> Any:
    ensure_permission_somewhere(request.user, Perm.POST_STOCK)
    site = None
    if payload.recipient_site_id is not None:
        site = scoped_site(request, payload.recipient_site_id, Perm.VIEW_SITES)
    recipient = queries.resolve_recipient(
        request.user,
        payload.recipient_kind,
        site=site,
        person_id=payload.recipient_person_id,
        name=payload.recipient_name,
    )
    return _post(
        request,
        DocumentKind.ISSUE,
        payload,
        source=_location(request, payload.source_site_id),
        **recipient,
    )


@router.post("/documents/transfers", response={200: DocumentDetailOut, 201: DocumentDetailOut})
def post_transfer(request: HttpRequest, payload: TransferIn) -> Any:
    ensure_permission_somewhere(request.user, Perm.POST_STOCK)
    if payload.source_site_id == payload.destination_site_id:
        raise ValidationError(
            {"destination_site_id": [_("A transfer needs two different locations.")]}
        )
    return _post(
        request,
        DocumentKind.TRANSFER,
        payload,
        source=_location(request, payload.source_site_id),
        destination=_location(request, payload.destination_site_id, Perm.VIEW_STOCK),
    )


@router.post("/documents/adjustments", response={200: DocumentDetailOut, 201: DocumentDetailOut})
def post_adjustment(request: HttpRequest, payload: AdjustmentIn) -> Any:
    ensure_permission_somewhere(request.user, Perm.POST_STOCK)
    if payload.reason not in {"damaged", "expired", "lost", "found"}:
        raise ValidationError({"reason": [_("Choose damaged, expired, lost or found.")]})
    return _post(
        request,
        DocumentKind.ADJUSTMENT,
        payload,
        source=_location(request, payload.source_site_id),
        reason=payload.reason,
    )


@router.post(
    "/documents/{int:document_id}/reverse",
    response={200: DocumentDetailOut, 201: DocumentDetailOut},
)
def reverse(request: HttpRequest, document_id: int, payload: ReverseIn) -> Any:
    """Post the exact opposite (冲销); a note is required. Reversing twice is refused."""
    ensure_permission_somewhere(request.user, Perm.POST_STOCK)
    document = _document(request, document_id)
    key = _key(request, payload)
    if key is not None:
        done = StockDocument.objects.filter(idempotency_key=key).first()
        if done is not None:
            return Status(200, _detail(_document(request, done.pk)))
    reversal = reverse_document(
        document, actor=request.user, note=payload.note, idempotency_key=key
    )
    return Status(201, _detail(_document(request, reversal.pk)))
