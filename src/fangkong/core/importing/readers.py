"""Reading a spreadsheet's rows: xlsx, xls, ods through calamine; csv in UTF-8 (with or
without BOM) or GB18030, detected.

The format is decided by the file's first bytes, not its name: a picture renamed .xlsx
is refused with a clear message instead of a parser traceback. Rows stream (calamine's
``iter_rows``, csv line by line) so a 100,000-row ledger is never held as Python objects.
Formula cells give their last computed value: formulas are never evaluated.
"""

from __future__ import annotations

import codecs
import csv
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Rows kept aside for header detection before streaming the rest.
PEEK_ROWS = 30
CSV_ENCODINGS = ("utf-8-sig", "gb18030")


class ImportFileError(ValueError):
    """The file cannot be read as a table (the message is user-facing)."""


@dataclass
class Table:
    """A sheet's rows: ``head`` (the first rows, for header detection) then ``rest``."""

    head: list[list[Any]]
    rest: Iterator[list[Any]]
    format: str
    total_rows: int | None = None  # all rows including titles and header, when known
    encoding: str = ""
    _consumed: bool = field(default=False, repr=False)

    def rows(self) -> Iterator[list[Any]]:
        """Every row once, from the first (head rows included)."""
        if self._consumed:
            raise RuntimeError("a Table can be iterated once")
        self._consumed = True
        yield from self.head
        yield from self.rest

    def release(self) -> None:
        """Let go of the rows not read yet (a forked child reads them from its copy).

        A CSV is streamed and holds little; its open file shares its read position with
        the child's copy, so it is left alone rather than closed under the child.
        """
        if self.format == "csv":
            return
        close = getattr(self.rest, "close", None)
        if close is not None:
            close()
        self.rest = iter(())
        self._consumed = True


def sniff_format(first_bytes: bytes) -> str:
    if first_bytes.startswith(ZIP_MAGIC):
        return "zip"  # xlsx or ods: calamine tells them apart
    if first_bytes.startswith(OLE_MAGIC):
        return "xls"
    return "csv"


def open_table(path: str | Path, *, while_reading: Callable[[], object] | None = None) -> Table:
    """Open the first sheet of ``path``; raises ImportFileError for anything unreadable.

    ``while_reading`` runs in a thread meanwhile, joined before this returns (an importer
    loads what it will need): calamine parses a workbook without holding the GIL, so the
    two overlap (pypinyin's dictionaries, 0.15 s, and the fingerprints of 100,000 stored
    people, 0.2 s, load in the 0.8 s a 100,000-row sheet takes to parse). The thread has
    no database connection of its own that would see the caller's transaction: it reads
    through a cursor of the caller's connection, made by the caller, which does not use
    it while it parses (``PeopleImporter.known_loader``). The parse stays in the calling
    thread: in the helper, calamine's 100 MB went to another malloc arena and the two
    import processes' memory grew by 25 MB.
    """
    if while_reading is None:
        return _open_table(Path(path))
    failures: list[BaseException] = []

    def run() -> None:
        try:
            while_reading()
        except BaseException as exc:  # raised again in the calling thread
            failures.append(exc)

    helper = threading.Thread(target=run, name="import-while-reading", daemon=True)
    helper.start()
    try:
        table = _open_table(Path(path))
    finally:
        helper.join()
    if failures:
        raise failures[0]
    return table


def _open_table(path: Path) -> Table:
    try:
        with path.open("rb") as handle:
            first = handle.read(4096)
    except OSError:
        raise ImportFileError(_("The file could not be read.")) from None
    if not first:
        raise ImportFileError(_("The file is empty."))
    kind = sniff_format(first)
    if kind == "csv":
        return _open_csv(path, first)
    return _open_workbook(path, kind)


def _open_workbook(path: Path, kind: str) -> Table:
    from python_calamine import CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_path(str(path))
        sheet = workbook.get_sheet_by_index(0)
        total = sheet.height
        rows = sheet.iter_rows()
        head = [list(row) for _i, row in zip(range(PEEK_ROWS), rows, strict=False)]
    except Exception:
        # calamine raises its own errors (zip, xml, password...) or a plain one for junk.
        raise ImportFileError(
            _("This is not a spreadsheet that can be read; save it as xlsx, xls, ods or csv.")
        ) from None
    fmt = "xls" if kind == "xls" else _zip_flavour(path)
    # calamine yields a new list for every row: no copy (a generator copying each cost the
    # checking process 0.05-0.1 s per 100,000 rows).
    return Table(head=head, rest=rows, format=fmt, total_rows=total)


def _zip_flavour(path: Path) -> str:
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            return "ods" if "content.xml" in archive.namelist() else "xlsx"
    except zipfile.BadZipFile:
        return "xlsx"


def _looks_binary(data: bytes) -> bool:
    return b"\x00" in data


def detect_encoding(sample: bytes) -> str:
    """utf-8-sig when the sample is UTF-8 (with or without BOM), else gb18030 if it decodes."""
    for encoding in CSV_ENCODINGS:
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            # final=False: a multi-byte character cut at the sample's end is not an error.
            decoder.decode(sample, final=False)
        except UnicodeDecodeError:
            continue
        return encoding
    raise ImportFileError(
        _("The text file is not in UTF-8 or GB18030; save it as xlsx or as CSV UTF-8.")
    )


def _open_csv(path: Path, first: bytes) -> Table:
    if _looks_binary(first):
        raise ImportFileError(
            _("This is not a spreadsheet that can be read; save it as xlsx, xls, ods or csv.")
        )
    with path.open("rb") as binary:
        sample = binary.read(1 << 20)
    encoding = detect_encoding(sample)
    handle = path.open(encoding=encoding, newline="")
    # The most frequent of comma, tab, semicolon in the first lines (csv.Sniffer guesses
    # wildly on Chinese text with few columns).
    try:
        start = handle.read(8192)
    except UnicodeDecodeError:
        start = ""
    delimiter = max(",\t;", key=start.count) if start else ","
    handle.seek(0)

    def rows() -> Iterator[list[Any]]:
        try:
            yield from csv.reader(handle, delimiter=delimiter)
        except (UnicodeDecodeError, csv.Error):
            raise ImportFileError(
                _("The text file is not in UTF-8 or GB18030; save it as xlsx or as CSV UTF-8.")
            ) from None
        finally:
            handle.close()

    stream = rows()
    head = [row for _i, row in zip(range(PEEK_ROWS), stream, strict=False)]
    return Table(head=head, rest=stream, format="csv", encoding=encoding)


def read_bytes(data: bytes, suffix: str = "") -> Table:
    """For tests and small in-memory files: write to a temporary file and open it."""
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=suffix, delete=False) as handle:
        handle.write(data)
    return open_table(handle.name)


__all__ = ["ImportFileError", "Table", "detect_encoding", "open_table", "read_bytes"]
