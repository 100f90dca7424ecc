"""The stock ledger (库存台账): the only code that writes Movement and Balance rows.

``post_document`` turns a document's lines into signed movements and applies them:

- one transaction (the caller's action, wrapped in ``retry.with_retry``);
- balance rows are touched in one fixed order, (location, item, lot) ascending, so two
  writers never wait on each other in a cycle;
- a receipt into a key that has no balance row yet inserts it with ON CONFLICT, so the
  first posting for a new key is race-free;
- a decrease is one ``UPDATE ... WHERE quantity >= n``: the check and the write are one
  statement and the row lock is held from there to commit. When it changes no row,
  ``InsufficientStock`` names the item, the location and what is short. The
  ``balance_not_negative`` constraint backs this up in the database;
- a back-dated posting (inside ``settings.STOCK_BACKDATE_HOURS``) is refused if any
  balance would have been negative at any time since, and it corrects the daily
  snapshots of the days after it.

On SQLite the transaction is IMMEDIATE (the database's write lock is taken at BEGIN),
which serializes writers; on PostgreSQL the UPDATEs take row locks.

``post_new_document`` is the hot path of every new document: every check of
``post_document`` first, then the document already posted and numbered, its lines,
movements, audit entry and balances written straight through the database driver by
``supplies.ledger_sql`` (on SQLite one statement per table and balance key, on
PostgreSQL one statement plus one per further balance key).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple, Protocol

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.utils import timezone
from django.utils.translation import gettext as _

from fangkong.supplies import ledger_sql
from fangkong.supplies.models import (
    Balance,
    DocumentKind,
    DocumentLine,
    DocumentStatus,
    Item,
    Location,
    Lot,
    LotStatus,
    Movement,
    StockDocument,
    StockSnapshot,
)

_MOVEMENT = Movement._meta.db_table

# Table names come from model meta, never from input.
_RECEIVE_SQL = ledger_sql.RECEIVE_SQL
_TAKE_SQL = ledger_sql.TAKE_SQL  # the row count says whether the decrease was applied
_MOVEMENT_SQL = (
    f"INSERT INTO {_MOVEMENT} (document_id, location_id, item_id, lot_id, "  # noqa: S608
    "quantity, effective_at, recorded_at, region_code) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
)

_SNAPSHOT = StockSnapshot._meta.db_table
_SNAPSHOT_SQL = (
    f"INSERT INTO {_SNAPSHOT} (day, location_id, item_id, lot_id, quantity, region_code) "  # noqa: S608
    "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (day, location_id, item_id, lot_id) "
    f"DO UPDATE SET quantity = {_SNAPSHOT}.quantity + excluded.quantity"
)

# A posting dated a few minutes back is "now" (clocks on phones drift).
_NOW_TOLERANCE = dt.timedelta(minutes=10)


class Posting(NamedTuple):
    """A signed quantity for one balance key. Sorting gives the lock order."""

    location_id: int
    item_id: int
    lot_id: int
    quantity: int


class InsufficientStock(ValidationError):
    """Not enough on hand. The message names the item, the location and the shortfall."""

    def __init__(
        self, *, item: Item, lot: Lot, location: Location, on_hand: int, needed: int
    ) -> None:
        lot_text = f" {_('lot')} {lot.code}" if lot.code else ""
        message = _(
            "Not enough %(item)s%(lot)s at %(location)s: %(on_hand)s %(unit)s on hand, "
            "%(needed)s %(unit)s needed, %(short)s %(unit)s short."
        ) % {
            "item": item,
            "lot": lot_text,
            "location": location,
            "on_hand": on_hand,
            "needed": needed,
            "short": needed - on_hand,
            "unit": item.base_unit,
        }
        super().__init__(message, code="insufficient_stock")
        self.item = item
        self.lot = lot
        self.location = location
        self.on_hand = on_hand
        self.needed = needed


class NegativeHistory(ValidationError):
    """A back-dated decrease that would have made a balance negative at some later time."""


def postings_for(document: StockDocument, lines: Sequence[DocumentLine]) -> list[Posting]:
    """The signed movements a document's lines make, merged per key and sorted."""
    return signed_postings(
        document.kind,
        document.source_id,
        document.destination_id,
        [(line.item_id, line.lot_id, line.quantity) for line in lines],
    )


def signed_postings(
    kind: str,
    source_id: int | None,
    destination_id: int | None,
    lines: Iterable[tuple[int, int, int]],
) -> list[Posting]:
    """``postings_for`` from plain (item id, lot id, quantity) triples."""
    sides: tuple[tuple[int, int], ...]  # (location, sign) the lines move stock at
    if kind == DocumentKind.RECEIPT:
        assert destination_id is not None
        sides = ((destination_id, 1),)
    elif kind == DocumentKind.ISSUE:
        assert source_id is not None
        sides = ((source_id, -1),)
    elif kind == DocumentKind.TRANSFER:
        assert source_id is not None and destination_id is not None
        sides = ((source_id, -1), (destination_id, 1))
    elif kind == DocumentKind.ADJUSTMENT:
        assert source_id is not None
        sides = ((source_id, 1),)
    else:
        raise ValueError(f"post reversals with reverse_postings, not {kind}")
    totals: dict[tuple[int, int, int], int] = {}
    for item_id, lot_id, quantity in lines:
        for location_id, sign in sides:
            key = (location_id, item_id, lot_id)
            totals[key] = totals.get(key, 0) + sign * quantity
    postings = [Posting(*key, quantity) for key, quantity in totals.items() if quantity != 0]
    if len(postings) > 1:
        postings.sort()
    return postings


def reverse_postings(original: StockDocument) -> list[Posting]:
    """The exact opposite of what ``original`` posted, read from its movements."""
    totals: dict[tuple[int, int, int], int] = defaultdict(int)
    for location_id, item_id, lot_id, quantity in original.movements.values_list(
        "location_id", "item_id", "lot_id", "quantity"
    ):
        totals[(location_id, item_id, lot_id)] -= quantity
    return sorted(Posting(*key, quantity) for key, quantity in totals.items() if quantity != 0)


def check_effective_time(effective_at: dt.datetime, now: dt.datetime | None = None) -> bool:
    """Validate the time a document takes effect; True when it is back-dated."""
    now = now or timezone.now()
    if effective_at > now + _NOW_TOLERANCE:
        raise ValidationError(
            {"effective_at": _("A stock document cannot take effect in the future.")}
        )
    window = dt.timedelta(hours=settings.STOCK_BACKDATE_HOURS)
    if effective_at < now - window:
        raise ValidationError(
            {
                "effective_at": _(
                    "Documents may be back-dated by at most %(hours)s hours; "
                    "post a correction with today's date instead."
                )
                % {"hours": settings.STOCK_BACKDATE_HOURS}
            }
        )
    return effective_at < now - _NOW_TOLERANCE


def check_lots_for(kind: str, lots: Iterable[Lot], today: dt.date | None = None) -> None:
    """Issues and transfers take only usable, unexpired lots; receipts refuse bad lots.

    Adjustments and reversals may touch any lot: writing off a recalled lot must work.
    """
    if kind in (DocumentKind.ADJUSTMENT, DocumentKind.REVERSAL):
        return
    for lot in lots:
        expired = lot.status == LotStatus.EXPIRED
        if not expired and lot.expiry_date is not None:
            today = today or timezone.localdate()  # only when a lot has an expiry
            expired = lot.expiry_date < today
        if expired:
            raise ValidationError(
                _("Lot %(lot)s of %(item)s expired on %(date)s and cannot be moved.")
                % {"lot": lot.code, "item": lot.item, "date": lot.expiry_date or "-"},
                code="lot_expired",
            )
        if lot.status in (LotStatus.RECALLED, LotStatus.ON_HOLD):
            raise ValidationError(
                _("Lot %(lot)s of %(item)s is %(status)s and cannot be moved.")
                % {"lot": lot.code, "item": lot.item, "status": lot.get_status_display()},
                code="lot_blocked",
            )


def apply_postings(
    document: StockDocument,
    postings: Sequence[Posting],
    *,
    effective_at: dt.datetime,
    backdated: bool,
    region_of: dict[int, str] | None = None,
) -> None:
    """Write movements and update balances for ``postings``. Call inside a transaction.

    ``region_of`` (location id → region code) saves a query when the caller knows them.
    """
    if not postings:
        return
    ordered = sorted(postings)
    wanted = {p.location_id for p in ordered}
    if region_of is None or not wanted <= region_of.keys():
        region_of = _region_codes(document, wanted)
    now = timezone.now()
    ops = connection.ops
    stamp = ops.adapt_datetimefield_value(now)
    effective = ops.adapt_datetimefield_value(effective_at)
    with connection.cursor() as cursor:
        # Movements first, balances last: a balance's row lock is held from its statement
        # to commit, so nothing else should run in between (PostgreSQL writers wait on
        # it). A refused decrease rolls the movements back with everything else.
        rows = [
            (
                document.pk,
                p.location_id,
                p.item_id,
                p.lot_id,
                p.quantity,
                effective,
                stamp,
                region_of[p.location_id],
            )
            for p in ordered
        ]
        if len(rows) == 1:
            cursor.execute(_MOVEMENT_SQL, rows[0])
        else:
            cursor.executemany(_MOVEMENT_SQL, rows)
        for posting in ordered:
            if posting.quantity > 0:
                cursor.execute(
                    _RECEIVE_SQL,
                    [
                        posting.location_id,
                        posting.item_id,
                        posting.lot_id,
                        posting.quantity,
                        region_of[posting.location_id],
                        stamp,
                    ],
                )
            else:
                needed = -posting.quantity
                cursor.execute(
                    _TAKE_SQL,
                    [needed, stamp, posting.location_id, posting.item_id, posting.lot_id, needed],
                )
                if cursor.rowcount != 1:
                    _raise_insufficient(posting)
            if backdated:
                _check_history(posting, effective_at)
    # A posting into a day whose closing snapshot is already taken corrects it, back-dated
    # or not (a posting at 23:58 recorded after the midnight snapshot).
    if backdated or timezone.localdate(effective_at) < timezone.localdate(now):
        _correct_snapshots(ordered, effective_at, region_of)


def post_document(
    document: StockDocument, lines: Sequence[DocumentLine] | None = None, *, actor: object
) -> list[Posting]:
    """Post a draft document: movements, balances, status. Call inside a transaction.

    The caller (an action) has checked permissions and validated the lines, and writes
    the audit entry.
    """
    if document.status != DocumentStatus.DRAFT:
        raise ValidationError(_("Only a draft document can be posted."), code="not_draft")
    if lines is None:
        lines = list(document.lines.select_related("lot__item"))
    backdated = check_effective_time(document.effective_at)
    check_lots_for(document.kind, {line.lot for line in lines})
    postings = postings_for(document, lines)
    apply_postings(document, postings, effective_at=document.effective_at, backdated=backdated)
    document.status = DocumentStatus.POSTED
    document.posted_at = timezone.now()
    document.posted_by = actor if getattr(actor, "is_authenticated", False) else None  # type: ignore[assignment]
    StockDocument.objects.filter(pk=document.pk).update(
        status=document.status, posted_at=document.posted_at, posted_by=document.posted_by
    )
    return postings


class LineLike(Protocol):
    """A line as the posting action holds it (``actions.documents.LineInput``)."""

    @property
    def item(self) -> Item: ...
    @property
    def lot(self) -> Lot: ...
    @property
    def quantity(self) -> int: ...
    @property
    def pack(self) -> Any: ...
    @property
    def pack_count(self) -> int | None: ...
    @property
    def request_line(self) -> Any: ...
    @property
    def note(self) -> str: ...


# ---------------------------------------------------------------- the fast path


def post_new_document(
    values: dict[str, Any],
    lines: Sequence[LineLike],
    *,
    actor: object,
    prefix: str,
    audit_action: str,
    audit_after: dict[str, Any],
    now: dt.datetime | None = None,
) -> tuple[StockDocument, list[Posting]]:
    """Insert a new document already posted and numbered, its lines, movements and audit
    entry, and apply its balances. Call inside a transaction.

    ``values`` are StockDocument's fields by name, as the model's constructor takes them
    (``kind``, ``source`` as a Location...), without the number: it is drawn here for
    ``prefix`` (one of DOCUMENT_PREFIX). ``now`` is the posting time (default: the
    clock); an ``effective_at`` that is ``now`` itself, or None, needs no time checks.
    Every check of saving a draft and ``post_document`` runs before the first write;
    ``ledger_sql`` then writes (balances last, in lock order). The audit entry is
    ``audit_action`` with ``audit_after`` and the number as "after". A short decrease
    raises ``InsufficientStock``; the caller's transaction rolls everything back.
    """
    now = now or timezone.now()
    effective_at = values.get("effective_at") or now
    values["effective_at"] = effective_at
    backdated = effective_at is not now and check_effective_time(effective_at, now)
    kind = values["kind"]
    check_lots_for(kind, [line.lot for line in lines])
    source: Location | None = values.get("source")
    destination: Location | None = values.get("destination")
    postings = signed_postings(
        kind,
        source.id if source is not None else None,
        destination.id if destination is not None else None,
        [(line.item.id, line.lot.id, line.quantity) for line in lines],
    )
    values["status"] = DocumentStatus.POSTED
    values["posted_at"] = values["created_at"] = values["updated_at"] = now
    values["posted_by"] = actor if getattr(actor, "is_authenticated", False) else None
    region_of = {loc.id: loc.region_code for loc in (source, destination) if loc is not None}
    entry = ledger_sql.Entry(actor, audit_action, audit_after, values["region_code"])
    db = connections[DEFAULT_DB_ALIAS]
    write = ledger_sql.write_postgresql if db.vendor == "postgresql" else ledger_sql.write_sqlite
    db.validate_no_broken_transaction()
    if db.connection is None:
        db.ensure_connection()
    # The driver's errors become Django's (IntegrityError for a repeated idempotency key,
    # OperationalError for a lock, which with_retry retries), as through Django's cursor.
    with db.wrap_database_errors:
        cursor = db.connection.cursor()
        try:
            document, short = write(db, cursor, values, lines, postings, prefix, region_of, entry)
        finally:
            cursor.close()
    if short is not None:
        _raise_insufficient(short)
    if backdated:
        for posting in postings:
            _check_history(posting, effective_at)
    # As in apply_postings: a posting into a day whose snapshot is taken corrects it.
    if effective_at is not now and (
        backdated or timezone.localdate(effective_at) < timezone.localdate(now)
    ):
        _correct_snapshots(postings, effective_at, region_of)
    return document, postings


def _region_codes(document: StockDocument, location_ids: set[int]) -> dict[int, str]:
    """Region codes of the locations, from the document's own when it holds them."""
    known: dict[int, str] = {}
    for name in ("source", "destination"):
        field = StockDocument._meta.get_field(name)
        if field.is_cached(document):  # type: ignore[union-attr]
            location = getattr(document, name)
            if location is not None:
                known[location.pk] = location.region_code
    missing = location_ids - known.keys()
    if missing:
        known.update(Location.objects.filter(pk__in=missing).values_list("pk", "region_code"))
    return known


def _raise_insufficient(posting: Posting) -> None:
    on_hand = (
        Balance.objects.filter(
            location_id=posting.location_id, item_id=posting.item_id, lot_id=posting.lot_id
        )
        .values_list("quantity", flat=True)
        .first()
    ) or 0
    raise InsufficientStock(
        item=Item.objects.get(pk=posting.item_id),
        lot=Lot.objects.get(pk=posting.lot_id),
        location=Location.objects.get(pk=posting.location_id),
        on_hand=on_hand,
        needed=-posting.quantity,
    )


def _check_history(posting: Posting, effective_at: dt.datetime) -> None:
    """A back-dated decrease must leave every later balance of its key at zero or more.

    The balance just after each later movement is the current balance minus the
    movements after it; walking them newest first finds the lowest point. The window is
    bounded by STOCK_BACKDATE_HOURS, so this reads a few rows of one key.
    """
    if posting.quantity > 0:
        return
    current = (
        Balance.objects.filter(
            location_id=posting.location_id, item_id=posting.item_id, lot_id=posting.lot_id
        )
        .values_list("quantity", flat=True)
        .first()
    ) or 0
    later = Movement.objects.filter(
        location_id=posting.location_id,
        item_id=posting.item_id,
        lot_id=posting.lot_id,
        effective_at__gt=effective_at,
    ).order_by("-effective_at", "-id")
    # ``current`` already includes this posting; undo the later movements one by one.
    running = current
    lowest = running
    for quantity in later.values_list("quantity", flat=True).iterator():
        running -= quantity
        lowest = min(lowest, running)
    if lowest < 0:
        item = Item.objects.get(pk=posting.item_id)
        raise NegativeHistory(
            _(
                "Back-dated to %(time)s, this would leave %(item)s at %(location)s "
                "below zero for a while afterwards (%(short)s %(unit)s short)."
            )
            % {
                "time": timezone.localtime(effective_at).strftime("%Y-%m-%d %H:%M"),
                "item": item,
                "location": Location.objects.get(pk=posting.location_id),
                "short": -lowest,
                "unit": item.base_unit,
            },
            code="negative_history",
        )


def _correct_snapshots(
    postings: Sequence[Posting],
    effective_at: dt.datetime,
    region_of: dict[int, str],
) -> None:
    """Add a posting to the closing snapshots of its day and every day after.

    Only days whose snapshot has been taken (any row for the day) are corrected; the
    upsert makes a key the snapshot did not hold yet, and is race-free against the
    snapshot job writing the same day.
    """
    first_day = timezone.localdate(effective_at)
    days = list(
        StockSnapshot.objects.filter(day__gte=first_day)
        .values_list("day", flat=True)
        .distinct()
        .order_by("day")
    )
    if not days:
        return
    ops = connection.ops
    rows = [
        (
            ops.adapt_datefield_value(day),
            p.location_id,
            p.item_id,
            p.lot_id,
            p.quantity,
            region_of[p.location_id],
        )
        for day in days
        for p in postings
    ]
    with connection.cursor() as cursor:
        cursor.executemany(_SNAPSHOT_SQL, rows)
