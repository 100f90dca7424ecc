"""API: lab result import (检测结果导入) under /api/v1/screening/results.

POST /results/preview: upload a result file, get the detected header row, the column
mapping and the first rows; the answer's ``token`` names the kept upload.
POST /results/import: upload (or name a token already previewed) and start the
"screening.import_results" job (202); follow it at /api/v1/jobs/{job_id}: its result has
the counts (results, unchanged, unknown_tubes, positives, rejected), ``unknown_list``
(up to 1,000 unknown barcodes) and ``case_ids``; its result file is the error workbook.
Needs Perm.IMPORT_RESULTS (403 otherwise); another user's token is a 404.

No ``from __future__ import annotations``: ninja reads the schemas from the signatures.
"""

from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import File, Form, Router, Schema, Status
from ninja.errors import HttpError
from ninja.files import UploadedFile

from fangkong.accounts.roles import Perm
from fangkong.core.importing.params import mapping_from_json
from fangkong.core.importing.readers import ImportFileError
from fangkong.core.importing.uploads import UploadTooLarge, max_upload_bytes, too_large_message
from fangkong.core.scoping import ensure_permission_somewhere
from fangkong.screening import result_jobs
from fangkong.screening.importers import RESULT_SCHEMA

router = Router(tags=["screening results"])


class PreviewOut(Schema):
    token: str
    header_row: int
    header: list[str]
    mapping: dict[str, str]
    sample: list[list[str]]
    data_rows: int | None


class StartOut(Schema):
    job_id: str
    status: str
    job_url: str
    page_url: str


def _store(request: HttpRequest, upload: UploadedFile | None) -> str:
    ensure_permission_somewhere(request.user, Perm.IMPORT_RESULTS)
    if upload is None:
        raise HttpError(400, _("Send the result file in the field “file”."))
    if upload.size and upload.size > max_upload_bytes():
        raise HttpError(413, too_large_message(upload.size))
    try:
        return result_jobs.store_upload(upload, request.user)
    except UploadTooLarge as exc:
        raise HttpError(413, str(exc)) from None
    except ImportFileError as exc:
        raise HttpError(400, str(exc)) from None


@router.post("/results/preview", response=PreviewOut)
def preview_results(request: HttpRequest, file: File[UploadedFile]) -> dict[str, Any]:
    """Keep the upload and show how it would be read (nothing is written)."""
    token = _store(request, file)
    path, _meta = result_jobs.load_upload(token, request.user)
    preview = result_jobs.make_preview(path)
    return {"token": token, **preview.as_dict()}


@router.post("/results/import", response={202: StartOut})
def import_results(
    request: HttpRequest,
    token: Form[str] = "",
    header_row: Form[int | None] = None,
    mapping: Form[str] = "",
    dry_run: Form[bool] = False,
    file: File[UploadedFile | None] = None,
) -> Any:
    """Start the import job (202). Send ``file``, or a ``token`` from /results/preview;
    ``header_row`` (1-based) and ``mapping`` ({"column index": "field"}) fix what was
    detected; ``dry_run`` checks without writing."""
    ensure_permission_somewhere(request.user, Perm.IMPORT_RESULTS)
    if file is not None:
        token = _store(request, file)
    elif not token:
        raise HttpError(400, _("Send the result file in the field “file”."))
    if header_row is not None and not 1 <= header_row <= 1000:
        raise HttpError(400, _("The header row is a row number from 1."))
    try:
        job = result_jobs.start_import(
            request.user,
            token,
            header_row=header_row - 1 if header_row else None,
            mapping=mapping_from_json(mapping, RESULT_SCHEMA, "barcode"),
            dry_run=dry_run,
        )
    except ImportFileError as exc:
        raise HttpError(400, str(exc)) from None
    return Status(
        202,
        {
            "job_id": str(job.pk),
            "status": str(job.status),
            "job_url": f"/api/v1/jobs/{job.pk}",
            "page_url": reverse("screening:results_job", kwargs={"pk": job.pk}),
        },
    )
