"""What an import's API call and its job carry: the column mapping and the file.

An import API takes the mapping as JSON text ({"column index": "field"}); the job keeps
its parameters as JSON (an upload token, or a path given to the CLI; the header row and
the mapping). Every import reads them the same way, with these.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _

from fangkong.core.importing.headers import ImportSchema, clean_mapping
from fangkong.core.importing.readers import ImportFileError
from fangkong.core.importing.uploads import upload_path

MAX_COLUMNS = 1000


def mapping_from_json(raw: str, schema: ImportSchema, example_field: str) -> dict[int, str] | None:
    """An API call's mapping ({"1": "name"} as text), checked against ``schema``; None
    when not given. Raises ImportFileError with the message for the caller's 400."""
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise ImportFileError(
            _('The mapping must be a JSON object such as {"1": "%(field)s"}.')
            % {"field": example_field}
        )
    return clean_mapping(data, MAX_COLUMNS, schema)


def job_file(params: dict[str, Any]) -> Path:
    """The file a job imports: its upload token's file, or the path the CLI gave."""
    if params.get("token"):
        path = upload_path(str(params["token"]))
    else:
        path = Path(params["path"]) if params.get("path") else None
    if path is None or not path.is_file():
        raise ImportFileError(_("The uploaded file is no longer available; upload it again."))
    return path


def job_header_row(params: dict[str, Any]) -> int | None:
    """The job's header row (0-based), None to detect it."""
    header_row = params.get("header_row")
    return int(header_row) if header_row is not None else None


def job_mapping(raw: Any) -> dict[int, str] | None:
    """The job's mapping as stored (JSON keys are strings), None to detect it."""
    if not isinstance(raw, dict):
        return None
    return {int(k): str(v) for k, v in raw.items() if str(k).isdigit()}
