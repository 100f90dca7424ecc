"""Pages: lab result import (检测结果导入): upload → preview and fix the mapping → a job.

The job page shows a live progress bar, then the counts, the unknown tube barcodes and
the error workbook (rejected lines with the reason). Access: IMPORT_RESULTS somewhere
(else 403); another user's upload or job is a 404. Each line is matched only against
the tubes of the user's regions (screening.actions.results).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from fangkong.accounts.roles import Perm
from fangkong.core.importing.preview import preview_context, preview_step
from fangkong.core.importing.readers import ImportFileError
from fangkong.core.importing.uploads import UploadTooLarge, max_upload_bytes, too_large_message
from fangkong.core.jobs import result_path, sweep_stale_jobs
from fangkong.core.models import Job
from fangkong.core.queries import visible_jobs
from fangkong.geo.views import require_anywhere
from fangkong.screening import result_jobs
from fangkong.screening.importers import JOB_KIND, RESULT_SCHEMA

# Multipart overhead allowed above the file itself before a request is refused unread.
MULTIPART_SLACK = 64 * 1024


class UploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Result file"),
        help_text=gettext_lazy(
            "xlsx, xls, ods or csv (UTF-8 or GB18030) with the tube barcode, the result and "
            "the result time."
        ),
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > max_upload_bytes():
            raise forms.ValidationError(too_large_message(upload.size))
        return upload


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@require_anywhere(Perm.IMPORT_RESULTS)
def results_upload(request: HttpRequest) -> HttpResponse:
    form = UploadForm()
    error = ""
    if request.method == "POST":
        length = _int(request.META.get("CONTENT_LENGTH")) or 0
        if length > max_upload_bytes() + MULTIPART_SLACK:
            error = too_large_message(length)  # refused before Django reads the body
        else:
            form = UploadForm(request.POST, request.FILES)
            if form.is_valid():
                try:
                    token = result_jobs.store_upload(form.cleaned_data["file"], request.user)
                except (UploadTooLarge, ImportFileError) as exc:
                    form.add_error("file", str(exc))
                else:
                    return redirect("screening:results_preview", token=token)
    elif request.method != "GET":
        return HttpResponse(status=405)
    return render(
        request,
        "screening/results/upload.html",
        {"form": form, "error": error, "limit_mb": max_upload_bytes() // 1024 // 1024},
    )


@require_anywhere(Perm.IMPORT_RESULTS)
def results_preview(request: HttpRequest, token: str) -> HttpResponse:
    path_, meta = result_jobs.load_upload(token, request.user)
    if request.method not in ("GET", "POST"):
        return HttpResponse(status=405)

    def start(header_row: int, mapping: dict[int, str], dry_run: bool) -> Job:
        return result_jobs.start_import(
            request.user, token, header_row=header_row, mapping=mapping, dry_run=dry_run
        )

    step = preview_step(request, path_, result_jobs.make_preview, start)
    if step.job is not None:
        return redirect("screening:results_job", pk=step.job.pk)
    return render(
        request,
        "screening/results/preview.html",
        {
            "token": token,
            "filename": meta.get("filename", ""),
            **preview_context(step.preview, RESULT_SCHEMA, error=step.error, dry_run=step.dry_run),
        },
    )


def _job(request: HttpRequest, pk: Any) -> Job:
    try:
        return visible_jobs(request.user).select_related("owner").get(pk=pk, kind=JOB_KIND)
    except (Job.DoesNotExist, ValueError):
        raise Http404 from None


def _job_context(job: Job) -> dict[str, Any]:
    result = job.result if isinstance(job.result, dict) else {}
    return {
        "job": job,
        "result": result,
        "unknown": result.get("unknown_list") or [],
        "more_unknown": max(
            0, int(result.get("unknown_tubes") or 0) - len(result.get("unknown_list") or [])
        ),
        "reasons": result.get("reasons") or {},
        "has_file": result_path(job) is not None,
    }


@require_GET
@require_anywhere(Perm.IMPORT_RESULTS)
def results_job(request: HttpRequest, pk: Any) -> HttpResponse:
    """The import's progress (live), then its counts, unknown tubes and error workbook."""
    sweep_stale_jobs()
    return render(request, "screening/results/job.html", _job_context(_job(request, pk)))


@require_GET
@require_anywhere(Perm.IMPORT_RESULTS)
def results_job_progress(request: HttpRequest, pk: Any) -> HttpResponse:
    """The fragment the job page polls every second until the job has finished."""
    sweep_stale_jobs()
    return render(request, "screening/results/_job.html", _job_context(_job(request, pk)))


urlpatterns: list[URLPattern] = [
    path("results/import/", results_upload, name="results_upload"),
    path("results/import/<str:token>/", results_preview, name="results_preview"),
    path("results/jobs/<uuid:pk>/", results_job, name="results_job"),
    path("results/jobs/<uuid:pk>/progress/", results_job_progress, name="results_job_progress"),
]
