"""Tables of the round list and a round's tubes (django-tables2)."""

from __future__ import annotations

from typing import Any

import django_tables2 as tables
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from fangkong.core.tables import RegionColumn
from fangkong.screening.models import Round, RoundStatus, Tube, TubeStatus

ROUND_BADGE = {
    RoundStatus.PLANNED: "secondary",
    RoundStatus.SAMPLING: "primary",
    RoundStatus.AWAITING_RESULTS: "warning",
    RoundStatus.CLOSED: "success",
}
TUBE_BADGE = {
    TubeStatus.OPEN: "primary",
    TubeStatus.CLOSED: "secondary",
    TubeStatus.BOXED: "info",
    TubeStatus.IN_TRANSIT: "warning",
    TubeStatus.RESULTED: "success",
}
RESULT_BADGE = {"pool_positive": "danger", "positive": "danger", "negative": "success"}


def badge(css: str, text: Any) -> str:
    return format_html('<span class="badge text-bg-{}">{}</span>', css, text)


class RoundTable(tables.Table):
    name = tables.Column(
        verbose_name=_("Name"), linkify=("screening:round_detail", {"pk": tables.A("pk")})
    )
    status = tables.Column(verbose_name=_("Status"))
    region_code = RegionColumn(verbose_name=_("Area"))
    starts_at = tables.DateTimeColumn(format="Y-m-d H:i", verbose_name=_("Starts"))
    ends_at = tables.DateTimeColumn(format="Y-m-d H:i", verbose_name=_("Ends"))
    target_count = tables.Column(verbose_name=_("Target population"))

    class Meta:
        model = Round
        fields = ("name", "status", "region_code", "starts_at", "ends_at", "target_count")
        attrs = {"class": "table table-sm table-hover align-middle", "data-testid": "round-table"}
        empty_text = _("No testing rounds.")

    def render_status(self, value: str, record: Round) -> str:
        return badge(
            ROUND_BADGE.get(RoundStatus(record.status), "light"), record.get_status_display()
        )

    def render_target_count(self, value: int, record: Round) -> Any:
        return value if record.target_taken_at else "—"


class TubeTable(tables.Table):
    barcode = tables.Column(verbose_name=_("Tube barcode"))
    site = tables.Column(verbose_name=_("Site"), accessor="site__name")
    status = tables.Column(verbose_name=_("Status"))
    members = tables.Column(
        verbose_name=_("People"), accessor="member_count", order_by=("member_count",)
    )
    opened_at = tables.DateTimeColumn(format="m-d H:i", verbose_name=_("Opened"))
    result = tables.Column(verbose_name=_("Result"), default="")

    class Meta:
        model = Tube
        fields = ("barcode", "site", "status", "members", "opened_at", "result")
        attrs = {"class": "table table-sm table-hover align-middle", "data-testid": "tube-table"}
        empty_text = _("No tubes yet.")

    def render_status(self, value: str, record: Tube) -> str:
        return badge(
            TUBE_BADGE.get(TubeStatus(record.status), "light"), record.get_status_display()
        )

    def render_members(self, value: int, record: Tube) -> str:
        return f"{value}/{record.capacity}"

    def render_result(self, value: str, record: Tube) -> str:
        if not value:
            return "—"
        when = (
            timezone.localtime(record.result_at).strftime("%m-%d %H:%M") if record.result_at else ""
        )
        return format_html(
            "{} <small class='text-muted'>{}</small>",
            badge(RESULT_BADGE.get(value, "secondary"), record.get_result_display()),
            when,
        )
