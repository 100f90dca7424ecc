"""Reusable import machinery (DESIGN rule 4): read, find the header, map, check, report.

An app describes its columns with ``FieldSpec``s in an ``ImportSchema`` and writes a
``BatchImporter`` (its own checks and bulk writes); ``run_import`` does the rest: reads
xlsx/xls/ods/csv (``readers``), finds the header row below titles (``headers``), maps
columns to fields (automatic, or as the user fixed it), feeds rows in batches with
progress, and collects rejected rows into an error workbook (``errors``) with the original
columns plus the reason. Uploads are stored and size-checked by ``uploads``.

An importer whose checks need no database can split its work (``TwoStageImporter``:
``check`` then ``write``); a large workbook is then checked in a forked second process
while this one writes (``checking_process``, decisions D20).
"""

from fangkong.core.importing.errors import ErrorWorkbook
from fangkong.core.importing.headers import (
    FieldSpec,
    HeaderGuess,
    ImportSchema,
    find_header,
    normalize_header,
)
from fangkong.core.importing.readers import ImportFileError, Table, open_table
from fangkong.core.importing.runner import BatchImporter, ImportResult, Rejection, run_import
from fangkong.core.importing.uploads import UploadTooLarge, save_upload
from fangkong.core.importing.values import cell_text, parse_date

__all__ = [
    "BatchImporter",
    "ErrorWorkbook",
    "FieldSpec",
    "HeaderGuess",
    "ImportFileError",
    "ImportResult",
    "ImportSchema",
    "Rejection",
    "Table",
    "UploadTooLarge",
    "cell_text",
    "find_header",
    "normalize_header",
    "open_table",
    "parse_date",
    "run_import",
    "save_upload",
]
