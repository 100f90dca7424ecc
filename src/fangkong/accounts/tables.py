"""The user list table (django-tables2); rows come from ``queries.user_list``."""

from __future__ import annotations

from typing import Any

import django_tables2 as tables
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from fangkong.accounts.models import User
from fangkong.accounts.roles import role_label


class UserTable(tables.Table):
    username = tables.Column(
        verbose_name=_("Username"), linkify=("accounts:user_detail", {"pk": tables.A("pk")})
    )
    display_name = tables.Column(verbose_name=_("Name"))
    region_code = tables.Column(verbose_name=_("Home region"))
    roles = tables.Column(verbose_name=_("Roles"), empty_values=(), orderable=False)
    organization = tables.Column(verbose_name=_("Work unit"))
    is_active = tables.BooleanColumn(verbose_name=_("Active"))
    last_login = tables.DateTimeColumn(verbose_name=_("Last login"), format="Y-m-d H:i")

    class Meta:
        model = User
        fields = ("username", "display_name", "region_code", "organization", "is_active")
        sequence = (
            "username",
            "display_name",
            "region_code",
            "roles",
            "organization",
            "is_active",
            "last_login",
        )
        attrs = {"class": "table table-sm table-hover align-middle", "data-testid": "user-table"}
        empty_text = _("No users match.")

    def render_region_code(self, value: str, record: Any) -> Any:
        name = getattr(record, "home_region_name", "") or ""
        return format_html('{} <small class="text-muted">{}</small>', name, value)

    def render_roles(self, record: Any) -> Any:
        # role_assignments is prefetched with region names (queries.user_list).
        return format_html_join(
            " ",
            '<span class="badge text-bg-light border">{}·{}</span>',
            (
                (role_label(a.role), getattr(a, "region_name", None) or a.region_code)
                for a in record.role_assignments.all()
            ),
        )
