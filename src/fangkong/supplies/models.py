"""Supplies (物资): catalogue, stock locations, the stock ledger and the documents that post it.

The ledger is exact (DESIGN rule 5): quantities are integers in the item's base unit;
packs are conversions. ``Movement`` rows are append-only evidence; ``Balance`` holds the
running quantity per (location, item, lot), is updated in the same transaction as the
movements and can never go below zero (a database constraint, besides the check in
``supplies.ledger`` that names what is short). Corrections are reversals, never edits.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from fangkong.core.models import AppendOnlyModel, ScopedModel

# ---------------------------------------------------------------- catalogue


class ItemCategory(models.TextChoices):
    PROTECTIVE = "protective", _("Protective equipment")  # 防护用品
    TESTING = "testing", _("Testing supplies")  # 检测耗材
    DISINFECTION = "disinfection", _("Disinfection")  # 消杀用品
    FOOD = "food", _("Food")  # 食品
    DAILY = "daily", _("Daily necessities")  # 生活用品
    OTHER = "other", _("Other")


class Item(models.Model):
    """A kind of supply (物资品目), counted in its base unit (个, 套, 副, 袋, 瓶, 箱...).

    The catalogue is county-wide: every depot counts the same items the same way.
    """

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    specification = models.CharField(_("specification"), max_length=100, blank=True)
    category = models.CharField(
        _("category"), max_length=16, choices=ItemCategory.choices, db_index=True
    )
    base_unit = models.CharField(_("base unit"), max_length=8)
    # Lots matter for what expires or gets recalled (tubes, reagents, food); other items
    # post to their item's default lot (code "").
    tracks_lots = models.BooleanField(_("tracks lots"), default=False)
    active = models.BooleanField(_("active"), default=True)
    notes = models.TextField(_("notes"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("item")
        verbose_name_plural = _("items")
        ordering = ["category", "name"]
        constraints = [
            models.UniqueConstraint(fields=["name", "specification"], name="unique_item_name")
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.specification}".strip()


class Pack(models.Model):
    """A pack of an item (包装): 1 箱 = 50 套. ``size`` is in the item's base unit."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="packs")
    name = models.CharField(_("pack"), max_length=8)
    size = models.PositiveIntegerField(_("units per pack"))

    class Meta:
        verbose_name = _("pack")
        verbose_name_plural = _("packs")
        ordering = ["item", "-size"]
        constraints = [
            models.UniqueConstraint(fields=["item", "name"], name="unique_pack_name"),
            models.CheckConstraint(condition=Q(size__gte=2), name="pack_size_at_least_2"),
        ]

    def __str__(self) -> str:
        return f"1 {self.name} = {self.size} {self.item.base_unit}"


class LotStatus(models.TextChoices):
    USABLE = "usable", _("Usable")  # 可用
    ON_HOLD = "on_hold", _("On hold")  # 待检 / 冻结
    RECALLED = "recalled", _("Recalled")  # 召回
    EXPIRED = "expired", _("Expired")  # 过期


class Lot(models.Model):
    """A lot (批次) of an item, with its expiry. Code "" is the item's default lot."""

    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="lots")
    code = models.CharField(_("lot"), max_length=64, blank=True)
    expiry_date = models.DateField(_("expiry date"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=LotStatus.choices, default=LotStatus.USABLE
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("lot")
        verbose_name_plural = _("lots")
        ordering = ["item", "expiry_date", "code"]
        constraints = [models.UniqueConstraint(fields=["item", "code"], name="unique_lot_code")]

    def __str__(self) -> str:
        return self.code or "-"


# ---------------------------------------------------------------- locations


class LocationKind(models.TextChoices):
    SITE = "site", _("Site")  # 仓库、村物资点、采样点
    TRANSIT = "transit", _("In transit")  # 在途 (one per delivery run)


class Location(ScopedModel):
    """Where stock is held: a Site (depot, village point, testing site) or a run in transit."""

    kind = models.CharField(_("kind"), max_length=16, choices=LocationKind.choices)
    name = models.CharField(_("name"), max_length=120)
    site = models.OneToOneField(
        "geo.Site", null=True, blank=True, on_delete=models.PROTECT, related_name="stock_location"
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("stock location")
        verbose_name_plural = _("stock locations")
        ordering = ["region_code", "name"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind="site") & Q(site__isnull=False))
                | (Q(kind="transit") & Q(site__isnull=True)),
                name="location_kind_matches_site",
            )
        ]

    def __str__(self) -> str:
        return self.name


class MinimumLevel(ScopedModel):
    """A minimum quantity (安全库存) of an item at a location; below it, a low-stock alert."""

    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="minimums")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="+")
    quantity = models.PositiveBigIntegerField(_("minimum quantity"))

    class Meta:
        verbose_name = _("minimum level")
        verbose_name_plural = _("minimum levels")
        constraints = [
            models.UniqueConstraint(fields=["location", "item"], name="unique_minimum_level")
        ]


# ---------------------------------------------------------------- documents


class DocumentKind(models.TextChoices):
    RECEIPT = "receipt", _("Receipt")  # 入库单
    ISSUE = "issue", _("Issue")  # 出库单 / 发放单
    TRANSFER = "transfer", _("Transfer")  # 调拨单
    ADJUSTMENT = "adjustment", _("Adjustment")  # 调整单 (报损、盘盈盘亏)
    REVERSAL = "reversal", _("Reversal")  # 冲销单


DOCUMENT_PREFIX = {
    DocumentKind.RECEIPT: "RK",
    DocumentKind.ISSUE: "CK",
    DocumentKind.TRANSFER: "DB",
    DocumentKind.ADJUSTMENT: "TZ",
    DocumentKind.REVERSAL: "CX",
}


class DocumentStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    POSTED = "posted", _("Posted")
    REVERSED = "reversed", _("Reversed")
    CANCELLED = "cancelled", _("Cancelled")


class ReceiptSource(models.TextChoices):
    PURCHASE = "purchase", _("Purchase")  # 采购
    DONATION = "donation", _("Donation")  # 捐赠
    ALLOCATION = "allocation", _("Allocation from above")  # 上级调拨
    RETURN = "return", _("Return")  # 退回


class RecipientKind(models.TextChoices):
    SITE = "site", _("Site")
    HOUSEHOLD = "household", _("Household")
    PERSON = "person", _("Person")
    OTHER = "other", _("Other")  # a unit or team named in text


class AdjustmentReason(models.TextChoices):
    DAMAGED = "damaged", _("Damaged")  # 破损
    EXPIRED = "expired", _("Expired")  # 过期
    LOST = "lost", _("Lost")  # 丢失
    FOUND = "found", _("Found")  # 盘盈 / 找回
    COUNT = "count", _("Stock-take difference")  # 盘点差异
    SHORTFALL = "shortfall", _("Delivery shortfall")  # 配送短少


class StockDocument(ScopedModel):
    """A numbered stock document (单据): receipt, issue, transfer, adjustment or reversal.

    ``region_code`` is the region of the location the document belongs to (the
    destination of a receipt, the source otherwise); ``counterpart_region_code`` is the
    other side of a transfer, so a village sees what was sent to it.
    Only ``supplies.ledger`` turns a document into movements.
    """

    number = models.CharField(_("number"), max_length=32, unique=True)
    # Filtered through stockdoc_scope_idx (region, kind, time); no index of its own.
    region_code = models.CharField(_("region code"), max_length=15)
    kind = models.CharField(_("kind"), max_length=16, choices=DocumentKind.choices)
    status = models.CharField(
        _("status"), max_length=16, choices=DocumentStatus.choices, default=DocumentStatus.DRAFT
    )
    counterpart_region_code = models.CharField(max_length=15, blank=True)
    source = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.PROTECT, db_index=False, related_name="+"
    )
    destination = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.PROTECT, db_index=False, related_name="+"
    )
    # When the goods moved; may be earlier than posting inside the back-dating window.
    effective_at = models.DateTimeField(_("effective time"), db_index=True)
    posted_at = models.DateTimeField(_("posted"), null=True, blank=True)
    receipt_source = models.CharField(
        _("received as"), max_length=16, choices=ReceiptSource.choices, blank=True
    )
    supplier = models.CharField(_("supplier or sender"), max_length=120, blank=True)
    donation = models.ForeignKey(
        "Donation",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        db_index=False,
        related_name="documents",
    )
    recipient_kind = models.CharField(
        _("recipient kind"), max_length=16, choices=RecipientKind.choices, blank=True
    )
    recipient_site = models.ForeignKey(
        "geo.Site",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        db_index=False,
        related_name="+",
    )
    recipient_household = models.ForeignKey(
        "people.Household",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_index=False,
        related_name="+",
    )
    recipient_person = models.ForeignKey(
        "people.Person",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_index=False,
        related_name="+",
    )
    # What the recipient was called when issued: survives a merge or a deleted household.
    recipient_name = models.CharField(_("recipient"), max_length=120, blank=True)
    reason = models.CharField(
        _("reason"), max_length=16, choices=AdjustmentReason.choices, blank=True
    )
    note = models.TextField(_("note"), blank=True)
    request = models.ForeignKey(
        "SupplyRequest",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        db_index=False,
        related_name="issues",
    )
    delivery_run = models.ForeignKey(
        "DeliveryRun",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        db_index=False,
        related_name="documents",
    )
    stock_count = models.ForeignKey(
        "StockCount",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        db_index=False,
        related_name="documents",
    )
    # Reversed at most once: a partial unique constraint (below), not a OneToOneField,
    # whose unique index would hold an entry for every posting (one WAL page each, D25).
    reversal_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        db_index=False,
        related_name="reversals",
    )
    # A double-submitted form carries the same key and posts once (unique_idempotency_key:
    # partial, so a posting without a key writes no index entry).
    idempotency_key = models.CharField(max_length=64, null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_index=False,
        related_name="+",
    )
    posted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_index=False,
        related_name="+",
    )

    # The recipient's name is shown (it is on the handover sheet); a person's ID and
    # phone stay in the people ledger, masked there.
    MASKED_FIELDS: dict[str, str] = {}

    class Meta:
        verbose_name = _("stock document")
        verbose_name_plural = _("stock documents")
        ordering = ["-effective_at", "-id"]
        # Every index costs each posting a write; the optional links are mostly empty, so
        # their indexes are partial (bench/README.md, postings per second).
        indexes = [
            models.Index(fields=["region_code", "kind", "effective_at"], name="stockdoc_scope_idx"),
            *(
                models.Index(
                    fields=[name],
                    condition=~Q(**{name: ""})
                    if name == "counterpart_region_code"
                    else Q(**{f"{name}__isnull": False}),
                    name=f"stockdoc_{name[:14]}_idx",
                )
                # No source/destination indexes: the location filter also narrows by
                # the location's region, which stockdoc_scope_idx and the counterpart
                # index serve (a document's region is one side's, its counterpart the
                # other's); one WAL page less per posting (D25).
                for name in (
                    "counterpart_region_code",
                    "donation",
                    "request",
                    "delivery_run",
                    "stock_count",
                )
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="unique_idempotency_key",
            ),
            models.UniqueConstraint(
                fields=["reversal_of"],
                condition=Q(reversal_of__isnull=False),
                name="unique_reversal",
            ),
        ]

    def __str__(self) -> str:
        return self.number


class DocumentLine(models.Model):
    """One line of a document, in base units; the pack entry is kept as the user typed it.

    ``quantity`` is positive, except on adjustments and reversals where its sign is the
    direction (found +, lost −).
    """

    document = models.ForeignKey(StockDocument, on_delete=models.CASCADE, related_name="lines")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, db_index=False, related_name="+")
    quantity = models.BigIntegerField(_("quantity"))
    # Mostly empty (units entered loose): indexed only where set (docline_pack_idx).
    pack = models.ForeignKey(
        Pack, null=True, blank=True, on_delete=models.PROTECT, db_index=False, related_name="+"
    )
    pack_count = models.PositiveIntegerField(_("packs"), null=True, blank=True)
    request_line = models.ForeignKey(
        "SupplyRequestLine",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        db_index=False,
        related_name="issue_lines",
    )
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("document line")
        verbose_name_plural = _("document lines")
        ordering = ["document", "id"]
        constraints = [
            models.CheckConstraint(condition=~Q(quantity=0), name="document_line_nonzero")
        ]
        indexes = [
            models.Index(
                fields=["request_line"],
                condition=Q(request_line__isnull=False),
                name="docline_request_line_idx",
            ),
            models.Index(fields=["pack"], condition=Q(pack__isnull=False), name="docline_pack_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.item_id}×{self.quantity}"


class DocumentSequence(models.Model):
    """Counter behind document numbers (RK20220121-0001): one row per prefix and day."""

    key = models.CharField(max_length=32, primary_key=True)
    value = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.key}={self.value}"


# ---------------------------------------------------------------- ledger


class Movement(AppendOnlyModel):
    """A ledger line (库存流水): a signed quantity at a location, for an item and lot.

    Never edited, never deleted: a mistake is corrected by a reversal document.
    """

    id = models.BigAutoField(primary_key=True)
    document = models.ForeignKey(StockDocument, on_delete=models.PROTECT, related_name="movements")
    # Found through movement_key_idx (location, item, lot, time): no single-column indexes.
    location = models.ForeignKey(
        Location, on_delete=models.PROTECT, db_index=False, related_name="+"
    )
    item = models.ForeignKey(Item, on_delete=models.PROTECT, db_index=False, related_name="+")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, db_index=False, related_name="+")
    quantity = models.BigIntegerField(_("quantity"))
    effective_at = models.DateTimeField(_("effective time"))
    recorded_at = models.DateTimeField(_("recorded"), auto_now_add=True)
    region_code = models.CharField(_("region code"), max_length=15)

    SCOPE_FIELD = "region_code"

    class Meta:
        verbose_name = _("stock movement")
        verbose_name_plural = _("stock movements")
        ordering = ["effective_at", "id"]
        indexes = [
            models.Index(
                fields=["location", "item", "lot", "effective_at"], name="movement_key_idx"
            ),
            models.Index(fields=["region_code", "effective_at"], name="movement_scope_idx"),
            models.Index(fields=["effective_at"], name="movement_time_idx"),
        ]
        constraints = [models.CheckConstraint(condition=~Q(quantity=0), name="movement_nonzero")]


class Balance(models.Model):
    """Quantity on hand (库存) per location, item and lot; never negative."""

    id = models.BigAutoField(primary_key=True)
    # The unique key (location, item, lot) and balance_item_idx serve every lookup.
    location = models.ForeignKey(
        Location, on_delete=models.PROTECT, db_index=False, related_name="balances"
    )
    item = models.ForeignKey(Item, on_delete=models.PROTECT, db_index=False, related_name="+")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, db_index=False, related_name="+")
    quantity = models.BigIntegerField(_("quantity"), default=0)
    region_code = models.CharField(_("region code"), max_length=15, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    SCOPE_FIELD = "region_code"

    class Meta:
        verbose_name = _("stock balance")
        verbose_name_plural = _("stock balances")
        constraints = [
            models.UniqueConstraint(fields=["location", "item", "lot"], name="unique_balance_key"),
            models.CheckConstraint(condition=Q(quantity__gte=0), name="balance_not_negative"),
        ]
        indexes = [models.Index(fields=["item", "location"], name="balance_item_idx")]

    def __str__(self) -> str:
        return f"{self.location_id}/{self.item_id}/{self.lot_id}={self.quantity}"


class StockSnapshot(models.Model):
    """Closing quantity per local day, location, item and lot (日结库存).

    The daily report reads these rows, never the whole ledger. Written by the daily
    snapshot job; a back-dated posting corrects the rows of the days after it.
    """

    id = models.BigAutoField(primary_key=True)
    day = models.DateField(_("day"))
    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="+")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="+")
    quantity = models.BigIntegerField(_("closing quantity"))
    region_code = models.CharField(_("region code"), max_length=15)

    SCOPE_FIELD = "region_code"

    class Meta:
        verbose_name = _("stock snapshot")
        verbose_name_plural = _("stock snapshots")
        constraints = [
            models.UniqueConstraint(
                fields=["day", "location", "item", "lot"], name="unique_snapshot_key"
            )
        ]
        indexes = [models.Index(fields=["day", "region_code"], name="snapshot_day_idx")]

    def __str__(self) -> str:
        return f"{self.day} {self.location_id}/{self.item_id}/{self.lot_id}={self.quantity}"


# ---------------------------------------------------------------- requests


class RequestStatus(models.TextChoices):
    SUBMITTED = "submitted", _("Submitted")  # 已上报
    APPROVED = "approved", _("Approved")  # 已审批
    REJECTED = "rejected", _("Rejected")  # 已驳回
    PARTLY_FULFILLED = "partly_fulfilled", _("Partly fulfilled")  # 部分发放
    FULFILLED = "fulfilled", _("Fulfilled")  # 已发放
    CANCELLED = "cancelled", _("Cancelled")  # 已撤回


class SupplyRequest(ScopedModel):
    """A request for supplies (需求上报) from a village or site; the township approves.

    ``region_code`` is the requester's (village or site) region.
    """

    number = models.CharField(_("number"), max_length=32, unique=True)
    status = models.CharField(
        _("status"), max_length=20, choices=RequestStatus.choices, default=RequestStatus.SUBMITTED
    )
    site = models.ForeignKey(
        "geo.Site", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Where the goods should go once issued (the village point or the site's location).
    destination = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    needed_by = models.DateField(_("needed by"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decision_note = models.CharField(_("decision note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("supply request")
        verbose_name_plural = _("supply requests")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.number


class SupplyRequestLine(models.Model):
    request = models.ForeignKey(SupplyRequest, on_delete=models.CASCADE, related_name="lines")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="+")
    requested = models.PositiveBigIntegerField(_("requested"))
    approved = models.PositiveBigIntegerField(_("approved"), null=True, blank=True)
    issued = models.PositiveBigIntegerField(_("issued"), default=0)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("request line")
        verbose_name_plural = _("request lines")
        ordering = ["request", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(requested__gt=0), name="request_line_positive"),
            models.CheckConstraint(
                condition=Q(issued=0) | Q(issued__lte=F("approved")),
                name="issued_not_over_approved",
            ),
            models.UniqueConstraint(fields=["request", "item"], name="unique_request_item"),
        ]

    def __str__(self) -> str:
        return f"{self.item_id}×{self.requested}"


# ---------------------------------------------------------------- delivery runs


class RunStatus(models.TextChoices):
    PLANNED = "planned", _("Planned")  # 计划
    DISPATCHED = "dispatched", _("Dispatched")  # 已发车
    COMPLETED = "completed", _("Completed")  # 已完成
    CANCELLED = "cancelled", _("Cancelled")  # 已取消


class DeliveryRun(ScopedModel):
    """A delivery run (配送车次): a vehicle leaves a depot, often at night, and stops at villages.

    Dispatch moves the run's goods from the origin into the run's transit location;
    confirming a stop moves what arrived to the stop's location and records any shortfall.
    """

    number = models.CharField(_("number"), max_length=32, unique=True)
    status = models.CharField(
        _("status"), max_length=16, choices=RunStatus.choices, default=RunStatus.PLANNED
    )
    origin = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    transit = models.OneToOneField(
        Location, null=True, blank=True, on_delete=models.PROTECT, related_name="transit_run"
    )
    vehicle_plate = models.CharField(_("vehicle plate"), max_length=16)
    driver_name = models.CharField(_("driver"), max_length=64)
    driver_phone = models.CharField(_("driver phone"), max_length=32, blank=True)
    departure_at = models.DateTimeField(_("departure"))
    dispatched_at = models.DateTimeField(_("dispatched"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    MASKED_FIELDS = {"driver_phone": "phone"}

    class Meta:
        verbose_name = _("delivery run")
        verbose_name_plural = _("delivery runs")
        ordering = ["-departure_at", "-id"]

    def __str__(self) -> str:
        return self.number


class StopStatus(models.TextChoices):
    PENDING = "pending", _("Pending")  # 待送达
    DELIVERED = "delivered", _("Delivered")  # 已签收
    SKIPPED = "skipped", _("Skipped")  # 未送达


class DeliveryStop(ScopedModel):
    """A stop on a run; ``region_code`` is the destination's, so the village sees its stop."""

    run = models.ForeignKey(DeliveryRun, on_delete=models.CASCADE, related_name="stops")
    sequence = models.PositiveSmallIntegerField(_("order"))
    destination = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        _("status"), max_length=16, choices=StopStatus.choices, default=StopStatus.PENDING
    )
    confirmed_at = models.DateTimeField(_("confirmed"), null=True, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    receiver_name = models.CharField(_("received by"), max_length=64, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("delivery stop")
        verbose_name_plural = _("delivery stops")
        ordering = ["run", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["run", "sequence"], name="unique_stop_sequence")
        ]


class DeliveryStopLine(models.Model):
    stop = models.ForeignKey(DeliveryStop, on_delete=models.CASCADE, related_name="lines")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="+")
    planned = models.PositiveBigIntegerField(_("planned"))
    delivered = models.PositiveBigIntegerField(_("delivered"), null=True, blank=True)
    request_line = models.ForeignKey(
        SupplyRequestLine, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["stop", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(planned__gt=0), name="stop_line_positive"),
            models.CheckConstraint(
                condition=Q(delivered__isnull=True) | Q(delivered__lte=F("planned")),
                name="delivered_not_over_planned",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item_id}×{self.planned}"

    @property
    def shortfall(self) -> int:
        return 0 if self.delivered is None else self.planned - self.delivered


# ---------------------------------------------------------------- stock-take


class CountStatus(models.TextChoices):
    OPEN = "open", _("Counting")  # 盘点中
    CLOSED = "closed", _("Closed")  # 已结束
    CANCELLED = "cancelled", _("Cancelled")


class StockCount(ScopedModel):
    """A stock-take (盘点) at one location: system quantities snapshotted, counts entered."""

    number = models.CharField(_("number"), max_length=32, unique=True)
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="counts")
    status = models.CharField(
        _("status"), max_length=16, choices=CountStatus.choices, default=CountStatus.OPEN
    )
    started_at = models.DateTimeField(_("started"))
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.TextField(_("note"), blank=True)

    class Meta:
        verbose_name = _("stock-take")
        verbose_name_plural = _("stock-takes")
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return self.number


class StockCountLine(models.Model):
    """System and counted quantity of one item and lot; both are kept after posting."""

    count = models.ForeignKey(StockCount, on_delete=models.CASCADE, related_name="lines")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="+")
    system_quantity = models.BigIntegerField(_("system quantity"))
    counted_quantity = models.BigIntegerField(_("counted quantity"), null=True, blank=True)
    # The system quantity when the count closed (movements during counting change it).
    closing_system_quantity = models.BigIntegerField(null=True, blank=True)
    counted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    counted_at = models.DateTimeField(_("counted"), null=True, blank=True)

    class Meta:
        ordering = ["count", "id"]
        constraints = [
            models.UniqueConstraint(fields=["count", "item", "lot"], name="unique_count_line"),
            models.CheckConstraint(
                condition=Q(counted_quantity__isnull=True) | Q(counted_quantity__gte=0),
                name="counted_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item_id}/{self.lot_id}: {self.counted_quantity}"


# ---------------------------------------------------------------- donations


class DonationDirection(models.TextChoices):
    INBOUND = "inbound", _("Received")  # 接收捐赠
    OUTBOUND = "outbound", _("Given")  # 对外捐赠


class PartyType(models.TextChoices):
    ENTERPRISE = "enterprise", _("Enterprise")  # 企业
    GOVERNMENT = "government", _("Government or public unit")  # 机关事业单位
    ORGANIZATION = "organization", _("Social organization")  # 社会组织
    INDIVIDUAL = "individual", _("Individual")  # 个人


class DonationStatus(models.TextChoices):
    RECORDED = "recorded", _("Recorded")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")  # 已出具捐赠证明
    CANCELLED = "cancelled", _("Cancelled")


class Donation(ScopedModel):
    """A donation (捐赠) received or given, with its acknowledgement (捐赠证明).

    ``region_code`` is the region of the unit that keeps the record.
    """

    number = models.CharField(_("number"), max_length=32, unique=True)
    direction = models.CharField(_("direction"), max_length=16, choices=DonationDirection.choices)
    status = models.CharField(
        _("status"), max_length=16, choices=DonationStatus.choices, default=DonationStatus.RECORDED
    )
    donated_on = models.DateField(_("date"))
    donor_name = models.CharField(_("donor"), max_length=120)
    donor_type = models.CharField(_("donor type"), max_length=16, choices=PartyType.choices)
    # 统一社会信用代码, validated with stdnum.cn.uscc when given.
    donor_credit_code = models.CharField(_("unified social credit code"), max_length=18, blank=True)
    donor_contact = models.CharField(_("donor contact"), max_length=64, blank=True)
    donor_phone = models.CharField(_("donor phone"), max_length=32, blank=True)
    recipient_name = models.CharField(_("recipient"), max_length=120)
    recipient_type = models.CharField(_("recipient type"), max_length=16, choices=PartyType.choices)
    note = models.TextField(_("note"), blank=True)
    acknowledged_at = models.DateTimeField(_("acknowledged"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    MASKED_FIELDS = {"donor_phone": "phone"}

    class Meta:
        verbose_name = _("donation")
        verbose_name_plural = _("donations")
        ordering = ["-donated_on", "-id"]

    def __str__(self) -> str:
        return self.number


class DonationLine(models.Model):
    """What was given: a catalogue item when there is one, else a description and unit."""

    donation = models.ForeignKey(Donation, on_delete=models.CASCADE, related_name="lines")
    item = models.ForeignKey(
        Item, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    description = models.CharField(_("description"), max_length=120, blank=True)
    quantity = models.PositiveBigIntegerField(_("quantity"))
    unit = models.CharField(_("unit"), max_length=8)
    pack = models.ForeignKey(
        Pack, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    pack_count = models.PositiveIntegerField(_("packs"), null=True, blank=True)

    class Meta:
        ordering = ["donation", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="donation_line_positive"),
            models.CheckConstraint(
                condition=Q(item__isnull=False) | ~Q(description=""),
                name="donation_line_described",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.description or self.item_id}×{self.quantity}"
