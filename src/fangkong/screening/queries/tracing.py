"""Reads for positive tracing (阳性追踪): who was in a tube, open cases, villages' tasks.

Who sees what (TRACE_POSITIVES):
- a case is visible to whoever holds the permission over the case's region (the testing
  site's) or over the village of any of its members;
- the members of a tube are all shown to whoever holds it over the site's whole township
  ("full view": the township and HQ trace every member, including walk-ins from another
  county); anybody else (a village cadre) sees only the members of their own villages;
- identity numbers, phones and addresses are masked; with ``reveal`` a holder of
  REVEAL_IDENTITY sees in full the members of their reveal regions (or all members, with
  a full view and the reveal permission over the township). Callers log each reveal.

Tracing one tube is five indexed queries (the tube, its live samples with persons,
households and villages, key groups, the members' other samples, the case's tasks).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from fangkong.accounts.roles import Perm
from fangkong.core.audit import log_access
from fangkong.core.cleaning import record_pk
from fangkong.core.masking import mask
from fangkong.core.queries import with_region_name
from fangkong.core.scoping import has_permission, restrict
from fangkong.screening.codes import normalize_barcode
from fangkong.screening.models import (
    CaseStatus,
    PositiveCase,
    ResampleTask,
    Sample,
    TaskStatus,
    Tube,
)

OTHER_SAMPLES_SHOWN = 5
TOWNSHIP_LENGTH = 9
OPEN_STATUSES = (TaskStatus.PENDING, TaskStatus.RESAMPLED)


def township_of(code: str) -> str:
    """The township (9 digits) containing ``code``; a coarser code stays as it is."""
    return code[:TOWNSHIP_LENGTH] if len(code) >= TOWNSHIP_LENGTH else code


def has_full_view(user: Any, site_region: str) -> bool:
    """Whether ``user`` traces every member of tubes sampled at a site of ``site_region``."""
    return user is None or has_permission(user, Perm.TRACE_POSITIVES, township_of(site_region))


def can_trace_member(user: Any, site_region: str, member_region: str) -> bool:
    return has_full_view(user, site_region) or has_permission(
        user, Perm.TRACE_POSITIVES, member_region
    )


def can_reveal_member(user: Any, site_region: str, member_region: str) -> bool:
    if user is None:
        return True
    if has_permission(user, Perm.REVEAL_IDENTITY, member_region):
        return True
    township = township_of(site_region)
    return has_permission(user, Perm.TRACE_POSITIVES, township) and has_permission(
        user, Perm.REVEAL_IDENTITY, township
    )


def can_trace_task(user: Any, task: ResampleTask) -> bool:
    return can_trace_member(user, task.case.region_code, task.region_code)


# --- members of a tube -------------------------------------------------------------------


@dataclass
class OtherSample:
    barcode: str
    round_name: str
    scanned_at: dt.datetime
    result: str
    result_label: str


@dataclass
class Member:
    person_id: int
    name: str
    id_type: str
    id_number: str
    phone: str
    address: str
    village_code: str
    village_name: str
    household: str
    key_groups: list[str]
    scanned_at: dt.datetime
    revealed: bool
    can_reveal: bool
    task: ResampleTask | None = None
    other_samples: list[OtherSample] = field(default_factory=list)


@dataclass
class Trace:
    tube: Tube
    case: PositiveCase | None
    members: list[Member]
    hidden: int  # live members outside the caller's view
    full_view: bool

    @property
    def revealed_count(self) -> int:
        return sum(1 for member in self.members if member.revealed)


def find_tube(barcode: Any) -> Tube | None:
    """A tube by its barcode as scanned or typed (any noise removed), with round and site."""
    code = normalize_barcode(barcode)
    if not code:
        return None
    return Tube.objects.select_related("round", "site").filter(barcode=code).first()


def _members_queryset(tube: Tube) -> QuerySet[Sample]:
    return with_region_name(
        Sample.objects.filter(tube=tube, removed_at__isnull=True)
        .select_related("person", "person__household")
        .prefetch_related("person__tags__group")
        .order_by("id")
    )


def _other_samples(tube: Tube, person_ids: list[int]) -> dict[int, list[OtherSample]]:
    found: dict[int, list[OtherSample]] = {}
    if not person_ids:
        return found
    labels = dict(Tube._meta.get_field("result").flatchoices)  # type: ignore[union-attr]
    rows = (
        Sample.objects.filter(person_id__in=person_ids, removed_at__isnull=True)
        .exclude(tube_id=tube.pk)
        .order_by("-scanned_at", "-id")
        .values_list("person_id", "tube__barcode", "round__name", "scanned_at", "tube__result")[
            : len(person_ids) * OTHER_SAMPLES_SHOWN * 4
        ]
    )
    for person_id, barcode, round_name, scanned_at, result in rows:
        shown = found.setdefault(person_id, [])
        if len(shown) < OTHER_SAMPLES_SHOWN:
            label = str(labels.get(result, "")) if result else ""
            shown.append(OtherSample(barcode, round_name, scanned_at, result or "", label))
    return found


def trace_tube(tube: Tube, user: Any = None, *, reveal: bool = False) -> Trace:
    """The live members of ``tube`` as ``user`` may see them (None: the system, all)."""
    case = PositiveCase.objects.filter(tube=tube).first()
    full = has_full_view(user, tube.region_code)
    samples = list(_members_queryset(tube))
    tasks: dict[int, ResampleTask] = {}
    if case is not None:
        related = ResampleTask.objects.select_related("person", "case__tube", "resample_tube")
        tasks = {task.person_id: task for task in related.filter(case=case)}
    visible = [
        s for s in samples if full or can_trace_member(user, tube.region_code, s.region_code)
    ]
    others = _other_samples(tube, [s.person_id for s in visible])
    members = []
    for sample in visible:
        person = sample.person
        may_reveal = can_reveal_member(user, tube.region_code, sample.region_code)
        shown = reveal and may_reveal
        groups = [tag.group.name for tag in person.tags.all()]
        members.append(
            Member(
                person_id=person.pk,
                name=person.name,
                id_type=str(person.get_id_type_display()),
                id_number=person.id_number if shown else (mask("id", person.id_number) or ""),
                phone=person.phone if shown else (mask("phone", person.phone) or ""),
                address=person.address if shown else (mask("address", person.address) or ""),
                village_code=sample.region_code,
                village_name=getattr(sample, "region_name", "") or "",
                household=str(person.household) if person.household_id else "",
                key_groups=groups,
                scanned_at=sample.scanned_at,
                revealed=shown,
                can_reveal=may_reveal,
                task=tasks.get(person.pk),
                other_samples=others.get(person.pk, []),
            )
        )
    return Trace(tube, case, members, len(samples) - len(visible), full)


def revealed_fields(trace: Trace) -> list[str]:
    return ["id_number", "phone", "address"] if trace.revealed_count else []


def log_trace_reveal(user: Any, trace: Trace, object_type: str, pk: int, detail: str) -> None:
    """Write the access-log entry for a revealed trace (page, API and CLI alike)."""
    log_access(
        user,
        "reveal",
        object_type=object_type,
        object_id=str(pk),
        region_code=trace.tube.region_code,
        fields=revealed_fields(trace),
        row_count=trace.revealed_count,
        unmasked=True,
        detail=detail,
    )


# --- cases and tasks ---------------------------------------------------------------------


def visible_cases(user: Any) -> QuerySet[PositiveCase]:
    """Cases of the user's regions (the site's), or with a member of the user's villages."""
    base = PositiveCase.objects.all()
    if user is None:  # the system (the CLI)
        return base
    by_site = restrict(base, user, Perm.TRACE_POSITIVES)
    if not getattr(user, "is_superuser", False):
        tasks = restrict(
            ResampleTask.objects.filter(case_id=OuterRef("pk")), user, Perm.TRACE_POSITIVES
        )
        return by_site | base.filter(Exists(tasks))
    return by_site


def case_list_queryset(user: Any, status: str = CaseStatus.OPEN) -> QuerySet[PositiveCase]:
    """Cases with their tube, round and site, task counts, oldest result first (HQ's list:
    whatever waits longest leads)."""
    queryset = visible_cases(user)
    if status in CaseStatus.values:
        queryset = queryset.filter(status=status)
    return with_region_name(
        queryset.select_related("tube", "tube__site", "round").annotate(
            task_total=Count("tasks"),
            task_pending=Count("tasks", filter=Q(tasks__status=TaskStatus.PENDING)),
            task_open=Count("tasks", filter=Q(tasks__status__in=OPEN_STATUSES)),
            task_controlled=Count("tasks", filter=Q(tasks__controlled_at__isnull=False)),
        )
    ).order_by("result_at", "id")


def case_for(user: Any, pk: Any) -> PositiveCase | None:
    key = record_pk(pk)
    if key is None:
        return None
    return visible_cases(user).select_related("tube", "tube__site", "round").filter(pk=key).first()


def task_for(user: Any, pk: Any) -> ResampleTask | None:
    """A task the user may act on (its village, or a full view of its case), or None."""
    key = record_pk(pk)
    if key is None:
        return None
    task = (
        ResampleTask.objects.select_related("case", "case__tube", "person", "resample_tube")
        .filter(pk=key)
        .first()
    )
    if task is None or (user is not None and not can_trace_task(user, task)):
        return None
    return task


def task_list_queryset(user: Any, status: str = "open") -> QuerySet[ResampleTask]:
    """Re-sampling tasks of the user's villages, pending first, then the oldest case."""
    queryset = restrict(ResampleTask.objects.all(), user, Perm.TRACE_POSITIVES)
    if status == "open":
        queryset = queryset.filter(status__in=OPEN_STATUSES)
    elif status in TaskStatus.values:
        queryset = queryset.filter(status=status)
    return with_region_name(
        queryset.select_related("person", "case", "case__tube", "resample_tube")
    ).order_by("status", "case__result_at", "region_code", "id")


def since(moment: dt.datetime | None, now: dt.datetime | None = None) -> dt.timedelta:
    if moment is None:
        return dt.timedelta(0)
    return max(dt.timedelta(0), (now or timezone.now()) - moment)
