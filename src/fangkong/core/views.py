"""Core pages: home, audit and access logs, jobs; error pages and the API's JSON 404."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseServerError,
    JsonResponse,
)
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy
from django.views.decorators.http import require_GET

from fangkong.accounts.roles import Perm
from fangkong.core import jobs as job_machinery
from fangkong.core.api import error_body
from fangkong.core.filters import AccessLogFilter, AuditEntryFilter, JobFilter
from fangkong.core.models import Job
from fangkong.core.queries import (
    access_log_queryset,
    audit_diff,
    audit_queryset,
    job_list_queryset,
    jurisdiction_summary,
    visible_jobs,
)
from fangkong.core.scoping import ensure_permission_somewhere, get_scoped_or_404
from fangkong.core.tables import AccessLogTable, AuditTable, JobTable, paginate_table

logger = logging.getLogger("fangkong.core")


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The user's jurisdiction at a glance (我的辖区)."""
    return render(request, "core/home.html", {"summary": jurisdiction_summary(request.user)})


def _require(request: HttpRequest, permission: str) -> None:
    ensure_permission_somewhere(request.user, permission)


@login_required
@require_GET
def audit_list(request: HttpRequest) -> HttpResponse:
    """The audit log (审计日志): who changed what, filtered; read-only."""
    _require(request, Perm.VIEW_AUDIT)
    filterset = AuditEntryFilter(request.GET or None, queryset=audit_queryset(request.user))
    table = paginate_table(request, AuditTable(filterset.qs))
    return render(
        request,
        "core/audit_list.html",
        {"filter": filterset, "table": table, "title": _("Audit log")},
    )


@login_required
@require_GET
def audit_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, Perm.VIEW_AUDIT)
    entry = get_scoped_or_404(audit_queryset(request.user), request.user, Perm.VIEW_AUDIT, pk=pk)
    return render(request, "core/audit_detail.html", {"entry": entry, "rows": audit_diff(entry)})


@login_required
@require_GET
def access_log(request: HttpRequest) -> HttpResponse:
    """Every reveal of personal data and every export (查看与导出记录); read-only."""
    _require(request, Perm.VIEW_ACCESS_LOG)
    filterset = AccessLogFilter(request.GET or None, queryset=access_log_queryset(request.user))
    table = paginate_table(request, AccessLogTable(filterset.qs))
    return render(
        request,
        "core/access_log.html",
        {"filter": filterset, "table": table, "title": _("Access log")},
    )


@login_required
@require_GET
def job_list(request: HttpRequest) -> HttpResponse:
    filterset = JobFilter(request.GET or None, queryset=job_list_queryset(request.user))
    table = paginate_table(request, JobTable(filterset.qs))
    return render(
        request, "core/job_list.html", {"filter": filterset, "table": table, "title": _("Jobs")}
    )


def _readable(value: Any) -> Any:
    """A dict of reasons → counts as "reason: n; ..." rather than a Python repr."""
    if isinstance(value, dict):
        return "; ".join(f"{key}: {count}" for key, count in value.items()) or "-"
    return value


def _visible_job(request: HttpRequest, pk: Any) -> Job:
    try:
        return visible_jobs(request.user).select_related("owner").get(pk=pk)
    except (Job.DoesNotExist, ValueError):
        raise Http404 from None


# Result keys jobs report (imports: counts, rows, the header row found); shown by label.
RESULT_LABELS = {
    "created": pgettext_lazy("job result", "Created"),
    "updated": pgettext_lazy("job result", "Updated"),
    "unchanged": pgettext_lazy("job result", "Unchanged"),
    "rejected": pgettext_lazy("job result", "Rejected"),
    "rows": pgettext_lazy("job result", "Rows read"),
    "header_row": pgettext_lazy("job result", "Header row"),
    "reasons": pgettext_lazy("job result", "Most frequent reasons"),
    "error": pgettext_lazy("job result", "Error"),
}


def _job_context(job: Job) -> dict[str, Any]:
    summary = {
        str(RESULT_LABELS.get(key, key)): _readable(value)
        for key, value in (job.result or {}).items()
        if key != "traceback"
    }
    return {
        "job": job,
        "summary": summary,
        "has_file": job_machinery.result_path(job) is not None,
    }


@login_required
@require_GET
def job_detail(request: HttpRequest, pk: Any) -> HttpResponse:
    """A job's progress (live), messages, result summary and result file."""
    job_machinery.sweep_stale_jobs()
    job = _visible_job(request, pk)
    return render(request, "core/job_detail.html", _job_context(job))


@login_required
@require_GET
def job_progress(request: HttpRequest, pk: Any) -> HttpResponse:
    """The fragment the job page polls every second until the job has finished."""
    job_machinery.sweep_stale_jobs()
    job = _visible_job(request, pk)
    return render(request, "core/_job_progress.html", _job_context(job))


@login_required
@require_GET
def job_download(request: HttpRequest, pk: Any) -> FileResponse:
    job = _visible_job(request, pk)
    path = job_machinery.result_path(job)
    if path is None:
        raise Http404
    return FileResponse(path.open("rb"), as_attachment=True, filename=path.name)


# Errors ---------------------------------------------------------------------------------


def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    return JsonResponse(error_body("not_found", _("No such API route.")), status=404)


_ERROR_CODES = {400: "bad_request", 403: "forbidden", 404: "not_found", 500: "server_error"}


def _error_page(request: HttpRequest, status: int, title: str, text: str) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse(error_body(_ERROR_CODES[status], text), status=status)
    return render(
        request,
        "errors/error.html",
        {"status": status, "title": title, "text": text},
        status=status,
    )


def error_400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error_page(request, 400, _("Bad request"), _("The request could not be understood."))


def error_403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error_page(request, 403, _("Not allowed"), _("Your role does not allow this page."))


def error_404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error_page(
        request,
        404,
        _("Not found"),
        _("This page does not exist, or it is outside your jurisdiction."),
    )


def error_500(request: HttpRequest) -> HttpResponse:
    try:
        return _error_page(
            request,
            500,
            _("Server error"),
            _("Something went wrong on our side. It has been logged; please try again."),
        )
    except Exception:  # the shell itself failed (database down?): a page that needs nothing
        logger.exception("error page failed to render")
        return HttpResponseServerError(
            "<!doctype html><title>500</title><h1>500</h1><p>Server error / 服务器错误</p>",
            content_type="text/html; charset=utf-8",
        )
