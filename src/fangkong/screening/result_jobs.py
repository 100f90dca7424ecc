"""The "screening.import_results" job and what the upload page and the API share.

An upload belongs to the user who sent it (its meta.json says so): anybody else asking
for its token gets a 404. Importing needs IMPORT_RESULTS somewhere; each line is then
matched only against tubes of the user's regions (screening.actions.results).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.http import Http404
from django.utils import translation
from django.utils.translation import gettext as _

from fangkong.accounts.roles import Perm
from fangkong.core.importing.headers import HeaderGuess, find_header
from fangkong.core.importing.params import job_file, job_header_row, job_mapping
from fangkong.core.importing.preview import Preview
from fangkong.core.importing.preview import make_preview as preview_of
from fangkong.core.importing.readers import ImportFileError, Table, open_table
from fangkong.core.importing.runner import resolve_header
from fangkong.core.importing.uploads import save_upload, upload_meta, upload_path
from fangkong.core.jobs import Progress, job_kind, new_result_file, start_job
from fangkong.core.models import Job
from fangkong.core.regioncodes import minimal_prefixes
from fangkong.core.scoping import scope_codes
from fangkong.screening.importers import JOB_KIND, RESULT_SCHEMA, import_results_file


def result_header(
    table: Table, header_row: int | None = None, mapping: dict[int, str] | None = None
) -> HeaderGuess:
    """The header of a result file; the message names the columns a lab file has."""
    if header_row is None and table.head and find_header(table.head, RESULT_SCHEMA) is None:
        raise ImportFileError(
            _(
                "No header row was found: a result file needs columns such as 试管编码 "
                "(tube barcode), 检测结果 (result) and 检测时间 (result time)."
            )
        )
    return resolve_header(table, RESULT_SCHEMA, header_row, mapping)


def store_upload(upload: Any, user: Any) -> str:
    """Keep the file and check it can be read and has a header; returns its token.
    Raises UploadTooLarge or ImportFileError (messages are for the user). A column the
    header did not name (say the result time) is mapped by hand on the preview."""
    token, path = save_upload(upload, {"owner": user.pk, "kind": JOB_KIND})
    table = open_table(path)
    if not table.head:
        raise ImportFileError(_("The file is empty."))
    if find_header(table.head, RESULT_SCHEMA) is None:
        result_header(table)  # raises with the columns a result file needs
    return token


def load_upload(token: str, user: Any) -> tuple[Path, dict[str, Any]]:
    path = upload_path(token)
    meta = upload_meta(token)
    if path is None or meta.get("owner") != user.pk or meta.get("kind") != JOB_KIND:
        raise Http404
    return path, meta


def make_preview(
    path: Path, header_row: int | None = None, mapping: dict[Any, Any] | None = None
) -> Preview:
    return preview_of(path, RESULT_SCHEMA, header_row, mapping, resolve=result_header)


def _job_region(user: Any) -> str:
    """The region a job is filed under: the user's one import region, else none."""
    codes = scope_codes(user, Perm.IMPORT_RESULTS)
    prefixes = minimal_prefixes(codes) if codes else []
    return prefixes[0] if len(prefixes) == 1 else ""


def start_import(
    user: Any,
    token: str,
    *,
    header_row: int | None = None,
    mapping: dict[int, str] | None = None,
    dry_run: bool = False,
) -> Job:
    path, meta = load_upload(token, user)
    preview = make_preview(path, header_row, mapping)
    if preview.error:
        raise ImportFileError(preview.error)
    filename = str(meta.get("filename") or path.name)
    return start_job(
        JOB_KIND,
        actor=user,
        region_code=_job_region(user),
        title=_("Lab results: %(file)s") % {"file": filename},
        params={
            "token": token,
            "header_row": preview.header_row,
            "mapping": {str(k): v for k, v in preview.mapping.items()},
            "dry_run": dry_run,
            "language": translation.get_language() or "zh-hans",
            "filename": filename,
        },
    )


@job_kind(JOB_KIND)
def run_result_import(job: Job, progress: Progress) -> dict[str, Any]:
    """Params: token (an upload) or path (CLI only), header_row, mapping, dry_run,
    language, filename. The error workbook becomes the job's result file."""
    params = job.params or {}
    with translation.override(params.get("language") or "zh-hans"):
        path = job_file(params)
        if params.get("header_row") is None:
            result_header(open_table(path))  # our message rather than the generic one
        error_path = new_result_file(job, f"errors-{path.stem}.xlsx")
        summary = import_results_file(
            path,
            actor=job.owner,
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
    """`results N, unknown tubes U, positives P` (the CLI's last line, in English there)."""
    return _("results %(results)d, unknown tubes %(unknown_tubes)d, positives %(positives)d") % {
        "results": summary.get("results", 0),
        "unknown_tubes": summary.get("unknown_tubes", 0),
        "positives": summary.get("positives", 0),
    }
