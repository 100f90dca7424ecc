"""The error workbook: rejected rows with their original columns plus the reason.

Written with xlsxwriter in constant-memory mode as rows are rejected, so a file with many
bad rows costs no memory. Strings are written as strings (never as formulas or links),
so a cell that looked like a formula in the upload stays inert text.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any


class ErrorWorkbook:
    def __init__(self, path: Path, header: list[str], reason_header: str) -> None:
        import xlsxwriter

        self.path = path
        self.rows = 0
        self._workbook = xlsxwriter.Workbook(
            str(path),
            {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False},
        )
        self._sheet = self._workbook.add_worksheet("errors")
        bold = self._workbook.add_format({"bold": True})
        self._red = self._workbook.add_format({"font_color": "#b02a37"})
        self._width = len(header)
        for col, text in enumerate([*header, reason_header]):
            self._sheet.write_string(0, col, str(text), bold)
        self._sheet.freeze_panes(1, 0)
        self._sheet.set_column(self._width, self._width, 50)

    def add(self, cells: list[Any], reason: str) -> None:
        self.rows += 1
        row = self.rows
        for col in range(self._width):
            value = cells[col] if col < len(cells) else None
            if value is None or value == "":
                continue
            if isinstance(value, bool):
                self._sheet.write_boolean(row, col, value)
            elif isinstance(value, (int, float)):
                self._sheet.write_number(row, col, value)
            elif isinstance(value, (dt.date, dt.datetime)):
                self._sheet.write_string(row, col, value.isoformat())
            else:
                self._sheet.write_string(row, col, str(value))
        self._sheet.write_string(row, self._width, reason, self._red)

    def close(self) -> None:
        self._workbook.close()
