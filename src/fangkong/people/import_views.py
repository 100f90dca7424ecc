"""The import pages: upload → preview and fix the mapping → a job with a live progress bar.

Access: the pages need IMPORT_PEOPLE somewhere (else 403); an upload of another user, or
a region outside the user's scope, is a 404. The job page (core:job_detail) shows the
progress and offers the error workbook.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy

from fangkong.accounts.roles import Perm
from fangkong.core.importing.preview import preview_context, preview_step
from fangkong.core.importing.readers import ImportFileError
from fangkong.core.importing.uploads import UploadTooLarge, max_upload_bytes, too_large_message
from fangkong.core.models import Job
from fangkong.core.scoping import ensure_permission_somewhere
from fangkong.people import import_service
from fangkong.people.importers import PEOPLE_SCHEMA

# Multipart overhead allowed above the file itself before a request is refused unread.
MULTIPART_SLACK = 64 * 1024


class UploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Ledger file"),
        help_text=gettext_lazy("xlsx, xls, ods or csv (UTF-8 or GB18030)."),
    )
    region = forms.ChoiceField(label=gettext_lazy("Import into"))

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["region"].choices = [  # type: ignore[attr-defined]
            (r.code, f"{r.name} ({r.code})") for r in import_service.importable_regions(user)
        ]

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > max_upload_bytes():
            raise forms.ValidationError(too_large_message(upload.size))
        return upload


def _require_import(request: HttpRequest) -> None:
    ensure_permission_somewhere(request.user, Perm.IMPORT_PEOPLE)


@login_required
def import_upload(request: HttpRequest) -> HttpResponse:
    _require_import(request)
    user = request.user
    form = UploadForm(user=user)
    error = ""
    if request.method == "POST":
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length > max_upload_bytes() + MULTIPART_SLACK:
            # Refused before Django reads the body: a 50 MB upload costs nothing.
            error = too_large_message(length)
        else:
            form = UploadForm(request.POST, request.FILES, user=user)
            if form.is_valid():
                region = form.cleaned_data["region"]
                try:
                    token = import_service.store_upload(form.cleaned_data["file"], user, region)
                except (UploadTooLarge, ImportFileError) as exc:
                    form.add_error("file", str(exc))
                else:
                    return redirect("people:import_preview", token=token)
    elif request.method != "GET":
        return HttpResponse(status=405)
    return render(
        request,
        "people/import/upload.html",
        {"form": form, "error": error, "limit_mb": max_upload_bytes() // 1024 // 1024},
    )


@login_required
def import_preview(request: HttpRequest, token: str) -> HttpResponse:
    _require_import(request)
    user = request.user
    path, meta = import_service.load_upload(token, user)
    region = import_service.check_region(user, str(meta.get("region_code") or ""))
    if request.method not in ("GET", "POST"):
        return HttpResponse(status=405)

    def start(header_row: int, mapping: dict[int, str], dry_run: bool) -> Job:
        return import_service.start_import(
            user, token, header_row=header_row, mapping=mapping, dry_run=dry_run
        )

    try:
        step = preview_step(request, path, import_service.make_preview, start)
    except PermissionDenied:
        raise Http404 from None
    if step.job is not None:
        return redirect("core:job_detail", pk=step.job.pk)
    return render(
        request,
        "people/import/preview.html",
        {
            "token": token,
            "filename": meta.get("filename", ""),
            "region": region,
            **preview_context(step.preview, PEOPLE_SCHEMA, error=step.error, dry_run=step.dry_run),
        },
    )
