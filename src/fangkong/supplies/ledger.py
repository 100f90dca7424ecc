"""The stock ledger (库存台账): the only code that writes Movement and Balance rows.

``post_document`` turns a document's lines into signed movements and applies them:

- one transaction (the caller's action, wrapped in ``retry.with_retry``);
- balance rows are touched in one fixed order, (location, item, lot) ascending, so two
  writers never wait on each other in a cycle;
- a receipt into a key that has no balance row yet inserts it with ON CONFLICT, so the
  first posting for a new key is race-free;
- a decrease is one ``UPDATE ... WHERE quantity >= n RETURNING``: the check and the write
  are one statement and the row lock is held from there to commit. When no row comes
  back, ``InsufficientStock`` names the item, the location and what is short. The
  ``balance_not_negative`` constraint backs this up in the database;
- a back-dated posting (inside ``settings.STOCK_BACKDATE_HOURS``) is refused if any
  balance would have been negative at any time since, and it corrects the daily
  snapshots of the days after it.

On SQLite the transaction is IMMEDIATE (the database's write lock is taken at BEGIN),
which serializes writers; on PostgreSQL the UPDATEs take row locks.

``post_new_document`` is the hot path of every new document: it inserts the document
already posted, its lines and its movements with prepared SQL built once per process (no
ORM query compilation, no model instance per line, no draft-then-update round trip),
with every check of ``post_document`` kept. A one-line posting is: number, document,
line, one balance statement per side, the movements, the audit entry.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Model
from django.utils import timezone
from django.utils.translation import gettext as _

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

_BALANCE = Balance._meta.db_table
_MOVEMENT = Movement._meta.db_table

# Table names come from model meta, never from input.
_RECEIVE_SQL = (
    f"INSERT INTO {_BALANCE} (location_id, item_id, lot_id, quantity, region_code, "  # noqa: S608
    "updated_at) VALUES (%s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (location_id, item_id, lot_id) DO UPDATE SET "
    f"quantity = {_BALANCE}.quantity + excluded.quantity, updated_at = excluded.updated_at"
)
_TAKE_SQL = (
    f"UPDATE {_BALANCE} SET quantity = quantity - %s, updated_at = %s "  # noqa: S608
    "WHERE location_id = %s AND item_id = %s AND lot_id = %s "
    "AND quantity >= %s RETURNING quantity"
)
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


@dataclass(frozen=True, order=True)
class Posting:
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
    totals: dict[tuple[int, int, int], int] = defaultdict(int)
    for item_id, lot_id, quantity in lines:
        if kind == DocumentKind.RECEIPT:
            assert destination_id is not None
            totals[(destination_id, item_id, lot_id)] += quantity
        elif kind == DocumentKind.ISSUE:
            assert source_id is not None
            totals[(source_id, item_id, lot_id)] -= quantity
        elif kind == DocumentKind.TRANSFER:
            assert source_id is not None and destination_id is not None
            totals[(source_id, item_id, lot_id)] -= quantity
            totals[(destination_id, item_id, lot_id)] += quantity
        elif kind == DocumentKind.ADJUSTMENT:
            assert source_id is not None
            totals[(source_id, item_id, lot_id)] += quantity
        else:
            raise ValueError(f"post reversals with reverse_postings, not {kind}")
    return sorted(Posting(*key, quantity) for key, quantity in totals.items() if quantity != 0)


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
    today = today or timezone.localdate()
    for lot in lots:
        expired = lot.status == LotStatus.EXPIRED or (
            lot.expiry_date is not None and lot.expiry_date < today
        )
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
                if cursor.fetchone() is None:
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


def post_new_document(
    values: dict[str, Any],
    lines: Sequence[LineLike],
    *,
    actor: object,
    before_balances: Callable[[StockDocument], object] | None = None,
) -> tuple[StockDocument, list[Posting]]:
    """Insert a new document already posted, its lines and movements. Inside a transaction.

    ``values`` are StockDocument's fields by name, as the model's constructor takes them
    (``number``, ``kind``, ``effective_at``, ``source`` as a Location...). The same checks
    and writes as saving a draft, its lines and ``post_document``, in fewer statements:
    every check runs before the first insert, the document is written once (status
    posted) and comes back as a model instance holding the related objects it was given.
    ``before_balances(document)`` runs after the inserts and before the first balance is
    locked (the action writes its audit entry there, to hold row locks for less time).
    """
    kind = values["kind"]
    effective_at = values["effective_at"]
    now = timezone.now()
    backdated = check_effective_time(effective_at, now)
    check_lots_for(kind, {line.lot for line in lines})
    source: Location | None = values.get("source")
    destination: Location | None = values.get("destination")
    postings = signed_postings(
        kind,
        source.pk if source is not None else None,
        destination.pk if destination is not None else None,
        [(line.item.pk, line.lot.pk, line.quantity) for line in lines],
    )
    values["status"] = DocumentStatus.POSTED
    values["posted_at"] = now
    values["posted_by"] = actor if getattr(actor, "is_authenticated", False) else None
    values["created_at"] = values["updated_at"] = now
    document = _insert_document(values)
    _insert_lines(document.pk, lines)
    if before_balances is not None:
        before_balances(document)
    region_of = {loc.pk: loc.region_code for loc in (source, destination) if loc is not None}
    apply_postings(
        document, postings, effective_at=effective_at, backdated=backdated, region_of=region_of
    )
    return document, postings


@dataclass(frozen=True)
class _DocumentPlan:
    """StockDocument's INSERT, built once: fields in column order, their defaults."""

    sql: str
    returning: bool
    fields: list[Any]  # concrete fields but the primary key, in column order
    defaults: list[Any]
    datetimes: frozenset[str]


@cache
def _document_plan(vendor: str) -> _DocumentPlan:
    meta = StockDocument._meta
    quote = connection.ops.quote_name
    # from_db below takes the values in concrete field order, the primary key first.
    assert meta.concrete_fields[0].primary_key
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    returning = connection.features.can_return_columns_from_insert
    # Names from model meta, never from input.
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(str(f.column)) for f in fields)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(fields))})"
    )
    if returning:
        sql += f" RETURNING {quote(str(meta.pk.column))}"  # type: ignore[union-attr]
    return _DocumentPlan(
        sql=sql,
        returning=returning,
        fields=fields,
        defaults=[f.get_default() for f in fields],
        datetimes=frozenset(f.name for f in fields if f.get_internal_type() == "DateTimeField"),
    )


def _insert_document(values: dict[str, Any]) -> StockDocument:
    """INSERT one StockDocument from field values; the saved instance, related cached."""
    plan = _document_plan(connection.vendor)
    ops = connection.ops
    python_values: list[Any] = [None]  # the primary key, set below
    params: list[Any] = []
    related: list[tuple[Any, Model]] = []
    for field, default in zip(plan.fields, plan.defaults, strict=True):
        value = values.get(field.name, default)
        if field.is_relation and isinstance(value, Model):
            related.append((field, value))
            value = value.pk
        python_values.append(value)
        if value is None:
            params.append(None)
        elif field.name in plan.datetimes:
            params.append(ops.adapt_datetimefield_value(value))
        elif isinstance(value, str):
            # str(): a TextChoices member is stored as its value, whatever the driver.
            params.append(str(value) if type(value) is not str else value)
        else:
            params.append(field.get_db_prep_save(value, connection))
    with connection.cursor() as cursor:
        cursor.execute(plan.sql, params)
        python_values[0] = cursor.fetchone()[0] if plan.returning else cursor.lastrowid
    # Positional construction is Model.__init__'s fast path (what from_db uses).
    document = StockDocument.from_db(connection.alias, None, python_values)  # type: ignore[arg-type]
    for field, obj in related:
        field.set_cached_value(document, obj)
    return document


_LINE_COLUMNS = (
    "document",
    "item",
    "lot",
    "quantity",
    "pack",
    "pack_count",
    "request_line",
    "note",
)
# Rows per multi-row INSERT: far below SQLite's 32766 variables.
_INSERT_CHUNK = 200


@cache
def _lines_sql(rows: int) -> str:
    meta = DocumentLine._meta
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(meta.get_field(name).column)) for name in _LINE_COLUMNS)  # type: ignore[union-attr]
    marks = "(" + ", ".join(["%s"] * len(_LINE_COLUMNS)) + ")"
    return f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES {', '.join([marks] * rows)}"  # noqa: S608


def _insert_lines(document_id: int, lines: Sequence[LineLike]) -> None:
    rows = [
        (
            document_id,
            line.item.pk,
            line.lot.pk,
            line.quantity,
            line.pack.pk if line.pack is not None else None,
            line.pack_count,
            line.request_line.pk if line.request_line is not None else None,
            line.note[:200],
        )
        for line in lines
    ]
    with connection.cursor() as cursor:
        for start in range(0, len(rows), _INSERT_CHUNK):
            chunk = rows[start : start + _INSERT_CHUNK]
            cursor.execute(_lines_sql(len(chunk)), [value for row in chunk for value in row])


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
