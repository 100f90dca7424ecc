"""The "people.import" job: one uploaded (or CLI-given) ledger imported with progress."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.utils import translation
from django.utils.translation import gettext as _

from fangkong.core.importing.readers import ImportFileError
from fangkong.core.importing.uploads import upload_path
from fangkong.core.jobs import Progress, job_kind, new_result_file
from fangkong.core.models import Job
from fangkong.people.actions import import_people
from fangkong.people.importers import JOB_KIND


def _mapping(raw: Any) -> dict[int, str] | None:
    if not isinstance(raw, dict):
        return None
    return {int(k): str(v) for k, v in raw.items() if str(k).isdigit()}


@job_kind(JOB_KIND)
def run_people_import(job: Job, progress: Progress) -> dict[str, Any]:
    """Params: token (an upload) or path (CLI only), region_code, header_row, mapping,
    dry_run, language, filename. The error workbook becomes the job's result file."""
    params = job.params or {}
    with translation.override(params.get("language") or "zh-hans"):
        if params.get("token"):
            path = upload_path(str(params["token"]))
        else:
            path = Path(params["path"]) if params.get("path") else None
        if path is None or not path.is_file():
            raise ImportFileError(_("The uploaded file is no longer available; upload it again."))
        error_path = new_result_file(job, f"errors-{path.stem}.xlsx")
        header_row = params.get("header_row")
        summary = import_people(
            path,
            actor=job.owner,
            region_code=str(params.get("region_code") or ""),
            dry_run=bool(params.get("dry_run")),
            header_row=int(header_row) if header_row is not None else None,
            mapping=_mapping(params.get("mapping")),
            progress=progress,
            error_path=error_path,
            job_id=str(job.pk),
            filename=str(params.get("filename") or path.name),
        )
        if "error_file" not in summary:
            job.result_file = ""
        if progress.bar is None:  # the CLI prints its own last line
            progress.message(summary_line(summary))
        return summary


def summary_line(summary: dict[str, Any]) -> str:
    return (
        _(
            "imported %(created)d, updated %(updated)d, unchanged %(unchanged)d, "
            "rejected %(rejected)d"
        )
        % summary
    )
