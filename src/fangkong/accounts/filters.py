"""The one FilterSet for users, shared by the user list page and GET /api/v1/accounts/users."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext_lazy as _

from fangkong.accounts.forms import BootstrapMixin, RegionCodeField
from fangkong.accounts.models import RoleAssignment, User
from fangkong.accounts.roles import Role
from fangkong.accounts.validation import nfkc
from fangkong.core.regioncodes import upper_bound


@lru_cache(maxsize=1)
def _to_simplified() -> Any:
    import opencc

    return opencc.OpenCC("t2s")


class RegionCodeFilter(django_filters.CharFilter):
    field_class = RegionCodeField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("must_exist", False)
        kwargs.setdefault("help_text", "")
        super().__init__(*args, **kwargs)


class FilterForm(BootstrapMixin, forms.Form):
    pass


ACTIVE_CHOICES = [("true", _("Active")), ("false", _("Deactivated"))]


class UserFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label=_("Search"),
        method="filter_text",
        max_length=100,
        widget=forms.TextInput(attrs={"placeholder": _("Username, name or work unit")}),
    )
    role = django_filters.ChoiceFilter(
        label=_("Role"), choices=Role.choices, method="filter_role", empty_label=_("All roles")
    )
    region = RegionCodeFilter(label=_("Home region (and below)"), method="filter_region")
    active = django_filters.ChoiceFilter(
        label=_("Status"), choices=ACTIVE_CHOICES, method="filter_active", empty_label=_("All")
    )

    class Meta:
        model = User
        fields: list[str] = []
        form = FilterForm

    def filter_active(self, queryset: QuerySet[User], name: str, value: str) -> QuerySet[User]:
        if value not in {"true", "false"}:
            return queryset
        return queryset.filter(is_active=value == "true")

    def filter_text(self, queryset: QuerySet[User], name: str, value: str) -> QuerySet[User]:
        text = nfkc(value)
        if not text:
            return queryset
        # Traditional characters typed by some users find the simplified spelling too.
        variants = {text, _to_simplified().convert(text)}
        condition = Q()
        for variant in variants:
            condition |= (
                Q(username__icontains=variant)
                | Q(display_name__icontains=variant)
                | Q(organization__icontains=variant)
            )
        return queryset.filter(condition)

    def filter_role(self, queryset: QuerySet[User], name: str, value: str) -> QuerySet[User]:
        if not value:
            return queryset
        holds = RoleAssignment.objects.filter(user=OuterRef("pk"), role=value)
        return queryset.filter(Exists(holds))

    def filter_region(self, queryset: QuerySet[User], name: str, value: str) -> QuerySet[User]:
        if not value:
            return queryset
        return queryset.filter(region_code__gte=value, region_code__lt=upper_bound(value))
