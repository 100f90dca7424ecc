"""django-tables2 tables of the geo pages."""

from __future__ import annotations

import django_tables2 as tables
from django.utils.translation import gettext_lazy as _

from fangkong.geo.models import Site


class SiteTable(tables.Table):
    name = tables.Column(
        verbose_name=_("Name"), linkify=("geo:site_detail", {"pk": tables.A("pk")})
    )
    kind = tables.Column(verbose_name=_("Kind"))
    region_name = tables.Column(
        verbose_name=_("Region"), order_by=("region_code", "name"), default="—"
    )
    address = tables.Column(verbose_name=_("Address"), default="")
    contact_name = tables.Column(verbose_name=_("Contact person"), default="")
    contact_phone = tables.Column(verbose_name=_("Contact phone"), default="")
    active = tables.BooleanColumn(verbose_name=_("Active"))

    class Meta:
        model = Site
        fields = (
            "name",
            "kind",
            "region_name",
            "address",
            "contact_name",
            "contact_phone",
            "active",
        )
        attrs = {"class": "table table-sm table-hover align-middle", "data-testid": "site-table"}
        row_attrs = {"class": lambda record: "" if record.active else "text-muted"}
        order_by = ("region_code", "name")
        empty_text = _("No sites match.")
