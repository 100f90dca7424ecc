"""Regions (the NBS division tree) and sites (places where work happens)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from fangkong.core.models import ScopedModel
from fangkong.core.regioncodes import LEVEL_LABELS, Level


class Region(models.Model):
    """An administrative division (行政区划) identified by its NBS code.

    Province (2 digits) → city (4) → county (6) → township (9) → village (12);
    village groups (村民小组, 15) may be added below a village by hand.
    """

    code = models.CharField(_("code"), max_length=15, primary_key=True)
    name = models.CharField(_("official name"), max_length=100)
    short_name = models.CharField(_("short name"), max_length=100, db_index=True)
    level = models.PositiveSmallIntegerField(
        _("level"), choices=[(int(k), v) for k, v in LEVEL_LABELS.items()]
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )

    SCOPE_FIELD = "code"

    class Meta:
        verbose_name = _("region")
        verbose_name_plural = _("regions")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.short_name or self.name

    @property
    def level_enum(self) -> Level:
        return Level(self.level)


class SiteKind(models.TextChoices):
    TESTING_SITE = "testing_site", _("Testing site")  # 核酸采样点
    CHECKPOINT = "checkpoint", _("Checkpoint")  # 卡点
    WAREHOUSE = "warehouse", _("Warehouse")  # 仓库 / 物资站
    ISOLATION_SITE = "isolation_site", _("Isolation site")  # 集中隔离点
    OFFICE = "office", _("Office")  # 办公场所 / 指挥部
    OTHER = "other", _("Other")


class Site(ScopedModel):
    """A place with a purpose (场所): testing site, checkpoint, depot, isolation site, office."""

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=32, choices=SiteKind.choices, db_index=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    contact_name = models.CharField(_("contact person"), max_length=64, blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=32, blank=True)
    active = models.BooleanField(_("active"), default=True)
    notes = models.TextField(_("notes"), blank=True)

    # A site's address and duty phone are posted at the site: not personal data to mask.
    MASKED_FIELDS: dict[str, str] = {}

    class Meta:
        verbose_name = _("site")
        verbose_name_plural = _("sites")
        ordering = ["region_code", "name"]
        constraints = [
            models.UniqueConstraint(fields=["region_code", "name"], name="unique_site_name")
        ]

    def __str__(self) -> str:
        return self.name
