"""People (人员台账): persons, households, key-group tags and returnee records."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from fangkong.core.models import ScopedModel, region_code_field
from fangkong.people.identity import IdType, Sex


class ResidenceStatus(models.TextChoices):
    RESIDENT = "resident", _("Resident")  # 常住
    TEMPORARY = "temporary", _("Temporary")  # 暂住
    AWAY = "away", _("Away")  # 外出


class Household(ScopedModel):
    """A household (户). The head is one of its members."""

    label = models.CharField(_("household"), max_length=100, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    head = models.ForeignKey(
        "Person", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    MASKED_FIELDS = {"address": "address"}

    class Meta:
        verbose_name = _("household")
        verbose_name_plural = _("households")

    def __str__(self) -> str:
        return self.label or f"#{self.pk}"


class Person(ScopedModel):
    """A person in the ledger. One person, one record: a mainland ID is unique install-wide."""

    # Indexed in Meta.indexes, not with db_index: on PostgreSQL db_index=True on a
    # CharField adds a second, varchar_pattern_ops index for LIKE 'x%', which nothing here
    # runs (search and scope are ranges: people.search, core.scoping), and every write
    # pays for (an import's COPY too).
    region_code = models.CharField(_("region code"), max_length=15)
    name = models.CharField(_("name"), max_length=64)
    # Search keys (see people.names): simplified name, full pinyin, initials.
    name_key = models.CharField(max_length=64, editable=False)
    name_pinyin = models.CharField(max_length=128, editable=False)
    name_initials = models.CharField(max_length=32, editable=False)
    id_type = models.CharField(
        _("document type"), max_length=16, choices=IdType.choices, default=IdType.MAINLAND
    )
    id_number = models.CharField(_("document number"), max_length=32, blank=True)
    # The number reversed: "last 4 or 6 digits" is then an indexed prefix range.
    id_reversed = models.CharField(max_length=32, blank=True, editable=False)
    sex = models.CharField(_("sex"), max_length=1, choices=Sex.choices, blank=True)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    phone_reversed = models.CharField(max_length=32, blank=True, editable=False)
    phone_alt = models.CharField(_("other phone"), max_length=32, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    # Most people have no household (an imported ledger rarely says) and very few are
    # merged: both are indexed only where set (Meta.indexes).
    household = models.ForeignKey(
        Household,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="members",
        db_index=False,
    )
    residence_status = models.CharField(
        _("residence status"),
        max_length=16,
        choices=ResidenceStatus.choices,
        default=ResidenceStatus.RESIDENT,
    )
    notes = models.TextField(_("notes"), blank=True)
    # The fingerprint of the ledger row this person was last imported from: a re-import
    # counts that same row unchanged without checking it (core.importing.fingerprints).
    # Not indexed: an import reads its region's fingerprints in one pass.
    import_fingerprint = models.BigIntegerField(null=True, blank=True, editable=False)
    # A merged duplicate stays (its history is evidence) but points at the kept record.
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )

    # Not in audit entries (core.audit.snapshot): the import's bookkeeping, not a change.
    UNAUDITED_FIELDS = frozenset({"import_fingerprint"})

    MASKED_FIELDS = {
        "id_number": "id",
        "phone": "phone",
        "phone_alt": "phone",
        "address": "address",
        "id_reversed": "id",
        "phone_reversed": "phone",
    }

    class Meta:
        verbose_name = _("person")
        verbose_name_plural = _("people")
        ordering = ["region_code", "name_pinyin", "id"]
        indexes = [
            models.Index(fields=["region_code"], name="person_region_idx"),
            models.Index(fields=["name_key"], name="person_name_key_idx"),
            models.Index(fields=["name_pinyin"], name="person_pinyin_idx"),
            models.Index(fields=["name_initials"], name="person_initials_idx"),
            models.Index(fields=["id_reversed"], name="person_id_reversed_idx"),
            models.Index(fields=["phone_reversed"], name="person_phone_reversed_idx"),
            models.Index(
                fields=["household"],
                condition=Q(household__isnull=False),
                name="person_household_idx",
            ),
            models.Index(
                fields=["merged_into"],
                condition=Q(merged_into__isnull=False),
                name="person_merged_into_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["id_type", "id_number"],
                condition=~Q(id_number="") & Q(merged_into__isnull=True),
                name="unique_identity_document",
            )
        ]

    def __str__(self) -> str:
        return self.name


class KeyGroup(models.Model):
    """A configurable key-population category (重点人群): close contact, bedridden, ..."""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=64)
    priority = models.PositiveSmallIntegerField(
        _("priority"), default=100, help_text=_("Lower comes first in door-to-door lists.")
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("key group")
        verbose_name_plural = _("key groups")
        ordering = ["priority", "code"]

    def __str__(self) -> str:
        return self.name


class PersonTag(ScopedModel):
    """A person's membership of a key group, with its dates and a note."""

    # No index of its own: the unique (person, group) index leads with it and serves
    # lookups by person (people migration 0004).
    person = models.ForeignKey(
        Person, on_delete=models.CASCADE, related_name="tags", db_index=False
    )
    # The person's region, for the record's own scope (DESIGN rule 1), but not indexed:
    # tags are reached through their person, never listed by region (people migration
    # 0005; an import wrote two index entries per tag for it on PostgreSQL).
    region_code = region_code_field(db_index=False)
    group = models.ForeignKey(KeyGroup, on_delete=models.PROTECT, related_name="+")
    since = models.DateField(_("since"), null=True, blank=True)
    until = models.DateField(_("until"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("key-group tag")
        verbose_name_plural = _("key-group tags")
        constraints = [
            models.UniqueConstraint(fields=["person", "group"], name="unique_person_group")
        ]

    def __str__(self) -> str:
        return f"{self.person_id}:{self.group_id}"


class OriginRisk(models.TextChoices):
    LOW = "low", _("Low risk")
    MEDIUM = "medium", _("Medium risk")
    HIGH = "high", _("High risk")
    UNKNOWN = "", _("Unknown")


class ReturneeRecord(ScopedModel):
    """One return to the village (返乡登记): from where, when, how."""

    # No index of its own: unique_return leads with it (people migration 0004).
    person = models.ForeignKey(
        Person, on_delete=models.CASCADE, related_name="returns", db_index=False
    )
    # Not indexed, as PersonTag.region_code: returns are reached through their person.
    region_code = region_code_field(db_index=False)
    origin = models.CharField(_("origin"), max_length=100)
    arrival_date = models.DateField(_("arrival date"))
    transport = models.CharField(_("transport"), max_length=100, blank=True)
    origin_risk = models.CharField(
        _("risk level of the origin"), max_length=8, choices=OriginRisk.choices, blank=True
    )
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("returnee record")
        verbose_name_plural = _("returnee records")
        ordering = ["-arrival_date"]
        constraints = [
            models.UniqueConstraint(
                fields=["person", "arrival_date", "origin"], name="unique_return"
            )
        ]

    def __str__(self) -> str:
        return f"{self.origin} {self.arrival_date}"
