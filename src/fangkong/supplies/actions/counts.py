"""Stock-takes (盘点): start, count line by line, close with one adjustment, or cancel.

A count snapshots the balances of one location when it starts (``system_quantity``). A
depot keeps working while it is counted (night deliveries leave and arrive), so closing
reads the balance again (``closing_system_quantity``) and posts the difference between
what was counted and that *current* balance, never the start figure: after closing,
``Balance`` equals what was counted. Both figures stay on the lines as evidence.

A closed or cancelled count is final: no count can be entered into it and no document
can be posted against it (``ensure_count_open`` is also called by
``actions.documents.post_stock_document`` for any ``stock_count=``).

Lock order (D22): the adjustment number counter, then the count row, then balances.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fangkong.accounts.roles import Perm
from fangkong.core import audit
from fangkong.core.cleaning import clean_text
from fangkong.core.scoping import require_permission
from fangkong.supplies.actions.documents import LineInput, post_stock_document
from fangkong.supplies.keys import lot_for
from fangkong.supplies.models import (
    DOCUMENT_PREFIX,
    AdjustmentReason,
    Balance,
    CountStatus,
    DocumentKind,
    DocumentSequence,
    Item,
    ItemCategory,
    Location,
    StockCount,
    StockCountLine,
    StockDocument,
)
from fangkong.supplies.numbering import next_number
from fangkong.supplies.quantities import parse_quantity
from fangkong.supplies.retry import with_retry

COUNT_PREFIX = "PD"  # 盘点
NOTE_MAX = 2000


def _require(actor: Any, region_code: str) -> None:
    # actor None is the system (D3).
    require_permission(actor, Perm.COUNT_STOCK, region_code)


def _user(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None


def closed_message(count: StockCount) -> str:
    if count.status == CountStatus.CANCELLED:
        return _("Stock-take %(number)s was cancelled; nothing more can be entered or posted.") % {
            "number": count.number
        }
    return _("Stock-take %(number)s is closed; nothing more can be entered or posted.") % {
        "number": count.number
    }


def ensure_count_open(count: StockCount | int) -> StockCount:
    """Lock the count row and refuse anything against a count that is not open."""
    pk = count.pk if isinstance(count, StockCount) else count
    locked = StockCount.objects.select_for_update().filter(pk=pk).first()
    if locked is None:
        raise ValidationError({"stock_count": _("No such stock-take.")})
    if locked.status != CountStatus.OPEN:
        raise ValidationError(closed_message(locked), code="count_closed")
    return locked


# ------------------------------------------------------------------- start


@with_retry
def start_count(
    *, actor: Any, location: Location, category: str = "", note: str = ""
) -> StockCount:
    """Open a count at ``location``: one line per balance on hand (optionally one category).

    One open count per location: two sheets for one store would post twice.
    """
    _require(actor, location.region_code)
    if category and category not in ItemCategory.values:
        raise ValidationError({"category": _("Unknown category.")})
    if not location.active:
        raise ValidationError(
            {"location": _("%(location)s is closed for stock.") % {"location": location}}
        )
    note = clean_text(note, max_length=NOTE_MAX, field="note", multiline=True)
    with transaction.atomic():
        number = next_number(COUNT_PREFIX)
        # Serialize starts at one location on the location row.
        Location.objects.select_for_update().filter(pk=location.pk).exists()
        open_count = StockCount.objects.filter(location=location, status=CountStatus.OPEN).first()
        if open_count is not None:
            raise ValidationError(
                {
                    "location": _(
                        "Stock-take %(number)s is still open at %(location)s; "
                        "close or cancel it first."
                    )
                    % {"number": open_count.number, "location": location}
                },
                code="count_open",
            )
        now = timezone.now()
        count = StockCount.objects.create(
            number=number,
            location=location,
            region_code=location.region_code,
            started_at=now,
            started_by=_user(actor),
            note=note,
        )
        balances = Balance.objects.filter(location=location, quantity__gt=0)
        if category:
            balances = balances.filter(item__category=category)
        lines = StockCountLine.objects.bulk_create(
            [
                StockCountLine(
                    count=count, item_id=item_id, lot_id=lot_id, system_quantity=quantity
                )
                for item_id, lot_id, quantity in balances.order_by(
                    "item__category", "item__name", "lot__code"
                ).values_list("item_id", "lot_id", "quantity")
            ]
        )
        audit.record(
            actor,
            "supplies.start_count",
            count,
            after={
                "number": count.number,
                "location": location.pk,
                "category": category,
                "lines": len(lines),
            },
        )
    return count


# ------------------------------------------------------------------- counting


@with_retry
def enter_count(*, actor: Any, line: StockCountLine, counted: object) -> StockCountLine:
    """Record what was counted on one line; a line can be recounted while the count is open."""
    quantity = parse_quantity(counted, field="counted_quantity", allow_zero=True)
    count = line.count
    _require(actor, count.region_code)
    with transaction.atomic():
        ensure_count_open(count)
        current = StockCountLine.objects.select_for_update().get(pk=line.pk)
        before = current.counted_quantity
        current.counted_quantity = quantity
        current.counted_by = _user(actor)
        current.counted_at = timezone.now()
        current.save(update_fields=["counted_quantity", "counted_by", "counted_at"])
        audit.record(
            actor,
            "supplies.enter_count",
            count,
            before={"line": current.pk, "counted": before},
            after={"line": current.pk, "item": current.item_id, "counted": quantity},
        )
    return current


@with_retry
def add_count_line(
    *,
    actor: Any,
    count: StockCount,
    item: Item,
    lot_code: str = "",
    counted: object = None,
) -> StockCountLine:
    """A line for goods found that the sheet does not list (system quantity: what the
    ledger holds for that key now, usually 0)."""
    _require(actor, count.region_code)
    quantity = (
        None
        if counted in (None, "")
        else parse_quantity(counted, field="counted_quantity", allow_zero=True)
    )
    lot_code = clean_text(lot_code, max_length=64, field="lot")
    with transaction.atomic():
        ensure_count_open(count)
        lot = lot_for(item, lot_code)
        if StockCountLine.objects.filter(count=count, item=item, lot=lot).exists():
            raise ValidationError(
                {
                    "item": _("%(item)s is already on this sheet; enter its count there.")
                    % {"item": f"{item} {lot.code}".strip()}
                },
                code="duplicate_line",
            )
        system = (
            Balance.objects.filter(location_id=count.location_id, item=item, lot=lot)
            .values_list("quantity", flat=True)
            .first()
        ) or 0
        line = StockCountLine.objects.create(
            count=count,
            item=item,
            lot=lot,
            system_quantity=system,
            counted_quantity=quantity,
            counted_by=_user(actor) if quantity is not None else None,
            counted_at=timezone.now() if quantity is not None else None,
        )
        audit.record(
            actor,
            "supplies.add_count_line",
            count,
            after={"line": line.pk, "item": item.pk, "lot": lot.code, "counted": quantity},
        )
    return line


# ------------------------------------------------------------------- close, cancel


def _lock_number_counter(prefix: str) -> None:
    """Take the day's number counter row before the count row and the balances.

    On SQLite ``post_stock_document`` increments this row later in the transaction, so
    taking it first keeps the lock order every posting uses (D22). On PostgreSQL stock
    numbers come from sequences (D25) and the row only serializes the day's closes.
    """
    key = f"{prefix}{timezone.localdate():%Y%m%d}"
    DocumentSequence.objects.bulk_create([DocumentSequence(key=key)], ignore_conflicts=True)
    list(DocumentSequence.objects.select_for_update().filter(key=key).values_list("key"))


@with_retry
def close_count(
    *,
    actor: Any,
    count: StockCount,
    treat_uncounted_as_unchanged: bool = False,
    effective_at: dt.datetime | None = None,
) -> StockDocument | None:
    """Close the count and post one adjustment (counted − balance now, non-zero lines).

    Returns the adjustment, or None when everything matched. Uncounted lines refuse
    the close unless the user says they are unchanged (then they post nothing).
    """
    _require(actor, count.region_code)
    with transaction.atomic():
        _lock_number_counter(DOCUMENT_PREFIX[DocumentKind.ADJUSTMENT])
        locked = ensure_count_open(count)
        lines = list(
            StockCountLine.objects.filter(count=locked)
            .select_related("item", "lot")
            .order_by("item_id", "lot_id")
        )
        uncounted = [line for line in lines if line.counted_quantity is None]
        if uncounted and not treat_uncounted_as_unchanged:
            raise ValidationError(
                {
                    "treat_uncounted_as_unchanged": _(
                        "%(n)d of %(total)d lines are not counted yet. Count them, or "
                        "close treating the uncounted lines as unchanged."
                    )
                    % {"n": len(uncounted), "total": len(lines)}
                },
                code="uncounted",
            )
        # Lock the balances now (ledger order: item, lot within one location) so no
        # movement slips in between reading them and posting the difference.
        current = {
            (item_id, lot_id): quantity
            for item_id, lot_id, quantity in Balance.objects.select_for_update()
            .filter(location_id=locked.location_id, item_id__in={ln.item_id for ln in lines})
            .order_by("item_id", "lot_id")
            .values_list("item_id", "lot_id", "quantity")
        }
        adjustments: list[LineInput] = []
        for line in lines:
            line.closing_system_quantity = current.get((line.item_id, line.lot_id), 0)
            if line.counted_quantity is None:
                continue
            difference = line.counted_quantity - line.closing_system_quantity
            if difference:
                adjustments.append(
                    LineInput(item=line.item, lot=line.lot, quantity=difference, note=locked.number)
                )
        document = None
        if adjustments:
            document = post_stock_document(
                kind=DocumentKind.ADJUSTMENT,
                actor=actor,
                lines=adjustments,
                source=locked.location,
                reason=AdjustmentReason.COUNT,
                stock_count=locked,
                effective_at=effective_at,
                note=_("Stock-take %(number)s") % {"number": locked.number},
                idempotency_key=f"stock-count-{locked.pk}",
                permission=Perm.COUNT_STOCK,
            )
        StockCountLine.objects.bulk_update(lines, ["closing_system_quantity"])
        now = timezone.now()
        StockCount.objects.filter(pk=locked.pk).update(
            status=CountStatus.CLOSED, closed_at=now, closed_by=_user(actor)
        )
        count.status, count.closed_at = CountStatus.CLOSED, now
        audit.record(
            actor,
            "supplies.close_count",
            locked,
            before={"status": CountStatus.OPEN},
            after={
                "status": CountStatus.CLOSED,
                "adjustment": document.number if document else None,
                "uncounted_as_unchanged": len(uncounted),
                "lines": [
                    {
                        "item": line.item_id,
                        "lot": line.lot.code,
                        "system": line.system_quantity,
                        "closing_system": line.closing_system_quantity,
                        "counted": line.counted_quantity,
                    }
                    for line in lines
                ],
            },
        )
    return document


@with_retry
def cancel_count(*, actor: Any, count: StockCount, note: str = "") -> StockCount:
    """Abandon an open count: nothing is posted, the counts entered stay as evidence."""
    _require(actor, count.region_code)
    note = clean_text(note, max_length=NOTE_MAX, field="note", multiline=True)
    with transaction.atomic():
        locked = ensure_count_open(count)
        text = "\n".join(part for part in (locked.note, note) if part)[:NOTE_MAX]
        StockCount.objects.filter(pk=locked.pk).update(
            status=CountStatus.CANCELLED,
            closed_at=timezone.now(),
            closed_by=_user(actor),
            note=text,
        )
        count.status = CountStatus.CANCELLED
        audit.record(
            actor,
            "supplies.cancel_count",
            locked,
            before={"status": CountStatus.OPEN},
            after={"status": CountStatus.CANCELLED, "note": note},
        )
    return count
