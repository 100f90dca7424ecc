"""The "people.import" job: one uploaded (or CLI-given) ledger imported with progress."""

from __future__ import annotations

from typing import Any

from django.utils import translation
from django.utils.translation import gettext as _

from fangkong.core.importing.params import job_file, job_header_row, job_mapping
from fangkong.core.jobs import Progress, job_kind, new_result_file
from fangkong.core.models import Job
from fangkong.people.actions import import_people
from fangkong.people.importers import JOB_KIND


@job_kind(JOB_KIND)
def run_people_import(job: Job, progress: Progress) -> dict[str, Any]:
    """Params: token (an upload) or path (CLI only), region_code, header_row, mapping,
    dry_run, language, filename. The error workbook becomes the job's result file."""
    params = job.params or {}
    with translation.override(params.get("language") or "zh-hans"):
        path = job_file(params)
        error_path = new_result_file(job, f"errors-{path.stem}.xlsx")
        summary = import_people(
            path,
            actor=job.owner,
            region_code=str(params.get("region_code") or ""),
            dry_run=bool(params.get("dry_run")),
            header_row=job_header_row(params),
            mapping=job_mapping(params.get("mapping")),
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
