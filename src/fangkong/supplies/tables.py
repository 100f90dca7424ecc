"""Tables of the catalogue and document lists (django-tables2); other areas add their own."""

from __future__ import annotations

from typing import Any

import django_tables2 as tables
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from fangkong.supplies.models import DocumentStatus, Item, StockDocument

STATUS_BADGE = {
    DocumentStatus.POSTED: "success",
    DocumentStatus.REVERSED: "secondary",
    DocumentStatus.DRAFT: "warning",
    DocumentStatus.CANCELLED: "secondary",
}


class ItemTable(tables.Table):
    code = tables.Column(
        verbose_name=_("Code"), linkify=("supplies:item_detail", {"pk": tables.A("pk")})
    )
    name = tables.Column(verbose_name=_("Name"))
    specification = tables.Column(verbose_name=_("Specification"))
    category = tables.Column(verbose_name=_("Category"))
    base_unit = tables.Column(verbose_name=_("Base unit"))
    tracks_lots = tables.BooleanColumn(verbose_name=_("Tracks lots"))
    active = tables.BooleanColumn(verbose_name=_("Active"))

    class Meta:
        model = Item
        fields = (
            "code",
            "name",
            "specification",
            "category",
            "base_unit",
            "tracks_lots",
            "active",
        )
        attrs = {"class": "table table-sm table-hover align-middle", "data-testid": "item-table"}
        empty_text = _("No items match.")


class DocumentTable(tables.Table):
    number = tables.Column(
        verbose_name=pgettext_lazy("stock document", "Number"),
        linkify=("supplies:document_detail", {"pk": tables.A("pk")}),
    )
    kind = tables.Column(verbose_name=_("Kind"))
    status = tables.Column(verbose_name=_("Status"))
    effective_at = tables.DateTimeColumn(format="Y-m-d H:i", verbose_name=_("Effective time"))
    source = tables.Column(verbose_name=_("From"), default="")
    destination = tables.Column(verbose_name=_("To"), default="")
    party = tables.Column(verbose_name=_("Supplier or recipient"), empty_values=(), orderable=False)

    class Meta:
        model = StockDocument
        fields = ("number", "kind", "status", "effective_at", "source", "destination", "party")
        attrs = {
            "class": "table table-sm table-hover align-middle",
            "data-testid": "document-table",
        }
        empty_text = _("No documents match.")

    def render_status(self, value: str, record: StockDocument) -> Any:
        return format_html(
            '<span class="badge text-bg-{}">{}</span>',
            STATUS_BADGE.get(DocumentStatus(record.status), "light"),
            record.get_status_display(),
        )

    def render_kind(self, value: str, record: StockDocument) -> str:
        return str(record.get_kind_display())

    def render_party(self, record: StockDocument) -> str:
        return record.supplier or record.recipient_name or record.get_reason_display() or ""
