"""Ledger files for the import tests (valid IDs, xlsx and csv builders) and running them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import xlsxwriter
from python_calamine import CalamineWorkbook

from tests.conftest import GAOZHUANG

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
HEADER = ["序号", "姓名", "身份证号", "联系电话", "所属村", "住址", "返乡日期", "从何地返回"]


def make_id(birth: str = "19900101", seq: int = 123, area: str = "410522") -> str:
    body = f"{area}{birth}{seq:03d}"
    total = sum(int(d) * w for d, w in zip(body, WEIGHTS, strict=True))
    return body + "10X98765432"[total % 11]


# Three valid mainland IDs of 滑县 (410522) for the import tests.
ID1, ID2, ID3 = make_id(seq=123), make_id("19850520", 246), make_id("20010303", 11)


def write_xlsx(
    path: Path, rows: list[list[Any]], header: list[str] | None = None, title: str = "台账"
) -> Path:
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet()
    date_format = workbook.add_format({"num_format": "yyyy/m/d"})
    header = header or HEADER
    if len(header) > 1:
        sheet.merge_range(0, 0, 0, len(header) - 1, title)
    else:
        sheet.write_string(0, 0, title)
    sheet.write_row(1, 0, header)
    for r, row in enumerate(rows, start=2):
        for c, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, dt.date):
                sheet.write_datetime(r, c, dt.datetime.combine(value, dt.time()), date_format)
            elif isinstance(value, (int, float)):
                sheet.write_number(r, c, value)
            else:
                sheet.write_string(r, c, value)
    workbook.close()
    return path


def write_csv(
    path: Path, rows: list[list[Any]], header: list[str] | None = None, encoding: str = "utf-8-sig"
) -> Path:
    lines = [",".join(header or HEADER)] + [
        ",".join("" if v is None else str(v) for v in row) for row in rows
    ]
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def run(path: Path, actor: Any = None, region: str = GAOZHUANG, **kw: Any) -> dict[str, Any]:
    """``import_people_file`` with an error workbook beside the file (``errors_path``)."""
    from fangkong.people.importers import import_people_file

    errors = path.with_suffix(".errors.xlsx")
    summary = import_people_file(path, actor=actor, region_code=region, error_path=errors, **kw)
    summary["errors_path"] = errors
    return summary


def error_rows(summary: dict[str, Any]) -> list[list[Any]]:
    """The error workbook of ``run``'s import: its header, then one row per rejection."""
    book = CalamineWorkbook.from_path(str(summary["errors_path"]))
    return book.get_sheet_by_index(0).to_python()


@pytest.fixture(autouse=True, params=["one process", "checking process"])
def checking(request: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """Autouse where imported: every test runs twice, rows checked in this process and
    checked in a forked child while this one writes (core.importing.checking_process, used
    for large files), which must give the same results, rejections and error workbook."""
    if request.param == "checking process":
        from fangkong.core.importing import checking_process

        monkeypatch.setattr(checking_process, "may_check_in_child", lambda _total: True)
    return str(request.param)


@pytest.fixture(autouse=True)
def english() -> Any:
    """Autouse where imported: reasons are checked in English."""
    from django.utils import translation

    with translation.override("en"):
        yield
