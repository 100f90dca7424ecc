"""django-tables2 table of the person list: identities masked, tags from the prefetch."""

from __future__ import annotations

from typing import Any

import django_tables2 as tables
from django.utils.html import format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from fangkong.core.masking import mask
from fangkong.people.models import Person
from fangkong.people.queries import age_on


class PersonTable(tables.Table):
    # Ticked rows go to the bulk-tag form below the table (HTML form= attribute).
    select = tables.CheckBoxColumn(
        accessor="pk",
        attrs={
            "td__input": {"form": "bulk-tag-form", "name": "persons"},
            "th__input": {"hidden": "hidden"},
        },
    )
    name = tables.Column(
        verbose_name=pgettext_lazy("person", "Name"),
        linkify=("people:person_detail", {"pk": tables.A("pk")}),
        order_by=("name_pinyin", "id"),
    )
    sex = tables.Column(verbose_name=_("Sex"), default="")
    age = tables.Column(verbose_name=_("Age"), accessor="birth_date", default="")
    id_number = tables.Column(verbose_name=_("Document"), orderable=False, default="")
    phone = tables.Column(verbose_name=_("Phone"), orderable=False, default="")
    region_name = tables.Column(
        verbose_name=_("Village"), order_by=("region_code", "name_pinyin"), default="—"
    )
    residence_status = tables.Column(verbose_name=_("Residence status"))
    tags = tables.Column(verbose_name=_("Key groups"), accessor="pk", orderable=False)

    class Meta:
        model = Person
        fields = (
            "select",
            "name",
            "sex",
            "age",
            "id_number",
            "phone",
            "region_name",
            "residence_status",
            "tags",
        )
        attrs = {"class": "table table-sm table-hover align-middle", "data-testid": "person-table"}
        order_by = ("region_code", "name_pinyin")
        empty_text = _("No people match.")

    def render_sex(self, record: Person) -> str:
        return str(record.get_sex_display()) if record.sex else ""

    def render_age(self, value: Any) -> Any:
        return age_on(value)

    def render_id_number(self, record: Person) -> str:
        label = record.get_id_type_display()
        return f"{mask('id', record.id_number)} ({label})" if record.id_number else str(label)

    def render_phone(self, value: str) -> str:
        return str(mask("phone", value))

    def render_residence_status(self, record: Person) -> str:
        return str(record.get_residence_status_display())

    def render_tags(self, record: Person) -> SafeString:
        return format_html_join(
            " ",
            '<span class="badge text-bg-warning">{}</span>',
            ((tag.group.name,) for tag in record.tags.all()),
        ) or mark_safe("")
