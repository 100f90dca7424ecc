"""Streaming exports of a list to CSV or XLSX (DESIGN rule 3: masked, logged, safe).

A list page builds an ``Export`` from its filtered, scoped queryset and a list of
``Column``s; ``export_response`` streams it and writes the access-log entry. Memory stays
constant: rows are read with ``iterator()``, CSV is a generator, XLSX is written by
xlsxwriter in constant-memory mode to a temporary file that is streamed back.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import connections
from django.db.models import Model, QuerySet
from django.http import FileResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone
from django.utils.http import content_disposition_header
from django_stubs_ext import StrOrPromise

from fangkong.core.audit import log_access

# Spreadsheet programs run a cell starting with these as a formula (CSV/formula injection).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
FORMATS = ("csv", "xlsx")
CHUNK_ROWS = 2000
# SQLite page cache while an export reads (KiB); see _small_page_cache.
EXPORT_CACHE_KIB = 4096


@dataclass(frozen=True)
class Column:
    header: StrOrPromise
    value: Callable[[Any], Any]
    sensitive: bool = False  # identity number, phone, address: logged as revealed fields


def neutralize(value: Any) -> Any:
    """Make a text cell inert: a leading ' keeps it from being read as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return (
            timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
            if timezone.is_aware(value)
            else value.strftime("%Y-%m-%d %H:%M")
        )
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, (int, float)):
        return value
    return neutralize(str(value))


def rows(queryset: QuerySet[Any] | Iterable[Model], columns: list[Column]) -> Iterator[list[Any]]:
    if not isinstance(queryset, QuerySet):
        for obj in queryset:
            yield [_cell(column.value(obj)) for column in columns]
        return
    with _small_page_cache(queryset.db):
        for obj in queryset.iterator(chunk_size=CHUNK_ROWS):
            yield [_cell(column.value(obj)) for column in columns]


@contextmanager
def _small_page_cache(alias: str) -> Iterator[None]:
    """On SQLite, read the export through a small page cache.

    An export reads each page once, so the connection's 64 MB cache (sized for the
    pages' random index lookups) would only fill up with pages never read again: over a
    million rows that was most of the export's memory growth. The setting is restored
    when the export ends (or is abandoned by the client).
    """
    connection = connections[alias]
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        previous = int(cursor.fetchone()[0])
        cursor.execute(f"PRAGMA cache_size = -{EXPORT_CACHE_KIB}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {previous}")


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_stream(header: list[str], body: Iterator[list[Any]], encoding: str) -> Iterator[bytes]:
    writer = csv.writer(_Echo())
    if encoding == "utf-8-sig":
        yield "\ufeff".encode()
        encoding = "utf-8"
    yield writer.writerow([neutralize(h) for h in header]).encode(encoding, "replace")
    for row in body:
        yield writer.writerow(row).encode(encoding, "replace")


def xlsx_file(header: list[str], body: Iterator[list[Any]], sheet: str) -> io.BufferedRandom:
    import xlsxwriter

    handle = tempfile.TemporaryFile()  # noqa: SIM115  (returned open, closed by FileResponse)
    workbook = xlsxwriter.Workbook(
        handle, {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    )
    worksheet = workbook.add_worksheet(sheet[:31] or "export")
    bold = workbook.add_format({"bold": True})
    for col, text in enumerate(header):
        worksheet.write_string(0, col, str(neutralize(text)), bold)
    count = 0
    for count, row in enumerate(body, start=1):
        for col, value in enumerate(row):
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                worksheet.write_number(count, col, value)
            else:
                worksheet.write_string(count, col, str(value))
    worksheet.freeze_panes(1, 0)
    workbook.close()
    handle.seek(0)
    return handle  # type: ignore[return-value]


def export_region_code(user: Any, permission: str) -> str:
    """The region an export is logged under: the common ancestor of the user's scope.

    The access log is itself scoped, so an export must carry a region its auditors cover.
    """
    from fangkong.core.scoping import scope_codes

    codes = scope_codes(user, permission)
    if not codes:
        return ""
    prefix = os.path.commonprefix(codes)  # noqa: RUF071  (character prefixes are wanted)
    # Cut back to a whole division code (2, 4, 6, 9 or 12 digits).
    for length in (12, 9, 6, 4, 2):
        if len(prefix) >= length:
            return prefix[:length]
    return ""


@dataclass
class Export:
    user: Any
    queryset: QuerySet[Any]
    columns: list[Column]
    object_type: str
    filename: str  # without extension
    region_code: str = ""
    unmasked: bool = False
    detail: str = ""


def export_response(export: Export, fmt: str, encoding: str = "utf-8-sig") -> HttpResponseBase:
    """Stream the export and log it (row count, sensitive fields, masked or not)."""
    if fmt not in FORMATS:
        fmt = "csv"
    row_count = export.queryset.count()
    log_access(
        export.user,
        "export",
        object_type=export.object_type,
        region_code=export.region_code,
        fields=[str(c.header) for c in export.columns if c.sensitive],
        row_count=row_count,
        unmasked=export.unmasked,
        detail=export.detail or f"{fmt} {export.filename}",
    )
    header = [str(c.header) for c in export.columns]
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    name = f"{export.filename}-{stamp}"
    body = rows(export.queryset, export.columns)
    if fmt == "xlsx":
        return FileResponse(
            xlsx_file(header, body, export.filename),
            as_attachment=True,
            filename=f"{name}.xlsx",
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    if encoding not in {"utf-8-sig", "utf-8", "gb18030"}:
        encoding = "utf-8-sig"
    response = StreamingHttpResponse(
        csv_stream(header, body, encoding),
        content_type=f"text/csv; charset={'utf-8' if encoding == 'utf-8-sig' else encoding}",
    )
    response["Content-Disposition"] = content_disposition_header(True, f"{name}.csv")
    return response
