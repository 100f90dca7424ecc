"""Tables for core's lists, and ``paginate_table`` that every app's list can use."""

from __future__ import annotations

from typing import Any

import django_tables2 as tables
from django.apps import apps
from django.core.paginator import EmptyPage, PageNotAnInteger
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django_tables2 import RequestConfig

from fangkong.core.models import AccessLogEntry, AuditEntry, Job

DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 500


def _int(raw: str | None, default: int) -> int:
    try:
        return int(raw or default)
    except (TypeError, ValueError):
        return default


def paginate_table(
    request: HttpRequest, table: tables.Table, per_page: int = DEFAULT_PER_PAGE
) -> tables.Table:
    """Sort from ?sort=, paginate from ?page= and ?per_page= (clamped to 1..500).

    django-tables2's own RequestConfig pagination trusts ?per_page= (0 divides by zero,
    10**9 reads the whole table); this clamps it and lands on the last page when ?page=
    runs past the end.
    """
    RequestConfig(request, paginate=False).configure(table)
    size = max(1, min(MAX_PER_PAGE, _int(request.GET.get(table.prefixed_per_page_field), per_page)))
    page = max(1, _int(request.GET.get(table.prefixed_page_field), 1))
    try:
        table.paginate(per_page=size, page=page)
    except (EmptyPage, PageNotAnInteger):
        table.paginate(per_page=size, page=table.paginator.num_pages)
    return table


def object_type_label(label: str) -> str:
    """ "geo.site" → "site" (the model's name in the user's language), else the label."""
    try:
        return str(apps.get_model(label)._meta.verbose_name)
    except (LookupError, ValueError):
        return label


class RegionColumn(tables.Column):
    """A region code with its name (the queryset annotates ``region_name``)."""

    def render(self, value: str, record: Any) -> str:
        name = getattr(record, "region_name", None)
        if name:
            return format_html('{} <small class="text-muted">{}</small>', name, value)
        return value


class AuditTable(tables.Table):
    created_at = tables.DateTimeColumn(
        format="Y-m-d H:i:s",
        verbose_name=_("Time"),
        linkify=("core:audit_detail", {"pk": tables.A("pk")}),
    )
    actor_name = tables.Column(verbose_name=_("User"))
    action = tables.Column(verbose_name=_("Action"))
    object_type = tables.Column(verbose_name=_("Object type"))
    object_repr = tables.Column(verbose_name=_("Object"))
    region_code = RegionColumn(verbose_name=_("Region"))
    source = tables.Column(verbose_name=_("Source"))

    class Meta:
        model = AuditEntry
        fields = (
            "created_at",
            "actor_name",
            "action",
            "object_type",
            "object_repr",
            "region_code",
            "source",
        )
        attrs = {"class": "table table-sm table-hover align-middle", "data-testid": "audit-table"}
        empty_text = _("No audit entries match.")

    def render_object_type(self, value: str) -> str:
        return object_type_label(value)


class AccessLogTable(tables.Table):
    created_at = tables.DateTimeColumn(format="Y-m-d H:i:s", verbose_name=_("Time"))
    user_name = tables.Column(verbose_name=_("User"))
    kind = tables.Column(verbose_name=_("Kind"))
    object_type = tables.Column(verbose_name=_("Object type"))
    object_id = tables.Column(verbose_name=_("Object id"))
    region_code = RegionColumn(verbose_name=_("Region"))
    row_count = tables.Column(verbose_name=_("Rows"))
    unmasked = tables.BooleanColumn(verbose_name=_("Unmasked"))
    fields = tables.Column(verbose_name=_("Fields"), orderable=False)
    detail = tables.Column(verbose_name=_("Detail"), orderable=False)

    class Meta:
        model = AccessLogEntry
        fields = (
            "created_at",
            "user_name",
            "kind",
            "object_type",
            "object_id",
            "region_code",
            "row_count",
            "unmasked",
            "fields",
            "detail",
        )
        attrs = {"class": "table table-sm table-hover align-middle", "data-testid": "access-table"}
        empty_text = _("No reveals or exports match.")

    def render_object_type(self, value: str) -> str:
        return object_type_label(value)

    def render_fields(self, value: Any) -> str:
        return "、".join(str(v) for v in value) if isinstance(value, list) else str(value)


class JobTable(tables.Table):
    title = tables.Column(
        verbose_name=_("Job"), linkify=("core:job_detail", {"pk": tables.A("pk")})
    )
    kind = tables.Column(verbose_name=_("Kind"))
    status = tables.Column(verbose_name=_("Status"))
    progress = tables.TemplateColumn(
        template_name="core/_job_progress_cell.html", verbose_name=_("Progress"), orderable=False
    )
    owner = tables.Column(verbose_name=_("Started by"), default=_("system"))
    region_code = RegionColumn(verbose_name=_("Region"))
    created_at = tables.DateTimeColumn(format="Y-m-d H:i", verbose_name=_("Created"))
    finished_at = tables.DateTimeColumn(format="Y-m-d H:i", verbose_name=_("Finished"))

    class Meta:
        model = Job
        fields = (
            "title",
            "kind",
            "status",
            "progress",
            "owner",
            "region_code",
            "created_at",
            "finished_at",
        )
        attrs = {"class": "table table-sm table-hover align-middle", "data-testid": "job-table"}
        empty_text = _("No jobs yet.")
