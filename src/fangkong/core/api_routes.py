"""Core API routes: who am I, jobs, the audit log and the access log (all read-only).

No ``from __future__ import annotations`` here: ninja reads the query schemas from the
signatures at import time, and string annotations leave its models undefined.
"""

import datetime as dt
import uuid
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.urls import reverse
from django_filters import FilterSet
from ninja import Field, Query, Router, Schema
from ninja.pagination import paginate

from fangkong.accounts.roles import Perm
from fangkong.core import jobs as job_machinery
from fangkong.core.filters import MAX_TEXT, AccessLogFilter, AuditEntryFilter, JobFilter
from fangkong.core.models import AccessLogEntry, AuditEntry, Job
from fangkong.core.pagination import PageNumber
from fangkong.core.queries import (
    access_log_queryset,
    audit_queryset,
    masked_before_after,
    visible_jobs,
)
from fangkong.core.scoping import has_permission

router = Router(tags=["core"])


@router.get("/me")
def me(request: HttpRequest) -> dict:
    """The caller, and the role assignments that decide what it sees."""
    user = request.user
    return {
        "username": user.get_username(),
        "display_name": getattr(user, "display_name", ""),
        "assignments": [
            {"role": role, "region_code": code}
            for role, code in user.role_assignments.values_list("role", "region_code")  # type: ignore[union-attr]
        ],
    }


def _filtered(filterset_class: type[FilterSet], query: Schema, queryset: QuerySet[Any]) -> Any:
    """Apply the page's FilterSet to the API's query: one validation, one set of messages."""
    data = {k: v for k, v in query.dict().items() if v not in (None, "")}
    filterset = filterset_class(data, queryset=queryset)
    if not filterset.is_valid():
        raise ValidationError({name: list(errors) for name, errors in filterset.errors.items()})
    return filterset.qs


# Jobs -----------------------------------------------------------------------------------


class JobOut(Schema):
    id: uuid.UUID
    kind: str
    title: str
    status: str
    done: int
    total: int | None
    percent: int | None
    messages: list[Any]
    result: dict[str, Any]
    download_url: str | None
    region_code: str
    owner: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None

    @staticmethod
    def resolve_result(obj: Job) -> dict[str, Any]:
        result = obj.result if isinstance(obj.result, dict) else {}
        return {k: v for k, v in result.items() if k != "traceback"}

    @staticmethod
    def resolve_download_url(obj: Job) -> str | None:
        if job_machinery.result_path(obj) is None:
            return None
        return reverse("core:job_download", kwargs={"pk": obj.pk})

    @staticmethod
    def resolve_owner(obj: Job) -> str | None:
        return obj.owner.get_username() if obj.owner_id else None  # type: ignore[union-attr]


class JobQuery(Schema):
    status: str | None = Field(None, max_length=16)
    kind: str | None = Field(None, max_length=MAX_TEXT)


@router.get("/jobs", response=list[JobOut])
@paginate(PageNumber)
def list_jobs(request: HttpRequest, filters: Query[JobQuery]) -> Any:
    """The caller's jobs; holders of the audit permission also see the jobs of their regions."""
    return _filtered(JobFilter, filters, visible_jobs(request.user).select_related("owner"))


@router.get("/jobs/{uuid:job_id}", response=JobOut)
def get_job(request: HttpRequest, job_id: uuid.UUID) -> Job:
    job_machinery.sweep_stale_jobs()
    try:
        return visible_jobs(request.user).select_related("owner").get(pk=job_id)
    except Job.DoesNotExist:
        raise Http404 from None


# Audit and access log -------------------------------------------------------------------


class AuditOut(Schema):
    id: int
    created_at: dt.datetime
    actor_name: str
    action: str
    object_type: str
    object_id: str
    object_repr: str
    region_code: str
    before: Any
    after: Any
    request_id: str
    source: str

    @staticmethod
    def resolve_before(obj: AuditEntry) -> Any:
        return masked_before_after(obj)[0]

    @staticmethod
    def resolve_after(obj: AuditEntry) -> Any:
        return masked_before_after(obj)[1]


class AuditQuery(Schema):
    actor: str | None = Field(None, max_length=MAX_TEXT, description="user name contains")
    object_type: str | None = Field(None, max_length=64, description='such as "geo.site"')
    action: str | None = Field(None, max_length=MAX_TEXT, description="action contains")
    date_from: str | None = Field(None, max_length=20, description="first local day, YYYY-MM-DD")
    date_to: str | None = Field(None, max_length=20, description="last local day, YYYY-MM-DD")
    region: str | None = Field(None, max_length=MAX_TEXT, description="division code or name")


@router.get("/audit", response=list[AuditOut])
@paginate(PageNumber)
def list_audit(request: HttpRequest, filters: Query[AuditQuery]) -> Any:
    """Audit entries of the caller's regions, newest first; values of persons masked."""
    if not has_permission(request.user, Perm.VIEW_AUDIT):
        raise PermissionDenied
    return _filtered(AuditEntryFilter, filters, audit_queryset(request.user))


class AccessOut(Schema):
    id: int
    created_at: dt.datetime
    user_name: str
    kind: str
    object_type: str
    object_id: str
    region_code: str
    fields: list[Any]
    row_count: int
    unmasked: bool
    detail: str
    request_id: str


class AccessQuery(Schema):
    user: str | None = Field(None, max_length=MAX_TEXT, description="user name contains")
    kind: str | None = Field(None, max_length=16, description="reveal or export")
    object_type: str | None = Field(None, max_length=64)
    date_from: str | None = Field(None, max_length=20, description="first local day, YYYY-MM-DD")
    date_to: str | None = Field(None, max_length=20, description="last local day, YYYY-MM-DD")
    region: str | None = Field(None, max_length=MAX_TEXT, description="division code or name")


@router.get("/access-log", response=list[AccessOut])
@paginate(PageNumber)
def list_access_log(request: HttpRequest, filters: Query[AccessQuery]) -> QuerySet[AccessLogEntry]:
    """Reveals and exports in the caller's regions, newest first."""
    if not has_permission(request.user, Perm.VIEW_ACCESS_LOG):
        raise PermissionDenied
    return _filtered(AccessLogFilter, filters, access_log_queryset(request.user))
