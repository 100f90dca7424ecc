"""People import API (mounted at /api/v1/people/import).

POST /preview: upload a ledger, get the detected header row, the column mapping and the
first rows; the answer's ``token`` names the kept upload. POST "": upload (or name a token
already previewed) and start the import job; follow it at /api/v1/jobs/{job_id}, whose
result file is the error workbook. Needs Perm.IMPORT_PEOPLE (403 otherwise); a region
outside the caller's scope, or another user's token, is a 404.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
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
from fangkong.people import import_service
from fangkong.people.importers import PEOPLE_SCHEMA

router = Router(tags=["people import"])


class PreviewOut(Schema):
    token: str
    region_code: str
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


def _store(request: HttpRequest, upload: UploadedFile | None, region_code: str) -> str:
    ensure_permission_somewhere(request.user, Perm.IMPORT_PEOPLE)
    import_service.check_region(request.user, region_code)
    if upload is None:
        raise HttpError(400, _("Send the ledger file in the field “file”."))
    if upload.size and upload.size > max_upload_bytes():
        raise HttpError(413, too_large_message(upload.size))
    try:
        return import_service.store_upload(upload, request.user, region_code)
    except UploadTooLarge as exc:
        raise HttpError(413, str(exc)) from None
    except ImportFileError as exc:
        raise HttpError(400, str(exc)) from None


@router.post("/preview", response=PreviewOut)
def preview_import(
    request: HttpRequest, region_code: Form[str], file: File[UploadedFile]
) -> dict[str, Any]:
    """Keep the upload and show how it would be read (nothing is written)."""
    token = _store(request, file, region_code)
    path, _meta = import_service.load_upload(token, request.user)
    preview = import_service.make_preview(path)
    return {"token": token, "region_code": region_code, **preview.as_dict()}


@router.post("", response={202: StartOut})
def start_import(
    request: HttpRequest,
    region_code: Form[str] = "",
    token: Form[str] = "",
    header_row: Form[int | None] = None,
    mapping: Form[str] = "",
    dry_run: Form[bool] = False,
    file: File[UploadedFile | None] = None,
) -> Any:
    """Start the import job (202). Send ``file`` and ``region_code``, or a ``token`` from
    /preview; ``header_row`` (1-based) and ``mapping`` ({"column index": "field"}) fix
    what was detected."""
    ensure_permission_somewhere(request.user, Perm.IMPORT_PEOPLE)
    if file is not None:
        token = _store(request, file, region_code)
    elif not token:
        raise HttpError(400, _("Send the ledger file in the field “file”."))
    if header_row is not None and header_row < 1:
        raise HttpError(400, _("The header row is a row number from 1."))
    try:
        job = import_service.start_import(
            request.user,
            token,
            header_row=header_row - 1 if header_row else None,
            mapping=mapping_from_json(mapping, PEOPLE_SCHEMA, "name"),
            dry_run=dry_run,
            region_code=region_code or None,
        )
    except ImportFileError as exc:
        raise HttpError(400, str(exc)) from None
    except PermissionDenied as exc:
        raise HttpError(403, str(exc) or _("You may not import people here.")) from None
    return Status(
        202,
        {
            "job_id": str(job.pk),
            "status": str(job.status),
            "job_url": f"/api/v1/jobs/{job.pk}",
            "page_url": reverse("core:job_detail", kwargs={"pk": job.pk}),
        },
    )
