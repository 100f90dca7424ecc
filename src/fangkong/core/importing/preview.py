"""The check-and-map step that every import's page and API share: the header row found
(or chosen), each column's field, the first rows, and what the preview form sent back.

An app's import service calls ``make_preview`` with its schema (and, if it words the
"no header" message its own way, its own header resolver); its preview page reads the
user's choices with ``preview_choice`` and renders ``core/importing_preview_form.html``
with ``preview_context``; ``preview_step`` is that page's request handling.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fangkong.core.importing.headers import HeaderGuess, ImportSchema, clean_mapping
from fangkong.core.importing.readers import ImportFileError, Table, open_table
from fangkong.core.importing.runner import resolve_header
from fangkong.core.importing.values import cell_text

PREVIEW_ROWS = 10

HeaderResolver = Callable[[Table, int | None, dict[int, str] | None], HeaderGuess]


@dataclass
class Preview:
    header_row: int  # 0-based
    header: list[str]
    mapping: dict[int, str]
    head: list[list[str]]  # the first rows of the sheet, to choose the header row from
    sample: list[list[str]]  # the first data rows
    total_rows: int | None
    error: str = ""

    def data_rows(self) -> int | None:
        if self.total_rows is None:
            return None
        return max(0, self.total_rows - self.header_row - 1)

    def as_dict(self) -> dict[str, Any]:
        return {
            "header_row": self.header_row + 1,
            "header": self.header,
            "mapping": {str(k): v for k, v in self.mapping.items()},
            "sample": self.sample,
            "data_rows": self.data_rows(),
            "error": self.error,
        }


def make_preview(
    path: Path,
    schema: ImportSchema,
    header_row: int | None = None,
    mapping: dict[Any, Any] | None = None,
    *,
    resolve: HeaderResolver | None = None,
) -> Preview:
    """What the file looks like to ``schema``; a problem (no header, a required column
    missing) is in ``error``, with the rows still shown so the user can fix the mapping."""
    table = open_table(path)
    head = [[cell_text(c) for c in row] for row in table.head]
    width = max((len(row) for row in head), default=0)
    cleaned = clean_mapping(mapping, width, schema) if mapping is not None else None
    error = ""
    try:
        if resolve is None:
            guess = resolve_header(table, schema, header_row, cleaned)
        else:
            guess = resolve(table, header_row, cleaned)
        found_row, header, found_mapping = guess.row_index, guess.header, guess.mapping
    except ImportFileError as exc:
        error = str(exc)
        found_row = header_row if header_row is not None else 0
        header = head[found_row] if found_row < len(head) else []
        found_mapping = cleaned or {}
    sample = [row for row in head[found_row + 1 :] if any(row)][:PREVIEW_ROWS]
    header = header + [""] * (width - len(header))
    return Preview(found_row, header, found_mapping, head, sample, table.total_rows, error)


@dataclass(frozen=True)
class PreviewChoice:
    """What the preview form sent: the header row (0-based), the mapping, a dry run."""

    header_row: int | None = None
    mapping: dict[str, str] | None = None
    dry_run: bool = False


def preview_choice(post: Mapping[str, Any]) -> PreviewChoice:
    """The user's choices from the preview form's POST (junk is ignored, not an error)."""
    try:
        chosen = int(post.get("header_row"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        chosen = 0
    mapping = {key[4:]: value for key, value in post.items() if key.startswith("map_") and value}
    return PreviewChoice(
        header_row=chosen - 1 if chosen >= 1 else None,
        # No selects sent (a bare commit): keep the detected mapping.
        mapping=mapping or None,
        dry_run=post.get("dry_run") == "on",
    )


@dataclass
class PreviewStep:
    """What the preview page's request came to: the preview (None if the file cannot be
    read), the message to show, the dry-run box, and the job when the user committed."""

    preview: Preview | None
    error: str
    dry_run: bool
    job: Any = None


def preview_step(
    request: Any,
    path: Path,
    make: Callable[[Path, int | None, dict[str, str] | None], Preview],
    start: Callable[[int, dict[int, str], bool], Any],
) -> PreviewStep:
    """An import's preview page: read the user's choices (a POST), preview the file with
    them (``make``), and when the user commits a preview without error start the import
    (``start(header_row, mapping, dry_run)``; an ImportFileError it raises is shown)."""
    posted = request.method == "POST"
    choice = preview_choice(request.POST) if posted else PreviewChoice()
    try:
        preview = make(path, choice.header_row, choice.mapping)
    except ImportFileError as exc:
        return PreviewStep(None, str(exc), choice.dry_run)
    if not posted or "commit" not in request.POST or preview.error:
        return PreviewStep(preview, preview.error, choice.dry_run)
    try:
        job = start(preview.header_row, preview.mapping, choice.dry_run)
    except ImportFileError as exc:
        return PreviewStep(preview, str(exc), choice.dry_run)
    return PreviewStep(preview, "", choice.dry_run, job)


def preview_context(
    preview: Preview | None, schema: ImportSchema, *, error: str, dry_run: bool
) -> dict[str, Any]:
    """The context core/importing_preview_form.html needs."""
    columns = []
    if preview is not None:
        columns = [
            {"index": i, "title": title, "field": preview.mapping.get(i, "")}
            for i, title in enumerate(preview.header)
        ]
    return {
        "preview": preview,
        "columns": columns,
        "fields": [(spec.name, spec.label, spec.required) for spec in schema.fields],
        "error": error,
        "dry_run": dry_run,
        "data_rows": preview.data_rows() if preview else None,
        "header_choices": range(1, len(preview.head) + 1) if preview else [],
    }
