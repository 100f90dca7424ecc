"""What the import page and the import API share: keep an upload, preview it, start it.

An upload belongs to the user who sent it (its meta.json says so); anybody else asking
for its token gets a 404. The region imported into must be within the user's
IMPORT_PEOPLE scope (else 404, like any record outside it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.http import Http404
from django.utils import translation

from fangkong.accounts.roles import Perm
from fangkong.core.importing.preview import Preview
from fangkong.core.importing.preview import make_preview as preview_of
from fangkong.core.importing.readers import ImportFileError, open_table
from fangkong.core.importing.runner import resolve_header
from fangkong.core.importing.uploads import save_upload, upload_meta, upload_path
from fangkong.core.jobs import start_job
from fangkong.core.models import Job
from fangkong.core.regioncodes import Level
from fangkong.core.scoping import has_permission, restrict
from fangkong.geo.models import Region
from fangkong.people.importers import JOB_KIND, PEOPLE_SCHEMA

MAX_REGION_CHOICES = 500


def importable_regions(user: Any) -> list[Region]:
    """Regions the user may import into, townships and villages first by code."""
    qs = Region.objects.filter(level__gte=Level.COUNTY, level__lte=Level.VILLAGE)
    return list(
        restrict(qs, user, Perm.IMPORT_PEOPLE, field="code").order_by("code")[:MAX_REGION_CHOICES]
    )


def check_region(user: Any, code: str) -> Region:
    """The region to import into; 404 when unknown or outside the user's scope."""
    if not code or not has_permission(user, Perm.IMPORT_PEOPLE, code):
        raise Http404
    region = Region.objects.filter(code=code).first()
    if region is None:
        raise Http404
    return region


def store_upload(upload: Any, user: Any, region_code: str) -> str:
    """Keep the file and check it can be read and has a header; returns its token.
    Raises UploadTooLarge or ImportFileError (messages are for the user)."""
    token, path = save_upload(upload, {"owner": user.pk, "region_code": region_code})
    table = open_table(path)
    resolve_header(table, PEOPLE_SCHEMA)
    return token


def load_upload(token: str, user: Any) -> tuple[Path, dict[str, Any]]:
    path = upload_path(token)
    meta = upload_meta(token)
    if path is None or meta.get("owner") != user.pk:
        raise Http404
    return path, meta


def make_preview(
    path: Path, header_row: int | None = None, mapping: dict[Any, Any] | None = None
) -> Preview:
    return preview_of(path, PEOPLE_SCHEMA, header_row, mapping)


def start_import(
    user: Any,
    token: str,
    *,
    header_row: int | None = None,
    mapping: dict[int, str] | None = None,
    dry_run: bool = False,
    region_code: str | None = None,
) -> Job:
    path, meta = load_upload(token, user)
    region = check_region(user, region_code or str(meta.get("region_code") or ""))
    preview = make_preview(path, header_row, mapping)
    if preview.error:
        raise ImportFileError(preview.error)
    return start_job(
        JOB_KIND,
        actor=user,
        region_code=region.code,
        title=f"{meta.get('filename') or path.name} → {region.name}",
        params={
            "token": token,
            "region_code": region.code,
            "header_row": preview.header_row,
            "mapping": {str(k): v for k, v in preview.mapping.items()},
            "dry_run": dry_run,
            "language": translation.get_language() or "zh-hans",
            "filename": str(meta.get("filename") or path.name),
        },
    )
