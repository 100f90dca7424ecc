"""What the import page and the import API share: keep an upload, preview it, start it.

An upload belongs to the user who sent it (its meta.json says so); anybody else asking
for its token gets a 404. The region imported into must be within the user's
IMPORT_PEOPLE scope (else 404, like any record outside it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.http import Http404
from django.utils import translation

from fangkong.accounts.roles import Perm
from fangkong.core.importing.headers import clean_mapping
from fangkong.core.importing.readers import ImportFileError, Table, open_table
from fangkong.core.importing.runner import resolve_header
from fangkong.core.importing.uploads import save_upload, upload_meta, upload_path
from fangkong.core.importing.values import cell_text
from fangkong.core.jobs import start_job
from fangkong.core.models import Job
from fangkong.core.regioncodes import Level
from fangkong.core.scoping import has_permission, restrict
from fangkong.geo.models import Region
from fangkong.people.importers import JOB_KIND, PEOPLE_SCHEMA

PREVIEW_ROWS = 10
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


@dataclass
class Preview:
    header_row: int  # 0-based
    header: list[str]
    mapping: dict[int, str]
    head: list[list[str]]  # the first rows of the sheet, to choose the header row from
    sample: list[list[str]]  # the first data rows
    total_rows: int | None
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "header_row": self.header_row + 1,
            "header": self.header,
            "mapping": {str(k): v for k, v in self.mapping.items()},
            "sample": self.sample,
            "data_rows": (
                max(0, self.total_rows - self.header_row - 1)
                if self.total_rows is not None
                else None
            ),
            "error": self.error,
        }


def make_preview(
    path: Path, header_row: int | None = None, mapping: dict[Any, Any] | None = None
) -> Preview:
    table: Table = open_table(path)
    head = [[cell_text(c) for c in row] for row in table.head]
    width = max((len(row) for row in head), default=0)
    error = ""
    cleaned = None
    if mapping is not None:
        cleaned = clean_mapping(mapping, width, PEOPLE_SCHEMA)
    try:
        guess = resolve_header(table, PEOPLE_SCHEMA, header_row, cleaned)
        found_row, header, found_mapping = guess.row_index, guess.header, guess.mapping
    except ImportFileError as exc:
        error = str(exc)
        found_row = header_row if header_row is not None else 0
        header = head[found_row] if found_row < len(head) else []
        found_mapping = cleaned or {}
    sample = [row for row in head[found_row + 1 :] if any(row)][:PREVIEW_ROWS]
    header = header + [""] * (width - len(header))
    return Preview(found_row, header, found_mapping, head, sample, table.total_rows, error)


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
