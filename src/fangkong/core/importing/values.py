"""Turning cells into text and dates, whatever the spreadsheet made of them.

Excel stores a phone or an ID typed as a number as a float (13800138000.0); dates come as
date cells, serial numbers (44581 = 2022-01-20) or text (2022/1/20, 2022-01-20,
2022年1月20日, 20220120).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Any

EXCEL_EPOCH = dt.date(1899, 12, 30)
# Serial numbers between 1950 and 2100: anything else is not a date someone meant.
_MIN_SERIAL, _MAX_SERIAL = 18264, 73051
_DATE_TEXT = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")


def cell_text(value: Any) -> str:
    """A cell as text: None → "", 13800138000.0 → "13800138000", NFKC, trimmed."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip() if value.isascii() else unicodedata.normalize("NFKC", value).strip()
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return unicodedata.normalize("NFKC", str(value)).strip()


def parse_date(value: Any) -> dt.date | None:
    """A date from a cell; None when empty. Raises ValueError when it is not a date."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if _MIN_SERIAL <= value <= _MAX_SERIAL:
            return EXCEL_EPOCH + dt.timedelta(days=int(value))
        text = cell_text(value)
    else:
        text = unicodedata.normalize("NFKC", str(value)).strip()
    if not text:
        return None
    match = _DATE_TEXT.match(text) or _COMPACT_DATE.match(text)
    if match is None:
        if text.isdigit() and _MIN_SERIAL <= int(text) <= _MAX_SERIAL:
            return EXCEL_EPOCH + dt.timedelta(days=int(text))
        raise ValueError(text)
    year, month, day = (int(part) for part in match.groups())
    return dt.date(year, month, day)  # ValueError for 2022-02-30
