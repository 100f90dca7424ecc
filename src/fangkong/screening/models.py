"""Mass testing (全员核酸): rounds, pooled tubes, samples, boxes, lab results, positives.

The hot path is the scan (screening.actions.scan): one Sample row per person per tube. A sample
row is its own evidence (who scanned whom, where, when), so scans write no audit entry;
every other write goes through screening.actions with an audit entry (docs/decisions.md).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from fangkong.core.models import ScopedModel

# Pool sizes a zone may use; 0 is one tube per household (一户一管).
HOUSEHOLD_POOL = 0
POOL_SIZE_CHOICES = [
    (1, _("1 per tube (单采单检)")),
    (5, _("5 per tube")),
    (10, _("10 per tube")),
    (20, _("20 per tube")),
    (HOUSEHOLD_POOL, _("one tube per household (一户一管)")),
]
# A household tube still has a ceiling: households above it take a second tube.
HOUSEHOLD_TUBE_CAPACITY = 20


class RoundStatus(models.TextChoices):
    PLANNED = "planned", _("Planned")
    SAMPLING = "sampling", _("Sampling")
    AWAITING_RESULTS = "awaiting", _("Awaiting results")
    CLOSED = "closed", _("Closed")


class Round(ScopedModel):
    """A testing round (第N轮全员核酸) over an area inside a window.

    region_code is the finest region containing the whole area (usually the township or
    county), so the round is visible to whoever works over that area.
    """

    name = models.CharField(_("name"), max_length=100)
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    status = models.CharField(
        _("status"), max_length=16, choices=RoundStatus.choices, default=RoundStatus.PLANNED
    )
    default_pool_size = models.PositiveSmallIntegerField(
        _("default pool size"), choices=POOL_SIZE_CHOICES, default=10
    )
    # Tube barcodes of one round come from one supplier: a typed barcode that does not
    # fit (wrong length or prefix) is caught at scan time. Blank means "anything".
    barcode_prefix = models.CharField(_("tube barcode prefix"), max_length=16, blank=True)
    barcode_length = models.PositiveSmallIntegerField(
        _("tube barcode length"), null=True, blank=True
    )
    target_taken_at = models.DateTimeField(_("target population taken"), null=True, blank=True)
    target_count = models.PositiveIntegerField(_("target population"), default=0)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    notes = models.TextField(_("notes"), blank=True)

    class Meta:
        verbose_name = _("testing round")
        verbose_name_plural = _("testing rounds")
        ordering = ["-starts_at", "-id"]

    def __str__(self) -> str:
        return self.name


class RoundZone(models.Model):
    """A region of the round's area and its pooling (封控区 1:1, 管控区 10:1 ...).

    The round's area is the union of its zones. A site or person belongs to the zone with
    the longest matching code; ``upper_code`` is the exclusive upper bound of the code
    range so "is this code inside" stays an indexed range in SQL.
    """

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="zones")
    region_code = models.CharField(_("region code"), max_length=15)
    upper_code = models.CharField(max_length=16, editable=False)
    label = models.CharField(_("zone"), max_length=32, blank=True)
    pool_size = models.PositiveSmallIntegerField(_("pool size"), choices=POOL_SIZE_CHOICES)

    class Meta:
        verbose_name = _("zone")
        verbose_name_plural = _("zones")
        ordering = ["round", "region_code"]
        constraints = [
            models.UniqueConstraint(fields=["round", "region_code"], name="unique_round_zone")
        ]

    def __str__(self) -> str:
        return f"{self.region_code} {self.pool_size}"


class RoundTarget(models.Model):
    """A person the round must sample (应检人员), frozen when sampling starts.

    ``first_sampled_at`` is set by the scan, so coverage is one aggregate over this table
    and the door-to-door list is its unsampled rows, ``priority`` first (bedridden and
    elderly people lead; see screening.targets).
    """

    # A snapshot written only by take_target_population from existing rows: no database
    # foreign keys (their per-row checks were 5.5 s of a 1,000,000-person start on
    # PostgreSQL); Django still cascades deletes. Indexed by the unique (round, person) and
    # (round, region_code) below, and by person for that cascade.
    round = models.ForeignKey(
        Round, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    person = models.ForeignKey(
        "people.Person", on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    region_code = models.CharField(_("region code"), max_length=15)
    priority = models.PositiveSmallIntegerField(_("priority"), default=1000)
    first_sampled_at = models.DateTimeField(_("sampled"), null=True, blank=True)

    SCOPE_FIELD = "region_code"

    class Meta:
        verbose_name = _("target person")
        verbose_name_plural = _("target population")
        constraints = [
            models.UniqueConstraint(fields=["round", "person"], name="unique_round_target")
        ]
        indexes = [
            models.Index(fields=["round", "region_code"], name="target_round_region_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.round_id}:{self.person_id}"


class TubeStatus(models.TextChoices):
    OPEN = "open", _("Open")
    CLOSED = "closed", _("Closed")
    BOXED = "boxed", _("In a box")
    IN_TRANSIT = "transit", _("Handed to the lab")
    RESULTED = "resulted", _("Resulted")


class TestResult(models.TextChoices):
    NEGATIVE = "negative", _("Negative")  # 阴性
    POOL_POSITIVE = "pool_positive", _("Pool positive")  # 混管阳性
    POSITIVE = "positive", _("Positive")  # 阳性
    INVALID = "invalid", _("Invalid")  # 无效
    RETEST = "retest", _("Re-test")  # 复检


POSITIVE_RESULTS = frozenset({TestResult.POOL_POSITIVE, TestResult.POSITIVE})


class Tube(ScopedModel):
    """A sampling tube (采样管), pooled or single, opened at a site by scanning its barcode.

    region_code is the site's. ``member_count`` is raised by the scan with a guarded
    UPDATE (``member_count < capacity``), which is what keeps two samplers scanning into
    the same tube from overfilling it.
    """

    round = models.ForeignKey(Round, on_delete=models.PROTECT, related_name="tubes", db_index=False)
    site = models.ForeignKey("geo.Site", on_delete=models.PROTECT, related_name="+")
    # Unique and indexed through Meta (not unique=True / db_index=True): on PostgreSQL
    # Django would add a varchar_pattern_ops "_like" index to each, which no query uses
    # (scoping is a range) and which cost a quarter of the result import's tube update.
    region_code = models.CharField(_("region code"), max_length=15)
    barcode = models.CharField(_("tube barcode"), max_length=32)
    capacity = models.PositiveSmallIntegerField(_("capacity"))
    household_mode = models.BooleanField(_("one tube per household"), default=False)
    household = models.ForeignKey(
        "people.Household", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    member_count = models.PositiveSmallIntegerField(_("members"), default=0)
    status = models.CharField(
        _("status"), max_length=16, choices=TubeStatus.choices, default=TubeStatus.OPEN
    )
    opened_at = models.DateTimeField(_("opened"))
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    box = models.ForeignKey(
        "Box", null=True, blank=True, on_delete=models.SET_NULL, related_name="tubes"
    )
    result = models.CharField(_("result"), max_length=16, choices=TestResult.choices, blank=True)
    result_at = models.DateTimeField(_("result time"), null=True, blank=True)

    class Meta:
        verbose_name = _("tube")
        verbose_name_plural = _("tubes")
        ordering = ["-opened_at", "-id"]
        indexes = [
            models.Index(fields=["round", "status"], name="tube_round_status_idx"),
            models.Index(fields=["round", "site", "opened_at"], name="tube_round_site_idx"),
            models.Index(fields=["region_code"], name="tube_region_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["barcode"], name="unique_tube_barcode"),
            models.CheckConstraint(
                condition=Q(member_count__lte=models.F("capacity")), name="tube_not_overfull"
            ),
        ]

    def __str__(self) -> str:
        return self.barcode


class Sample(models.Model):
    """One person sampled into one tube (采样记录).

    region_code is the person's (so a village sees its people's samples and coverage);
    the tube carries the site's. ``removed_at`` marks a mis-scan taken out of a still-open
    tube: the row stays as evidence, and only live rows count.
    """

    # Every index costs every scan: round is led by (round, person) and (round, scanned_at);
    # site and scanned_by have none (only the dashboard reads them, within a round; deleting
    # a site or a user, which nobody does during a round, scans the table once).
    round = models.ForeignKey(Round, on_delete=models.PROTECT, related_name="+", db_index=False)
    tube = models.ForeignKey(Tube, on_delete=models.PROTECT, related_name="samples")
    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="+")
    site = models.ForeignKey("geo.Site", on_delete=models.PROTECT, related_name="+", db_index=False)
    region_code = models.CharField(_("region code"), max_length=15)
    scanned_at = models.DateTimeField(_("scanned"))
    scanned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    in_target = models.BooleanField(_("in the target population"), default=True)
    out_of_area = models.BooleanField(_("from outside the round's area"), default=False)
    repeat_reason = models.CharField(_("reason for sampling again"), max_length=100, blank=True)
    removed_at = models.DateTimeField(_("removed"), null=True, blank=True)

    SCOPE_FIELD = "region_code"

    class Meta:
        verbose_name = _("sample")
        verbose_name_plural = _("samples")
        ordering = ["-scanned_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tube", "person"],
                condition=Q(removed_at__isnull=True),
                name="unique_live_sample_in_tube",
            )
        ]
        indexes = [
            models.Index(fields=["round", "person"], name="sample_round_person_idx"),
            models.Index(fields=["round", "scanned_at"], name="sample_round_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.tube_id}:{self.person_id}"


class BoxStatus(models.TextChoices):
    PACKING = "packing", _("Packing")
    HANDED_OVER = "handed_over", _("Handed to the lab")
    RECEIVED = "received", _("Received by the lab")


class Box(ScopedModel):
    """A transport box (转运箱) of closed tubes; region_code is the site's."""

    round = models.ForeignKey(Round, on_delete=models.PROTECT, related_name="boxes")
    site = models.ForeignKey("geo.Site", on_delete=models.PROTECT, related_name="+")
    barcode = models.CharField(_("box code"), max_length=32)
    status = models.CharField(
        _("status"), max_length=16, choices=BoxStatus.choices, default=BoxStatus.PACKING
    )
    tube_count = models.PositiveIntegerField(_("tubes"), default=0)
    handover = models.ForeignKey(
        "Handover", null=True, blank=True, on_delete=models.SET_NULL, related_name="boxes"
    )

    class Meta:
        verbose_name = _("transport box")
        verbose_name_plural = _("transport boxes")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["round", "barcode"], name="unique_box_in_round")
        ]

    def __str__(self) -> str:
        return self.barcode


class Handover(ScopedModel):
    """Boxes handed to a lab (交接单): time, counts, courier."""

    round = models.ForeignKey(Round, on_delete=models.PROTECT, related_name="handovers")
    site = models.ForeignKey("geo.Site", on_delete=models.PROTECT, related_name="+")
    lab_name = models.CharField(_("lab"), max_length=100)
    courier_name = models.CharField(_("courier"), max_length=64)
    courier_phone = models.CharField(_("courier phone"), max_length=32, blank=True)
    handed_at = models.DateTimeField(_("handed over"))
    box_count = models.PositiveIntegerField(_("boxes"), default=0)
    tube_count = models.PositiveIntegerField(_("tubes"), default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    MASKED_FIELDS = {"courier_phone": "phone"}

    class Meta:
        verbose_name = _("handover")
        verbose_name_plural = _("handovers")
        ordering = ["-handed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.lab_name} {self.handed_at:%Y-%m-%d %H:%M}"


class ResultRecord(models.Model):
    """Every result line received for a tube (检测结果), kept as history.

    The tube holds the latest result; re-importing the same line finds the same
    (tube, result, reported_at) and changes nothing.
    """

    tube = models.ForeignKey(Tube, on_delete=models.PROTECT, related_name="results")
    result = models.CharField(_("result"), max_length=16, choices=TestResult.choices)
    reported_at = models.DateTimeField(_("result time"))
    lab_name = models.CharField(_("lab"), max_length=100, blank=True)
    received_at = models.DateTimeField(_("received"), auto_now_add=True)
    job_id = models.CharField(max_length=36, blank=True)

    class Meta:
        verbose_name = _("result record")
        verbose_name_plural = _("result records")
        ordering = ["-reported_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tube", "result", "reported_at"], name="unique_result_line"
            )
        ]

    def __str__(self) -> str:
        return f"{self.tube_id} {self.result}"


class CaseStatus(models.TextChoices):
    OPEN = "open", _("Open")
    CLOSED = "closed", _("Closed")


class PositiveCase(ScopedModel):
    """A positive tube to trace (阳性追踪): a positive pool or a positive single tube.

    region_code is the tube's (the site's); the members' tasks carry their own villages.
    """

    round = models.ForeignKey(Round, on_delete=models.PROTECT, related_name="+")
    tube = models.OneToOneField(Tube, on_delete=models.PROTECT, related_name="case")
    result = models.CharField(_("result"), max_length=16, choices=TestResult.choices)
    result_at = models.DateTimeField(_("result time"))
    status = models.CharField(
        _("status"), max_length=16, choices=CaseStatus.choices, default=CaseStatus.OPEN
    )
    member_count = models.PositiveSmallIntegerField(_("members"), default=0)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    close_note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("positive case")
        verbose_name_plural = _("positive cases")
        ordering = ["-result_at", "-id"]
        indexes = [models.Index(fields=["status", "result_at"], name="case_status_time_idx")]

    def __str__(self) -> str:
        return f"{self.tube_id} {self.result}"


class ControlMeasure(models.TextChoices):
    IN_PLACE = "in_place", _("Controlled where they are")  # 就地管控
    HOME = "home", _("Home isolation")  # 居家隔离
    CENTRALIZED = "centralized", _("Centralized isolation")  # 集中隔离
    HOSPITAL = "hospital", _("Sent to hospital")  # 转运就医


class TaskStatus(models.TextChoices):
    PENDING = "pending", _("To re-sample")  # 待单采
    RESAMPLED = "resampled", _("Re-sampled")  # 已单采
    NEGATIVE = "negative", _("Negative")
    POSITIVE = "positive", _("Positive")
    CANCELLED = "cancelled", _("Cancelled")


class ResampleTask(ScopedModel):
    """Re-sample one member of a positive tube on their own (单采), assigned to their village.

    ``controlled_at`` records the control measure taken (screening.actions.mark_controlled);
    the isolation work builds its orders on it.
    """

    case = models.ForeignKey(PositiveCase, on_delete=models.CASCADE, related_name="tasks")
    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        _("status"), max_length=16, choices=TaskStatus.choices, default=TaskStatus.PENDING
    )
    controlled_at = models.DateTimeField(_("controlled"), null=True, blank=True)
    controlled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    control_measure = models.CharField(
        _("control measure"), max_length=16, choices=ControlMeasure.choices, blank=True
    )
    control_note = models.CharField(_("note"), max_length=200, blank=True)
    resample_tube = models.ForeignKey(
        Tube, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resampled_at = models.DateTimeField(_("re-sampled"), null=True, blank=True)

    class Meta:
        verbose_name = _("re-sampling task")
        verbose_name_plural = _("re-sampling tasks")
        ordering = ["case", "region_code", "id"]
        constraints = [
            models.UniqueConstraint(fields=["case", "person"], name="unique_task_per_member")
        ]

    def __str__(self) -> str:
        return f"{self.case_id}:{self.person_id}"
