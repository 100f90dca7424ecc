"""The donations register (捐赠登记), both directions, and its acknowledgement (捐赠证明).

A donation is recorded by the unit that keeps the register (``region_code``, where the
user holds Perm.MANAGE_DONATIONS). An inbound donation's catalogue lines can be received
into a depot (one receipt, exactly once); an outbound one records what a unit gave, and
only when the giver is a depot are its catalogue lines issued from stock (one issue,
exactly once). Goods outside the catalogue are described in words and never posted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from stdnum.cn import uscc
from stdnum.exceptions import InvalidChecksum
from stdnum.exceptions import ValidationError as StdnumError

from fangkong.accounts.roles import Perm
from fangkong.core import audit
from fangkong.core.cleaning import clean_phone, clean_text, nfkc
from fangkong.core.scoping import require_permission
from fangkong.supplies.actions.documents import LineInput, post_stock_document
from fangkong.supplies.keys import default_lot, lot_for
from fangkong.supplies.models import (
    DocumentKind,
    Donation,
    DonationDirection,
    DonationLine,
    DonationStatus,
    Item,
    Location,
    Lot,
    Pack,
    PartyType,
    ReceiptSource,
    RecipientKind,
    StockDocument,
)
from fangkong.supplies.numbering import next_number
from fangkong.supplies.quantities import MAX_QUANTITY, parse_quantity

DONATION_PREFIX = "JZ"  # 捐赠
NAME_MAX = 120
CONTACT_MAX = 64
NOTE_MAX = 2000
DESCRIPTION_MAX = 120
UNIT_MAX = 8
MAX_LINES = 200
# DonationLine.pack_count is a 32-bit column on PostgreSQL.
MAX_PACK_COUNT = 2**31 - 1


def clean_credit_code(value: Any, field: str = "donor_credit_code") -> str:
    """A unified social credit code (统一社会信用代码), or "" when none is given.

    Full-width characters, lower case, spaces and dashes are folded; the 18th character
    is a check digit, so a mistyped code is caught here rather than on the certificate.
    """
    text = nfkc(value)
    if not text:
        return ""
    code = uscc.compact(text).upper()
    try:
        return str(uscc.validate(code))
    except InvalidChecksum:
        raise ValidationError(
            {
                field: [
                    _(
                        "The unified social credit code %(code)s has a wrong check character "
                        "(the last one); check it against the business licence."
                    )
                    % {"code": code[:18]}
                ]
            }
        ) from None
    except StdnumError:
        raise ValidationError(
            {
                field: [
                    _(
                        "A unified social credit code has 18 characters, digits and capital "
                        "letters, such as 91410500MA44XXXXXX."
                    )
                ]
            }
        ) from None


@dataclass(frozen=True)
class DonationLineInput:
    """One line as entered: a catalogue item (units and/or packs of ``pack``) or a free
    description with a quantity and a unit."""

    item: Item | None = None
    description: str = ""
    quantity: object = None  # units (base units of the item, or ``unit``)
    pack: Pack | None = None
    pack_count: object = None
    unit: str = ""


def _number_or_zero(value: object, field: str) -> int:
    if value is None or (isinstance(value, str) and not value.strip()):
        return 0
    return parse_quantity(value, field=field, allow_zero=True)


def _clean_line(index: int, line: DonationLineInput) -> DonationLine:
    prefix = f"lines.{index}."
    description = clean_text(
        line.description, max_length=DESCRIPTION_MAX, field=f"{prefix}description"
    )
    units = _number_or_zero(line.quantity, f"{prefix}quantity")
    packs = _number_or_zero(line.pack_count, f"{prefix}pack_count")
    if line.item is None:
        if not description:
            raise ValidationError(
                {f"{prefix}item": [_("Choose an item, or describe goods not in the catalogue.")]}
            )
        if packs or line.pack is not None:
            raise ValidationError(
                {f"{prefix}pack_count": [_("Packs apply to catalogue items only.")]}
            )
        unit = clean_text(line.unit, max_length=UNIT_MAX, field=f"{prefix}unit")
        if not unit:
            raise ValidationError({f"{prefix}unit": [_("Give the unit (个, 箱, 袋...).")]})
        if not units:
            raise ValidationError({f"{prefix}quantity": [_("Enter a quantity.")]})
        return DonationLine(description=description, quantity=units, unit=unit)
    pack = line.pack
    if packs and pack is None:
        pack = max(line.item.packs.all(), key=lambda p: p.size, default=None)
        if pack is None:
            raise ValidationError(
                {
                    f"{prefix}pack_count": [
                        _("%(item)s has no pack; enter the quantity in %(unit)s.")
                        % {"item": line.item, "unit": line.item.base_unit}
                    ]
                }
            )
    if pack is not None and pack.item_id != line.item.pk:
        raise ValidationError({f"{prefix}pack": [_("The pack belongs to another item.")]})
    if packs > MAX_PACK_COUNT:
        raise ValidationError({f"{prefix}pack_count": [_("The quantity is too large.")]})
    total = units + (packs * pack.size if packs and pack is not None else 0)
    if total <= 0:
        raise ValidationError({f"{prefix}quantity": [_("Enter a quantity in units or packs.")]})
    if total > MAX_QUANTITY:
        raise ValidationError({f"{prefix}quantity": [_("The quantity is too large.")]})
    return DonationLine(
        item=line.item,
        description=description,
        quantity=total,
        unit=line.item.base_unit,
        pack=pack if packs else None,
        pack_count=packs or None,
    )


def _clean_lines(lines: Sequence[DonationLineInput]) -> list[DonationLine]:
    if not lines:
        raise ValidationError({"lines": [_("Add at least one line.")]})
    if len(lines) > MAX_LINES:
        raise ValidationError({"lines": [_("At most %(max)d lines.") % {"max": MAX_LINES}]})
    cleaned: list[DonationLine] = []
    errors: dict[str, list[Any]] = {}
    seen: dict[tuple[Any, str], int] = {}
    for index, line in enumerate(lines):
        try:
            row = _clean_line(index, line)
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                errors.setdefault(field, []).extend(messages)
            continue
        key = (row.item_id, row.description if row.item_id is None else "")
        if key in seen:
            errors.setdefault(f"lines.{index}.item", []).append(
                _("This is the same goods as line %(n)d; add the quantities there.")
                % {"n": seen[key] + 1}
            )
            continue
        seen[key] = index
        cleaned.append(row)
    if errors:
        raise ValidationError(errors)
    return cleaned


def _choice(value: str, choices: Any, field: str) -> str:
    if value not in choices.values:
        raise ValidationError({field: [_("Choose one of the listed values.")]})
    return value


def _require(actor: Any, region_code: str) -> None:
    require_permission(actor, Perm.MANAGE_DONATIONS, region_code)


@transaction.atomic
def record_donation(
    *,
    actor: Any,
    region_code: str,
    direction: str,
    donated_on: dt.date,
    donor_name: str,
    donor_type: str,
    recipient_name: str,
    recipient_type: str,
    lines: Sequence[DonationLineInput],
    donor_credit_code: str = "",
    donor_contact: str = "",
    donor_phone: str = "",
    note: str = "",
) -> Donation:
    """Register a donation received or given by the unit of ``region_code``."""
    _require(actor, region_code)
    errors: dict[str, list[Any]] = {}

    def collect(function: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                errors.setdefault(field, []).extend(messages)
            return None

    values = {
        "direction": collect(_choice, direction, DonationDirection, "direction"),
        "donor_type": collect(_choice, donor_type, PartyType, "donor_type"),
        "recipient_type": collect(_choice, recipient_type, PartyType, "recipient_type"),
        "donor_name": collect(
            clean_text, donor_name, max_length=NAME_MAX, field="donor_name", required=True
        ),
        "recipient_name": collect(
            clean_text, recipient_name, max_length=NAME_MAX, field="recipient_name", required=True
        ),
        "donor_credit_code": collect(clean_credit_code, donor_credit_code),
        "donor_contact": collect(
            clean_text, donor_contact, max_length=CONTACT_MAX, field="donor_contact"
        ),
        "donor_phone": collect(clean_phone, donor_phone, field="donor_phone"),
        "note": collect(clean_text, note, max_length=NOTE_MAX, field="note", multiline=True),
    }
    if not isinstance(donated_on, dt.date):
        errors.setdefault("donated_on", []).append(_("Enter a valid date."))
    elif donated_on > timezone.localdate():
        errors.setdefault("donated_on", []).append(_("The date cannot be in the future."))
    rows = collect(_clean_lines, lines)
    if errors:
        raise ValidationError(errors)
    donation = Donation.objects.create(
        number=next_number(DONATION_PREFIX),
        region_code=region_code,
        donated_on=donated_on,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
        **values,
    )
    for row in rows:
        row.donation = donation
    DonationLine.objects.bulk_create(rows)
    audit.record(
        actor,
        "supplies.record_donation",
        donation,
        after={
            **audit.snapshot(donation, ["number", "direction", "donated_on", "donor_name"]),
            "recipient_name": donation.recipient_name,
            "lines": [
                {"item": r.item_id, "description": r.description, "quantity": r.quantity}
                for r in rows
            ],
        },
    )
    return donation


def stock_document_of(donation: Donation) -> StockDocument | None:
    """The receipt (inbound) or issue (outbound) this donation was posted as, if any."""
    return donation.documents.filter(idempotency_key=_stock_key(donation)).first()


def _stock_key(donation: Donation) -> str:
    return f"donation-{donation.pk}"


def post_donation_stock(
    *,
    actor: Any,
    donation: Donation,
    location: Location,
    lot_codes: Mapping[int, str] | None = None,
    effective_at: dt.datetime | None = None,
) -> StockDocument:
    """Receive an inbound donation into ``location`` (a receipt), or issue an outbound
    one given from a depot (an issue): its catalogue lines, exactly once.

    ``lot_codes`` maps donation line ids to lot numbers, needed for items tracked by lot.
    Needs Perm.MANAGE_DONATIONS over the donation and Perm.POST_STOCK at the location.
    """
    _require(actor, donation.region_code)
    if donation.status == DonationStatus.CANCELLED:
        raise ValidationError(_("This donation was cancelled."), code="cancelled")
    existing = stock_document_of(donation)
    if existing is not None:
        raise ValidationError(
            _("Donation %(number)s is already posted to stock as %(document)s.")
            % {"number": donation.number, "document": existing.number},
            code="already_posted",
        )
    catalogue = list(
        donation.lines.filter(item__isnull=False).select_related("item", "pack").order_by("id")
    )
    if not catalogue:
        raise ValidationError(
            _("No line of this donation is a catalogue item; there is nothing to post."),
            code="nothing_to_post",
        )
    inbound = donation.direction == DonationDirection.INBOUND
    kind = DocumentKind.RECEIPT if inbound else DocumentKind.ISSUE
    codes = lot_codes or {}
    lines: list[LineInput] = []
    errors: dict[str, list[Any]] = {}
    for row in catalogue:
        assert row.item is not None
        code = clean_text(codes.get(row.pk, ""), max_length=64, field=f"lots.{row.pk}")
        try:
            if inbound:
                lot = lot_for(row.item, code)
            elif code:
                found = Lot.objects.filter(item=row.item, code=code.upper()).first()
                if found is None:
                    raise ValidationError(
                        _("%(item)s has no lot %(lot)s.") % {"item": row.item, "lot": code}
                    )
                lot = found
            elif row.item.tracks_lots:
                raise ValidationError(
                    _("%(item)s is tracked by lot: enter the lot number.") % {"item": row.item}
                )
            else:
                lot = default_lot(row.item)
        except ValidationError as exc:
            errors.setdefault(f"lots.{row.pk}", []).extend(exc.messages)
            continue
        lines.append(
            LineInput(
                item=row.item,
                lot=lot,
                quantity=row.quantity,
                pack=row.pack,
                pack_count=row.pack_count,
                note=donation.number,
            )
        )
    if errors:
        raise ValidationError(errors)
    document = post_stock_document(
        kind=kind,
        actor=actor,
        lines=lines,
        source=None if inbound else location,
        destination=location if inbound else None,
        effective_at=effective_at,
        idempotency_key=_stock_key(donation),
        receipt_source=ReceiptSource.DONATION if inbound else "",
        supplier=donation.donor_name if inbound else "",
        recipient_kind="" if inbound else RecipientKind.OTHER,
        recipient_name="" if inbound else donation.recipient_name,
        donation=donation,
        note=_("Donation %(number)s") % {"number": donation.number},
    )
    if document.donation_id != donation.pk:  # the key was taken by something else
        raise ValidationError(_("This donation cannot be posted twice."), code="already_posted")
    audit.record(
        actor,
        "supplies.post_donation_stock",
        donation,
        after={"document": document.number, "location": location.pk, "kind": kind},
    )
    return document


@transaction.atomic
def acknowledge_donation(*, actor: Any, donation: Donation) -> Donation:
    """Mark the acknowledgement (捐赠证明) as issued: once, with the time, audited."""
    _require(actor, donation.region_code)
    locked = Donation.objects.select_for_update().get(pk=donation.pk)
    if locked.status == DonationStatus.CANCELLED:
        raise ValidationError(_("This donation was cancelled."), code="cancelled")
    if locked.acknowledged_at is not None:
        raise ValidationError(
            _("The acknowledgement was already issued on %(date)s.")
            % {"date": timezone.localtime(locked.acknowledged_at).strftime("%Y-%m-%d %H:%M")},
            code="already_acknowledged",
        )
    now = timezone.now()
    Donation.objects.filter(pk=locked.pk).update(
        acknowledged_at=now, status=DonationStatus.ACKNOWLEDGED
    )
    audit.record(
        actor,
        "supplies.acknowledge_donation",
        locked,
        before={"status": locked.status, "acknowledged_at": None},
        after={"status": DonationStatus.ACKNOWLEDGED, "acknowledged_at": now},
    )
    donation.acknowledged_at, donation.status = now, DonationStatus.ACKNOWLEDGED
    return donation
