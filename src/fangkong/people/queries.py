"""Reads on the people ledger (other apps use these, not the models' managers)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q, QuerySet

from fangkong.accounts.roles import Perm
from fangkong.core.masking import mask
from fangkong.core.queries import with_region_name
from fangkong.core.scoping import restrict
from fangkong.people import search
from fangkong.people.models import Household, KeyGroup, Person

SEARCH_LIMIT = 50
DUPLICATE_LIMIT = 10


def visible_persons(user: Any, permission: str = Perm.VIEW_PEOPLE) -> QuerySet[Person]:
    """Live (not merged) persons in the user's scope, each with ``region_name``."""
    scoped = restrict(Person.objects.filter(merged_into__isnull=True), user, permission)
    return with_region_name(scoped)


def visible_households(user: Any, permission: str = Perm.VIEW_PEOPLE) -> QuerySet[Household]:
    return with_region_name(restrict(Household.objects.all(), user, permission))


def list_queryset(user: Any, permission: str = Perm.VIEW_PEOPLE) -> QuerySet[Person]:
    """What the list page, API list and export start from (tags prefetched: one query)."""
    return (
        visible_persons(user, permission)
        .select_related("household")
        .prefetch_related("tags__group")
        .order_by("region_code", "name_pinyin", "id")
    )


def search_persons(
    user: Any, text: str, limit: int = SEARCH_LIMIT, permission: str = Perm.VIEW_PEOPLE
) -> QuerySet[Person]:
    """Persons in scope matching the search box (see people.search), at most ``limit``.

    One query per part of the plan (an indexed range in its own order, with the scope
    range and a LIMIT), then one for the rows: 2 to 3 queries of a few ms each.
    """
    found = search.plan(text)
    if not found.parts:
        return Person.objects.none()
    scoped = restrict(Person.objects.filter(merged_into__isnull=True), user, permission)
    ids: list[int] = []
    for condition, field in found.parts:
        ids += scoped.filter(condition).order_by(field, "id").values_list("pk", flat=True)[:limit]
    return with_region_name(scoped.filter(pk__in=ids)).order_by("name_key", "id")[:limit]


def apply_search(queryset: QuerySet[Person], text: str) -> QuerySet[Person]:
    found = search.plan(text)
    if found.condition is None:
        return queryset
    return queryset.filter(found.condition)


def possible_duplicates(
    user: Any,
    *,
    name: str,
    phone: str = "",
    birth_date: dt.date | None = None,
    exclude: int | None = None,
) -> list[Person]:
    """Persons in the user's scope with the same name and phone, or name and birth date
    (the warning shown when someone without a mainland ID is registered)."""
    from fangkong.people.names import name_keys

    if not name or not (phone or birth_date):
        return []
    key = name_keys(name)[0]
    condition = Q()
    if phone:
        from fangkong.people.identity import reversed_key

        digits = "".join(ch for ch in phone if ch.isdigit())
        condition |= Q(phone_reversed=reversed_key(digits))
    if birth_date:
        condition |= Q(birth_date=birth_date)
    qs = restrict(Person.objects.filter(merged_into__isnull=True), user, Perm.VIEW_PEOPLE)
    qs = with_region_name(qs.filter(condition, name_key=key))
    if exclude is not None:
        qs = qs.exclude(pk=exclude)
    return list(qs.order_by("id")[:DUPLICATE_LIMIT])


def active_key_groups() -> QuerySet[KeyGroup]:
    return KeyGroup.objects.filter(active=True).order_by("priority", "code")


def age_on(birth: dt.date | None, day: dt.date | None = None) -> int | None:
    if birth is None:
        return None
    today = day or dt.date.today()
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def masked_identity(person: Person) -> dict[str, str]:
    """The sensitive fields as every page and response shows them by default."""
    return {
        "id_number": mask("id", person.id_number) or "",
        "phone": mask("phone", person.phone) or "",
        "phone_alt": mask("phone", person.phone_alt) or "",
        "address": mask("address", person.address) or "",
    }


def revealed_identity(person: Person) -> dict[str, str]:
    return {
        "id_number": person.id_number,
        "phone": person.phone,
        "phone_alt": person.phone_alt,
        "address": person.address,
    }
