"""Posting stock documents: receipts, issues, transfers, adjustments, and their reversal.

Every function here is an action (DESIGN rule 2): permission-checked over the document's
region, one transaction (retried on lock errors, see ``supplies.retry``), audited. Lock
order inside the transaction: stock-take and request lines → balances (a stock document's
number takes no lasting lock: ``supplies.numbering``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fangkong.accounts.roles import Perm
from fangkong.core import audit
from fangkong.core.scoping import require_permission
from fangkong.supplies import ledger
from fangkong.supplies.models import (
    DOCUMENT_PREFIX,
    AdjustmentReason,
    DocumentKind,
    DocumentLine,
    DocumentStatus,
    Item,
    Location,
    Lot,
    Pack,
    ReceiptSource,
    RecipientKind,
    StockDocument,
    SupplyRequestLine,
)
from fangkong.supplies.numbering import next_document_number
from fangkong.supplies.quantities import MAX_QUANTITY
from fangkong.supplies.retry import with_retry

NOTE_MAX = 2000
NAME_MAX = 120
IDEMPOTENCY_KEY_MAX = 64

# Reasons that take stock away, and the one that adds it; a count difference goes both ways.
DECREASING_REASONS = {
    AdjustmentReason.DAMAGED,
    AdjustmentReason.EXPIRED,
    AdjustmentReason.LOST,
    AdjustmentReason.SHORTFALL,
}
INCREASING_REASONS = {AdjustmentReason.FOUND}


@dataclass(frozen=True)
class LineInput:
    """One line as entered. ``quantity`` is in base units (already converted from packs);
    on adjustments its sign is the direction."""

    item: Item
    lot: Lot
    quantity: int
    pack: Pack | None = None
    pack_count: int | None = None
    request_line: SupplyRequestLine | None = None
    note: str = ""


# Choices.values builds a list at each use; these are read on every posting.
_POSTABLE_KINDS = frozenset(
    k.value
    for k in (
        DocumentKind.RECEIPT,
        DocumentKind.ISSUE,
        DocumentKind.TRANSFER,
        DocumentKind.ADJUSTMENT,
    )
)
_RECEIPT_SOURCES = frozenset(ReceiptSource.values)
_RECIPIENT_KINDS = frozenset(RecipientKind.values)
_REASONS = frozenset(AdjustmentReason.values)
_PREFIX = {str(kind): prefix for kind, prefix in DOCUMENT_PREFIX.items()}


def _one_of(value: object, choices: frozenset[str]) -> bool:
    return isinstance(value, str) and value in choices


def document_region(kind: str, source: Location | None, destination: Location | None) -> str:
    """The region a document belongs to: the receiving side of a receipt, else the source."""
    owner = destination if kind == DocumentKind.RECEIPT else source
    return owner.region_code if owner is not None else ""


def _validate(
    kind: str,
    source: Location | None,
    destination: Location | None,
    lines: Sequence[LineInput],
    reason: str,
    receipt_source: str,
    recipient_kind: str,
) -> None:
    errors: dict[str, list[str]] = {}
    if not _one_of(kind, _POSTABLE_KINDS):
        raise ValidationError({"kind": _("Unknown document kind.")})
    if (
        kind in (DocumentKind.ISSUE, DocumentKind.TRANSFER, DocumentKind.ADJUSTMENT)
        and source is None
    ):
        errors.setdefault("source", []).append(_("Choose the location the goods leave."))
    if kind in (DocumentKind.RECEIPT, DocumentKind.TRANSFER) and destination is None:
        errors.setdefault("destination", []).append(
            _("Choose the location that receives the goods.")
        )
    if kind == DocumentKind.TRANSFER and source is not None and source == destination:
        errors.setdefault("destination", []).append(_("A transfer needs two different locations."))
    if kind == DocumentKind.RECEIPT and not _one_of(receipt_source, _RECEIPT_SOURCES):
        errors.setdefault("receipt_source", []).append(_("Say how the goods were received."))
    if (
        kind == DocumentKind.ISSUE
        and recipient_kind
        and not _one_of(recipient_kind, _RECIPIENT_KINDS)
    ):
        errors.setdefault("recipient_kind", []).append(_("Unknown recipient kind."))
    if kind == DocumentKind.ADJUSTMENT and not _one_of(reason, _REASONS):
        errors.setdefault("reason", []).append(_("An adjustment needs a reason."))
    for location in (source, destination):
        if location is not None and not location.active:
            errors.setdefault("__all__", []).append(
                _("%(location)s is closed for stock.") % {"location": location}
            )
    if not lines:
        errors.setdefault("lines", []).append(_("Add at least one line."))
    for index, line in enumerate(lines):
        field = f"lines.{index}.quantity"
        if line.lot.item_id != line.item.id:
            errors.setdefault(f"lines.{index}.lot", []).append(
                _("The lot belongs to another item.")
            )
        if line.quantity == 0:
            errors.setdefault(field, []).append(_("The quantity must not be zero."))
        elif abs(line.quantity) > MAX_QUANTITY:
            errors.setdefault(field, []).append(_("The quantity is too large."))
        elif kind != DocumentKind.ADJUSTMENT and line.quantity < 0:
            errors.setdefault(field, []).append(_("The quantity cannot be negative."))
        elif kind == DocumentKind.ADJUSTMENT:
            if reason in DECREASING_REASONS and line.quantity > 0:
                errors.setdefault(field, []).append(_("This reason only takes stock away."))
            if reason in INCREASING_REASONS and line.quantity < 0:
                errors.setdefault(field, []).append(_("This reason only adds stock."))
        if line.pack is not None and line.pack_count is not None:
            if line.pack.item_id != line.item.pk:
                errors.setdefault(f"lines.{index}.pack", []).append(
                    _("The pack belongs to another item.")
                )
            elif abs(line.quantity) < line.pack.size * line.pack_count:
                errors.setdefault(field, []).append(_("The quantity does not match the packs."))
        if line.request_line is not None and kind not in (
            DocumentKind.ISSUE,
            DocumentKind.TRANSFER,
        ):
            errors.setdefault(f"lines.{index}.request_line", []).append(
                _("Only issues and transfers fulfil requests.")
            )
    if errors:
        raise ValidationError(errors)


def _record_fulfilment(lines: Sequence[LineInput], sign: int) -> None:
    """Add (or, on reversal, take back) what a document issued against request lines."""
    from fangkong.supplies.actions.requests import refresh_request_status

    by_line: dict[int, int] = {}
    for line in lines:
        if line.request_line is not None:
            by_line[line.request_line.pk] = by_line.get(line.request_line.pk, 0) + abs(
                line.quantity
            )
    if not by_line:
        return
    requests = set()
    for request_line in (
        SupplyRequestLine.objects.select_for_update()
        .filter(pk__in=by_line)
        .order_by("pk")
        .select_related("item", "request")
    ):
        issued = request_line.issued + sign * by_line[request_line.pk]
        if request_line.approved is None:
            raise ValidationError(
                _("Request %(number)s is not approved yet.")
                % {"number": request_line.request.number}
            )
        if issued > request_line.approved:
            raise ValidationError(
                _(
                    "%(item)s: %(approved)s %(unit)s approved for request %(number)s, "
                    "%(issued)s %(unit)s already issued; at most %(left)s %(unit)s more."
                )
                % {
                    "item": request_line.item,
                    "approved": request_line.approved,
                    "issued": request_line.issued,
                    "left": request_line.approved - request_line.issued,
                    "unit": request_line.item.base_unit,
                    "number": request_line.request.number,
                },
                code="over_approved",
            )
        SupplyRequestLine.objects.filter(pk=request_line.pk).update(issued=max(issued, 0))
        requests.add(request_line.request)
    for request in requests:
        refresh_request_status(request)


# Every form posting asks this first; the answer is nearly always "none", so a bare
# SELECT through the key's unique index answers it, and only a hit builds the document.
# Table name from model meta, never from input.
_KEY_SQL = f"SELECT id FROM {StockDocument._meta.db_table} WHERE idempotency_key = %s"  # noqa: S608


def _existing_for_key(idempotency_key: str | None) -> StockDocument | None:
    if not idempotency_key:
        return None
    with connection.cursor() as cursor:
        cursor.execute(_KEY_SQL, [idempotency_key])
        row = cursor.fetchone()
    return StockDocument.objects.filter(pk=row[0]).first() if row is not None else None


def post_stock_document(
    *,
    kind: str,
    actor: Any,
    lines: Sequence[LineInput],
    source: Location | None = None,
    destination: Location | None = None,
    effective_at: dt.datetime | None = None,
    idempotency_key: str | None = None,
    receipt_source: str = "",
    supplier: str = "",
    donation: Any = None,
    recipient_kind: str = "",
    recipient_site: Any = None,
    recipient_household: Any = None,
    recipient_person: Any = None,
    recipient_name: str = "",
    reason: str = "",
    note: str = "",
    request: Any = None,
    delivery_run: Any = None,
    stock_count: Any = None,
    permission: str = Perm.POST_STOCK,
) -> StockDocument:
    """Create and post one document. A repeated ``idempotency_key`` returns the first one.

    Raises ValidationError (with field names) for bad input and ``ledger.InsufficientStock``
    when stock is short; PermissionDenied when the actor may not post at that location.
    """
    if idempotency_key is not None:
        idempotency_key = idempotency_key.strip()[:IDEMPOTENCY_KEY_MAX] or None
    existing = _existing_for_key(idempotency_key)
    if existing is not None:
        return existing
    # The document's own fields, gathered once (a retry re-runs _post with them).
    fields = {
        "receipt_source": receipt_source,
        "supplier": supplier,
        "donation": donation,
        "recipient_kind": recipient_kind,
        "recipient_site": recipient_site,
        "recipient_household": recipient_household,
        "recipient_person": recipient_person,
        "recipient_name": recipient_name,
        "reason": reason,
        "note": note,
        "request": request,
        "delivery_run": delivery_run,
        "stock_count": stock_count,
    }
    try:
        return _post(
            kind,
            actor,
            lines,
            source,
            destination,
            effective_at,
            idempotency_key,
            permission,
            fields,
        )
    except IntegrityError:
        # Two submissions of one form raced: the loser returns the winner's document.
        existing = _existing_for_key(idempotency_key)
        if existing is None:
            raise
        return existing


@with_retry
def _post(
    kind: str,
    actor: Any,
    lines: Sequence[LineInput],
    source: Location | None,
    destination: Location | None,
    effective_at: dt.datetime | None,
    idempotency_key: str | None,
    permission: str,
    fields: dict[str, Any],
) -> StockDocument:
    _validate(
        kind,
        source,
        destination,
        lines,
        fields["reason"],
        fields["receipt_source"],
        fields["recipient_kind"],
    )
    region_code = document_region(kind, source, destination)
    # actor None is the system (demo, CLI run by the operator, jobs).
    require_permission(actor, permission, region_code)
    counterpart = ""
    if kind == DocumentKind.TRANSFER and destination is not None:
        counterpart = destination.region_code
    elif kind == DocumentKind.ISSUE and fields.get("recipient_site") is not None:
        counterpart = fields["recipient_site"].region_code
    for name in ("supplier", "recipient_name"):
        fields[name] = (fields[name] or "").strip()[:NAME_MAX]
    fields["note"] = (fields["note"] or "").strip()[:NOTE_MAX]
    now = timezone.now()
    when = effective_at or now
    with transaction.atomic():
        if fields.get("stock_count") is not None:
            # A closed or cancelled stock-take takes no more postings.
            from fangkong.supplies.actions.counts import ensure_count_open

            ensure_count_open(fields["stock_count"])
        if any(line.request_line is not None for line in lines):
            _record_fulfilment(lines, +1)
        values = {
            "kind": kind,
            "region_code": region_code,
            "counterpart_region_code": counterpart,
            "source": source,
            "destination": destination,
            "effective_at": when,
            "idempotency_key": idempotency_key,
            "created_by": actor if getattr(actor, "is_authenticated", False) else None,
            **fields,
        }
        # Inserted already posted, numbered, with its lines, movements and audit entry:
        # the ledger's fast path (straight to the database driver, balances last).
        document, _postings = ledger.post_new_document(
            values,
            lines,
            actor=actor,
            now=now,
            prefix=_PREFIX[kind],
            audit_action=f"supplies.post_{kind}",
            audit_after=_summary(kind, source, destination, when, fields["reason"], lines),
        )
    return document


def _summary(
    kind: str,
    source: Location | None,
    destination: Location | None,
    effective_at: dt.datetime,
    reason: str,
    lines: Sequence[LineInput],
) -> dict[str, Any]:
    """What the audit entry of a posting shows ("after"), but the number: the ledger adds
    it once drawn."""
    return {
        "kind": str(kind),
        "source": source.id if source is not None else None,
        "destination": destination.id if destination is not None else None,
        "effective_at": effective_at.isoformat(),  # as the audit entry's JSON holds it
        "reason": reason,
        "lines": [
            {"item": line.item.id, "lot": line.lot.code, "quantity": line.quantity}
            for line in lines
        ],
    }


def reverse_document(
    document: StockDocument,
    *,
    actor: Any,
    note: str,
    idempotency_key: str | None = None,
) -> StockDocument:
    """Post the exact opposite of ``document`` (冲销). The original stays, marked reversed.

    A reversal cannot itself be reversed (post a new document instead), a document is
    reversed at most once, and the reversal fails like any posting if the stock it takes
    back has already gone.
    """
    existing = _existing_for_key(idempotency_key)
    if existing is not None:
        return existing
    try:
        return _reverse(document, actor=actor, note=note, idempotency_key=idempotency_key)
    except IntegrityError:
        existing = _existing_for_key(idempotency_key)
        if existing is None:
            raise ValidationError(
                _("This document has already been reversed."), code="already_reversed"
            ) from None
        return existing


@with_retry
def _reverse(
    document: StockDocument, *, actor: Any, note: str, idempotency_key: str | None
) -> StockDocument:
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": _("Say why the document is reversed.")})
    require_permission(actor, Perm.POST_STOCK, document.region_code)
    with transaction.atomic():
        # Lock the original first: two reversals of one document serialize here.
        original = StockDocument.objects.select_for_update().get(pk=document.pk)
        if original.kind == DocumentKind.REVERSAL:
            raise ValidationError(
                _("A reversal cannot be reversed; post a new document instead."),
                code="reversal_of_reversal",
            )
        if original.status == DocumentStatus.REVERSED:
            raise ValidationError(
                _("This document has already been reversed."), code="already_reversed"
            )
        if original.status != DocumentStatus.POSTED:
            raise ValidationError(_("Only a posted document can be reversed."), code="not_posted")
        if original.delivery_run_id is not None:
            raise ValidationError(
                _("This document belongs to a delivery run; correct it from the run."),
                code="run_document",
            )
        now = timezone.now()
        reversal = StockDocument.objects.create(
            number=next_document_number(DOCUMENT_PREFIX[DocumentKind.REVERSAL]),
            kind=DocumentKind.REVERSAL,
            region_code=original.region_code,
            counterpart_region_code=original.counterpart_region_code,
            source=original.source,
            destination=original.destination,
            effective_at=now,
            reversal_of=original,
            idempotency_key=idempotency_key,
            note=note[:NOTE_MAX],
            request=original.request,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        original_lines = list(original.lines.select_related("item", "lot", "request_line"))
        DocumentLine.objects.bulk_create(
            [
                DocumentLine(
                    document=reversal,
                    item=line.item,
                    lot=line.lot,
                    quantity=-line.quantity,
                    pack=line.pack,
                    pack_count=line.pack_count,
                    note=line.note,
                )
                for line in original_lines
            ]
        )
        _record_fulfilment(
            [
                LineInput(
                    item=line.item,
                    lot=line.lot,
                    quantity=line.quantity,
                    request_line=line.request_line,
                )
                for line in original_lines
            ],
            -1,
        )
        ledger.apply_postings(
            reversal, ledger.reverse_postings(original), effective_at=now, backdated=False
        )
        StockDocument.objects.filter(pk=reversal.pk).update(
            status=DocumentStatus.POSTED,
            posted_at=now,
            posted_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        StockDocument.objects.filter(pk=original.pk).update(status=DocumentStatus.REVERSED)
        reversal.status = DocumentStatus.POSTED
        audit.record(
            actor,
            "supplies.reverse_document",
            original,
            before={"status": DocumentStatus.POSTED},
            after={"status": DocumentStatus.REVERSED, "reversal": reversal.number, "note": note},
        )
    return reversal


# ---------------------------------------------------------------- entry → LineInput

# DocumentLine.pack_count is a 32-bit column on PostgreSQL.
MAX_PACK_COUNT = 2**31 - 1


def _entry_number(value: object, field: str) -> int:
    from fangkong.supplies.quantities import parse_quantity

    if value is None or (isinstance(value, str) and not value.strip()):
        return 0
    return parse_quantity(value, field=field, allow_zero=True)


def line_from_entry(
    *,
    kind: str,
    item: Item,
    pack: Pack | None = None,
    pack_count: object = None,
    units: object = None,
    lot_code: str = "",
    expiry_date: dt.date | None = None,
    reason: str = "",
    note: str = "",
    prefix: str = "",
) -> LineInput:
    """One line as a person types it (pages and API share this), checked and converted.

    Packs × size plus loose units, exactly. A pack chosen with only a units quantity
    means "record it in packs": the units must then be a whole number of packs, else
    the user is told to enter units without a pack. Receipts name (and create) a lot;
    the other kinds take a lot that exists. An adjustment's sign follows its reason.
    Errors name ``<prefix><field>``.
    """
    from fangkong.supplies.keys import default_lot, lot_for
    from fangkong.supplies.quantities import packs_exactly, to_base_units

    def error(field: str, message: str) -> ValidationError:
        return ValidationError({f"{prefix}{field}": [message]})

    if pack is not None and pack.item_id != item.pk:
        raise error("pack", _("The pack belongs to another item."))
    count = _entry_number(pack_count, f"{prefix}pack_count")
    loose = _entry_number(units, f"{prefix}units")
    if count > MAX_PACK_COUNT:
        raise error("pack_count", _("The pack count is too large."))
    if count and pack is None:
        raise error("pack", _("Choose the pack the count is in."))
    if pack is not None and not count and loose:
        count = packs_exactly(loose, pack.size, field=f"{prefix}units")
        loose = 0
    quantity = to_base_units(
        packs=count,
        pack_size=pack.size if pack is not None else None,
        units=loose,
        field=f"{prefix}units" if not count else f"{prefix}pack_count",
    )
    code = (lot_code or "").strip().upper()
    if kind == DocumentKind.RECEIPT:
        try:
            lot = lot_for(item, code, expiry_date)
        except ValidationError as exc:
            # lot_for names its own fields ("lot", "expiry_date"): put them on this line.
            if not hasattr(exc, "error_dict"):
                raise
            raise ValidationError(
                {f"{prefix}{name}": errors for name, errors in exc.error_dict.items()}
            ) from None
    elif code:
        found = Lot.objects.filter(item=item, code=code).first()
        if found is None:
            raise error("lot", _("%(item)s has no lot %(lot)s.") % {"item": item, "lot": code})
        lot = found
    elif item.tracks_lots:
        raise error("lot", _("%(item)s is tracked by lot: enter the lot number.") % {"item": item})
    else:
        lot = default_lot(item)
    if kind == DocumentKind.ADJUSTMENT and reason in DECREASING_REASONS:
        quantity = -quantity
    return LineInput(
        item=item,
        lot=lot,
        quantity=quantity,
        pack=pack if count else None,
        pack_count=count or None,
        note=(note or "").strip()[:200],
    )
