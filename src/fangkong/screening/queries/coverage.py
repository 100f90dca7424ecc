"""Coverage (应检尽检) of a round, live while sampling, and the door-to-door list.

Coverage is one aggregate over RoundTarget: the scan sets ``first_sampled_at`` on the
person's target row, so "sampled" is a count of that column and nothing joins Sample.
Rows are grouped by the stored region code (villages and village groups, a few hundred
keys) and rolled up to villages in Python: grouping by a substring expression cost more
than the roll-up (bench/screening_coverage.py).

Everything is scoped by the target's region_code (the person's village): a village cadre
sees their own village only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Count, Prefetch, QuerySet
from django.http.response import HttpResponseBase
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.utils.translation import pgettext_lazy

from fangkong.accounts.roles import Perm
from fangkong.core.exports import Column, Export, export_response
from fangkong.core.masking import mask
from fangkong.core.regioncodes import upper_bound
from fangkong.core.scoping import has_permission, restrict, scope_codes
from fangkong.geo.queries import region_names
from fangkong.people.identity import Sex
from fangkong.people.models import PersonTag
from fangkong.people.queries import age_on
from fangkong.screening.models import Round, RoundTarget
from fangkong.screening.targets import priority_label

VILLAGE_LENGTH = 12
TOWNSHIP_LENGTH = 9
# The printable list shows this many rows; the export has everyone.
MISSING_PAGE_MAX = 3000


@dataclass
class CoverageRow:
    """Target population (应检), sampled (已检) and missing (未检) for one region."""

    code: str
    name: str
    target: int = 0
    sampled: int = 0

    @property
    def missing(self) -> int:
        return self.target - self.sampled

    @property
    def pct(self) -> float | None:
        """Sampled as a percentage of the target, one decimal; None without a target."""
        if not self.target:
            return None
        return round(self.sampled * 100 / self.target, 1)

    def as_dict(self) -> dict[str, Any]:
        return {
            "region_code": self.code,
            "region_name": self.name,
            "target": self.target,
            "sampled": self.sampled,
            "missing": self.missing,
            "pct": self.pct,
        }


@dataclass
class Coverage:
    round: Round
    rows: list[CoverageRow]
    total: CoverageRow
    level_length: int = VILLAGE_LENGTH
    computed_at: dt.datetime = field(default_factory=timezone.now)


def scoped_targets(user: Any, round_: Round, region_code: str = "") -> QuerySet[RoundTarget]:
    """The round's target rows in the user's regions (and under ``region_code`` if given).

    A user whose regions contain the round's whole area needs no scope condition: every
    target lies under the round's region_code. Leaving the range out lets the aggregate
    read the table instead of the (round, region) index plus a lookup per row (SQLite:
    about 4x faster for a million targets).
    """
    queryset = RoundTarget.objects.filter(round=round_)
    codes = scope_codes(user, Perm.VIEW_SCREENING)
    if codes is not None and not any(round_.region_code.startswith(c) for c in codes):
        queryset = restrict(queryset, user, Perm.VIEW_SCREENING)
    if region_code:
        queryset = queryset.filter(
            region_code__gte=region_code, region_code__lt=upper_bound(region_code)
        )
    return queryset


def coverage(
    user: Any, round_: Round, region_code: str = "", level_length: int = VILLAGE_LENGTH
) -> Coverage:
    """Coverage per village (or per township with ``level_length`` 9): two queries, the
    aggregate and the region names."""
    counts = (
        scoped_targets(user, round_, region_code)
        .values_list("region_code")
        .annotate(target=Count("pk"), sampled=Count("first_sampled_at"))
        .order_by()
    )
    rolled: dict[str, CoverageRow] = {}
    for code, target, sampled in counts:
        key = code[:level_length]
        row = rolled.get(key)
        if row is None:
            row = rolled[key] = CoverageRow(key, "")
        row.target += target
        row.sampled += sampled
    names = region_names(rolled)
    rows = sorted(rolled.values(), key=lambda row: row.code)
    total = CoverageRow(region_code or round_.region_code, _("Total"))
    for row in rows:
        row.name = names.get(row.code, row.code)
        total.target += row.target
        total.sampled += row.sampled
    return Coverage(round_, rows, total, level_length)


# --- the door-to-door list (未检人员名单) --------------------------------------------------


def missing_targets(user: Any, round_: Round, region_code: str) -> QuerySet[RoundTarget]:
    """Unsampled target people under ``region_code`` (a village), in door-to-door order:
    bedridden and elderly first (targets.PRIORITY_*), then by name (pinyin)."""
    return (
        scoped_targets(user, round_, region_code)
        .filter(first_sampled_at__isnull=True)
        .order_by("priority", "person__name_pinyin", "person_id")
    )


@dataclass
class MissingRow:
    person_id: int
    name: str
    sex: str
    age: int | None
    id_number: str
    phone: str
    address: str
    region_code: str
    region_name: str
    priority: int
    priority_label: str
    key_groups: list[str]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


MISSING_FIELDS = (
    "person_id",
    "person__name",
    "person__sex",
    "person__birth_date",
    "person__id_number",
    "person__phone",
    "person__address",
    "region_code",
    "priority",
)


def key_groups_of(person_ids: list[int]) -> dict[int, list[str]]:
    """Active key-group names per person, in one query."""
    found: dict[int, list[str]] = {}
    tags = (
        PersonTag.objects.filter(person_id__in=person_ids, group__active=True)
        .order_by("group__priority", "group__code")
        .values_list("person_id", "group__name")
    )
    for person_id, name in tags:
        found.setdefault(person_id, []).append(name)
    return found


def build_missing_rows(
    queryset: QuerySet[RoundTarget], *, revealed: bool, offset: int = 0, limit: int | None
) -> list[MissingRow]:
    """Rows of ``missing_targets`` as plain values (no model instances: a few thousand
    rows for a printed list stay well under a second), tags and region names added with
    one query each."""
    window = queryset[offset : offset + limit] if limit is not None else queryset[offset:]
    values = list(window.values_list(*MISSING_FIELDS))
    groups = key_groups_of([v[0] for v in values])
    names = region_names({v[7] for v in values})
    sexes = {k: str(v) for k, v in Sex.choices}
    today = timezone.localdate()

    def shown(kind: str, value: str) -> str:
        return value if revealed else str(mask(kind, value) or "")

    return [
        MissingRow(
            person_id=person_id,
            name=name,
            sex=sexes.get(sex, "") if sex else "",
            age=age_on(birth, today),
            id_number=shown("id", id_number),
            phone=shown("phone", phone),
            address=shown("address", address),
            region_code=region_code,
            region_name=names.get(region_code, ""),
            priority=priority,
            priority_label=priority_label(priority),
            key_groups=groups.get(person_id, []),
        )
        for (person_id, name, sex, birth, id_number, phone, address, region_code, priority) in (
            values
        )
    ]


def missing_rows(
    user: Any,
    round_: Round,
    region_code: str,
    *,
    revealed: bool = False,
    limit: int | None = MISSING_PAGE_MAX,
) -> tuple[list[MissingRow], int]:
    """(rows, how many are missing in all): four queries (count, rows, tags, names)."""
    queryset = missing_targets(user, round_, region_code)
    total = queryset.count()
    return build_missing_rows(queryset, revealed=revealed, limit=limit), total


def _active_tags() -> QuerySet[PersonTag]:
    return PersonTag.objects.select_related("group").filter(group__active=True)


def export_columns(unmasked: bool) -> list[Column]:
    sexes = {k: str(v) for k, v in Sex.choices}
    today = timezone.localdate()

    def shown(kind: str, value: str) -> str:
        return value if unmasked else str(mask(kind, value) or "")

    return [
        Column(_lazy("Priority"), lambda t: priority_label(t.priority)),
        Column(pgettext_lazy("person", "Name"), lambda t: t.person.name),
        Column(_lazy("Sex"), lambda t: sexes.get(t.person.sex, "") if t.person.sex else ""),
        Column(_lazy("Age"), lambda t: age_on(t.person.birth_date, today)),
        Column(
            _lazy("Document number"),
            lambda t: shown("id", t.person.id_number),
            sensitive=unmasked,
        ),
        Column(_lazy("Phone"), lambda t: shown("phone", t.person.phone), sensitive=unmasked),
        Column(_lazy("Address"), lambda t: shown("address", t.person.address), sensitive=unmasked),
        Column(_lazy("Region code"), lambda t: t.region_code),
        Column(
            _lazy("Key groups"), lambda t: "、".join(tag.group.name for tag in t.person.tags.all())
        ),
        Column(_lazy("Sampled"), lambda t: ""),
    ]


def export_missing(
    user: Any,
    round_: Round,
    region_code: str,
    *,
    fmt: str = "xlsx",
    encoding: str = "utf-8-sig",
    reveal: bool = False,
) -> HttpResponseBase:
    """The door-to-door list as xlsx or csv, logged in the access log.

    Needs Perm.EXPORT over the village (a village cadre prints the page instead); masked
    unless ``reveal`` by a holder of Perm.REVEAL_IDENTITY over it. The last column is
    left empty for the team to tick.
    """
    if not has_permission(user, Perm.EXPORT, region_code):
        raise PermissionDenied
    unmasked = reveal and has_permission(user, Perm.REVEAL_IDENTITY, region_code)
    export = Export(
        user=user,
        # Tags prefetched per chunk: a few queries per 2,000 rows.
        queryset=missing_targets(user, round_, region_code)
        .select_related("person")
        .prefetch_related(Prefetch("person__tags", queryset=_active_tags())),
        columns=export_columns(unmasked),
        object_type="screening.roundtarget",
        filename=_("missing-%(code)s") % {"code": region_code},
        region_code=region_code,
        unmasked=unmasked,
        detail=f"{fmt} round {round_.pk} missing {region_code}",
    )
    return export_response(export, fmt, encoding)
