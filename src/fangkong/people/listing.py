"""The person list's filter applied the same way everywhere: the list page, the API list,
the export (page and API) and "select all matching" for bulk tagging.

Each caller passes the user and the filter parameters (a QueryDict or a plain dict of the
list's query string); the scope comes from the user's roles only, never from the data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import QueryDict
from django.http.response import HttpResponseBase
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.utils.translation import pgettext_lazy

from fangkong.accounts.roles import Perm
from fangkong.core.exports import Column, Export, export_region_code, export_response
from fangkong.core.masking import mask
from fangkong.core.scoping import has_permission, restrict
from fangkong.people import queries
from fangkong.people.filters import PersonFilter
from fangkong.people.identity import IdType, Sex
from fangkong.people.models import Person, ResidenceStatus

# "Select all matching" tags at most this many people in one go: a whole township's
# ledger, not a county's by mistake.
SELECT_ALL_MAX = 20_000
FILTER_KEYS = ("q", "region", "tag", "age", "status", "returnee")


def filter_persons(
    data: Mapping[str, Any] | None, queryset: QuerySet[Person], request: Any = None
) -> PersonFilter:
    """The FilterSet over ``queryset`` (already scoped by the caller). ``request`` gives
    the region picker its user (a village name is resolved within the user's scope)."""
    return PersonFilter(data or None, queryset=queryset, request=request)


def parse_filter_query(text: str) -> QueryDict:
    """The list filter a page sent back as a query string (see views._filter_query). Any
    key other than the filter's is refused: a mangled string must not widen "everyone
    matching" to everyone."""
    data = QueryDict(text)
    unknown = sorted(set(data) - set(FILTER_KEYS))
    if unknown:
        raise ValidationError(_("The list filter is invalid; clear it and filter again."))
    return data


def filter_errors(person_filter: PersonFilter) -> dict[str, list[str]]:
    return {k: [str(e) for e in v] for k, v in person_filter.errors.items()}


# --- export -----------------------------------------------------------------------------


def _masked_or(unmasked: bool, kind: str, value: str) -> str:
    return value if unmasked else str(mask(kind, value) or "")


def export_columns(unmasked: bool) -> list[Column]:
    # Choice labels looked up once per export: get_FOO_display() costs ~0.15 ms per call
    # (lazy-string hashing), which is minutes over a million rows.
    sexes = {k: str(v) for k, v in Sex.choices}
    id_types = {k: str(v) for k, v in IdType.choices}
    statuses = {k: str(v) for k, v in ResidenceStatus.choices}
    return [
        Column(pgettext_lazy("person", "Name"), lambda p: p.name),
        Column(_lazy("Sex"), lambda p: sexes.get(p.sex, p.sex) if p.sex else ""),
        Column(_lazy("Birth date"), lambda p: p.birth_date),
        Column(_lazy("Document type"), lambda p: id_types.get(p.id_type, p.id_type)),
        Column(
            _lazy("Document number"),
            lambda p: _masked_or(unmasked, "id", p.id_number),
            sensitive=unmasked,
        ),
        Column(
            _lazy("Phone"), lambda p: _masked_or(unmasked, "phone", p.phone), sensitive=unmasked
        ),
        Column(
            _lazy("Address"),
            lambda p: _masked_or(unmasked, "address", p.address),
            sensitive=unmasked,
        ),
        Column(_lazy("Region code"), lambda p: p.region_code),
        Column(_lazy("Village"), lambda p: p.region_name),
        Column(
            _lazy("Residence status"),
            lambda p: statuses.get(p.residence_status, p.residence_status),
        ),
        Column(_lazy("Notes"), lambda p: p.notes),
    ]


def exportable_persons(user: Any, unmasked: bool) -> QuerySet[Person]:
    """People the user may both see and export (both permissions over the region; a
    warehouse keeper exports stock lists, not the people ledger), limited further to
    where they may reveal when the export is unmasked."""
    base = restrict(queries.visible_persons(user, Perm.VIEW_PEOPLE), user, Perm.EXPORT)
    if unmasked:
        base = restrict(base, user, Perm.REVEAL_IDENTITY)
    return base.order_by("region_code", "name_pinyin", "id")


def export_persons(
    user: Any,
    data: Mapping[str, Any],
    *,
    fmt: str = "xlsx",
    encoding: str = "utf-8-sig",
    reveal: bool = False,
    detail: str = "",
    request: Any = None,
) -> HttpResponseBase:
    """The filtered list streamed as xlsx or csv and logged in the access log.

    Masked unless ``reveal`` is asked by a user holding Perm.REVEAL_IDENTITY. Raises
    PermissionDenied without Perm.EXPORT and Perm.VIEW_PEOPLE, ValidationError for an
    invalid filter.
    """
    if not (has_permission(user, Perm.EXPORT) and has_permission(user, Perm.VIEW_PEOPLE)):
        raise PermissionDenied
    unmasked = reveal and has_permission(user, Perm.REVEAL_IDENTITY)
    person_filter = filter_persons(data, exportable_persons(user, unmasked), request)
    if person_filter.is_bound and not person_filter.is_valid():
        raise ValidationError(filter_errors(person_filter))
    export = Export(
        user=user,
        queryset=person_filter.qs,
        columns=export_columns(unmasked),
        object_type="people.person",
        filename=str(_("people")),
        region_code=export_region_code(user, Perm.EXPORT),
        unmasked=unmasked,
        detail=detail[:200],
    )
    return export_response(export, fmt, encoding)


# --- select all matching ----------------------------------------------------------------


class TooManySelected(ValidationError):
    def __init__(self, count: int) -> None:
        self.count = count
        super().__init__(
            _(
                "The filter matches %(count)d people; at most %(max)d can be tagged at once. "
                "Narrow the filter (for example to one village) and tag in parts."
            )
            % {"count": count, "max": SELECT_ALL_MAX},
            code="too_many",
        )


def select_all_matching(
    user: Any, data: Mapping[str, Any] | None, request: Any = None
) -> list[Person]:
    """Everyone matching the list's filter whom the user may edit (at most SELECT_ALL_MAX),
    as light Person objects (pk, region_code, merged_into_id) for ``tag_persons``.

    One query (plus a count when over the cap). Raises ValidationError for an invalid
    filter and TooManySelected above the cap.
    """
    base = restrict(Person.objects.filter(merged_into__isnull=True), user, Perm.EDIT_PEOPLE)
    person_filter = filter_persons(data, base.order_by("id"), request)
    if person_filter.is_bound and not person_filter.is_valid():
        raise ValidationError(filter_errors(person_filter))
    matching = person_filter.qs.only("id", "region_code", "merged_into_id")
    found = list(matching[: SELECT_ALL_MAX + 1])
    if len(found) > SELECT_ALL_MAX:
        raise TooManySelected(matching.count())
    return found
