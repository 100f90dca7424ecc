"""Reads for core's pages and API: the jurisdiction summary, jobs, audit and access log."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import models
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext

from fangkong.accounts.roles import Perm, role_label
from fangkong.core.masking import mask_snapshot
from fangkong.core.models import AccessLogEntry, AuditEntry, Job
from fangkong.core.regioncodes import Level
from fangkong.core.scoping import has_permission, restrict, scope_codes

RECENT_JOBS = 5


@dataclass
class AssignmentView:
    role: str
    role_label: str
    region_code: str
    region_name: str


@dataclass
class SiteCount:
    kind: str
    label: str
    count: int


def with_region_name(queryset: QuerySet[Any], field: str = "region_code") -> QuerySet[Any]:
    """Annotate ``region_name`` (the region's short name) in the same query."""
    from fangkong.geo.models import Region

    names = Region.objects.filter(code=OuterRef(field)).values("short_name")[:1]
    return queryset.annotate(region_name=Subquery(names))


def visible_jobs(user: Any) -> QuerySet[Job]:
    """The user's own jobs, plus, for holders of VIEW_AUDIT, every job in their scope."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return Job.objects.none()
    codes = scope_codes(user, Perm.VIEW_AUDIT)
    if codes is None:
        return Job.objects.all()
    own = Job.objects.filter(owner=user)
    if not codes:
        return own
    # Two filters on one model OR-ed together: a single WHERE, still an indexed range.
    return own | restrict(Job.objects.all(), user, Perm.VIEW_AUDIT)


def job_list_queryset(user: Any) -> QuerySet[Job]:
    return with_region_name(visible_jobs(user).select_related("owner"))


def audit_queryset(user: Any) -> QuerySet[AuditEntry]:
    return with_region_name(restrict(AuditEntry.objects.all(), user, Perm.VIEW_AUDIT))


def access_log_queryset(user: Any) -> QuerySet[AccessLogEntry]:
    return with_region_name(restrict(AccessLogEntry.objects.all(), user, Perm.VIEW_ACCESS_LOG))


def _model_for(object_type: str) -> Any:
    try:
        return apps.get_model(object_type)
    except (LookupError, ValueError):
        return None


def masked_before_after(entry: AuditEntry) -> tuple[Any, Any]:
    """The entry's before/after with identity numbers, phones and addresses masked."""
    model = _model_for(entry.object_type)
    return mask_snapshot(model, entry.before), mask_snapshot(model, entry.after)


@dataclass
class DiffRow:
    field: str
    label: str
    before: str
    after: str
    changed: bool
    added: bool  # only after has it
    removed: bool  # only before has it


def _show(value: Any, field: Any = None) -> str:
    """A snapshot value as people read it: choice labels, local times, yes/no."""
    if value is None:
        return "—"
    if field is not None and getattr(field, "choices", None):
        labels = {str(k): str(v) for k, v in field.flatchoices}
        if str(value) in labels:
            return f"{labels[str(value)]} ({value})"
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if isinstance(value, str):
        if isinstance(field, models.DateTimeField):
            try:
                moment = dt.datetime.fromisoformat(value)
            except ValueError:
                return value
            if timezone.is_aware(moment):
                moment = timezone.localtime(moment)
            return moment.strftime("%Y-%m-%d %H:%M:%S")
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def audit_diff(entry: AuditEntry) -> list[DiffRow]:
    """Field-by-field before/after, masked, changed fields flagged, in the model's order."""
    before, after = masked_before_after(entry)
    before = before if isinstance(before, dict) else ({} if before is None else {"": before})
    after = after if isinstance(after, dict) else ({} if after is None else {"": after})
    model = _model_for(entry.object_type)
    order: list[str] = []
    labels: dict[str, str] = {}
    fields: dict[str, Any] = {}
    if model is not None:
        for field in model._meta.concrete_fields:
            order.append(field.name)
            labels[field.name] = capfirst(str(field.verbose_name))
            fields[field.name] = field
    names = [n for n in order if n in before or n in after]
    names += sorted((set(before) | set(after)) - set(names))
    rows = []
    for name in names:
        has_before, has_after = name in before, name in after
        old, new = before.get(name), after.get(name)
        rows.append(
            DiffRow(
                field=name,
                label=labels.get(name, name),
                before=_show(old, fields.get(name)) if has_before else "",
                after=_show(new, fields.get(name)) if has_after else "",
                changed=has_before and has_after and old != new,
                added=has_after and not has_before and entry.before is not None,
                removed=has_before and not has_after and entry.after is not None,
            )
        )
    return rows


def jurisdiction_summary(user: Any) -> dict[str, Any]:
    """Assignments, regions, and counts of what lies in the user's scope (fixed queries)."""
    from fangkong.geo.models import Region, Site, SiteKind
    from fangkong.geo.queries import region_names

    assignments = list(user.role_assignments.order_by("region_code", "role"))
    names = region_names([a.region_code for a in assignments])
    views = [
        AssignmentView(a.role, str(role_label(a.role)), a.region_code, names.get(a.region_code, ""))
        for a in assignments
    ]
    regions = restrict(Region.objects.all(), user, Perm.VIEW_REGIONS)
    region_counts = dict(regions.values_list("level").annotate(n=Count("code")).order_by())
    sites = restrict(Site.objects.filter(active=True), user, Perm.VIEW_SITES)
    site_counts = dict(sites.values_list("kind").annotate(n=Count("id")).order_by())
    labels = dict(SiteKind.choices)
    recent_jobs = list(
        Job.objects.filter(owner=user).order_by("-created_at")[:RECENT_JOBS]
        if user.is_authenticated
        else []
    )
    return {
        "assignments": views,
        "region_counts": region_counts,
        "townships": region_counts.get(int(Level.TOWNSHIP), 0),
        "villages": region_counts.get(int(Level.VILLAGE), 0),
        "site_counts": site_counts,
        "sites_by_kind": [
            SiteCount(kind, str(labels.get(kind, kind)), n)
            for kind, n in sorted(site_counts.items(), key=lambda kv: -kv[1])
        ],
        "active_sites": sum(site_counts.values()),
        "recent_jobs": recent_jobs,
        "unrestricted": scope_codes(user, Perm.VIEW_REGIONS) is None,
        "can_view_regions": has_permission(user, Perm.VIEW_REGIONS),
        "can_view_sites": has_permission(user, Perm.VIEW_SITES),
    }
