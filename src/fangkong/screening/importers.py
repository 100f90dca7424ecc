"""Lab result files (检测结果导入): the columns, the result words, and the batch importer.

A lab sends one line per tube: the tube barcode, the result (阴性/混管阳性/阳性/无效/复检)
and the time of the report; a line for a single tube (单采) may name the person's ID
number, which must then match the one person sampled into it. The reading, the header
search and the error workbook are core.importing's; this module turns cells into
``ResultLine``s and hands each batch to ``screening.actions.results.apply_results``.

Re-importing a file changes nothing: a line already recorded (same tube, result and
time) counts as unchanged, also when it repeats inside one file.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fangkong.core.importing.headers import FieldSpec, ImportSchema
from fangkong.core.importing.runner import Rejection, Row
from fangkong.people.identity import normalize_number
from fangkong.screening.actions.results import (
    BatchOutcome,
    ResultLine,
    apply_results,
    record_import_summary,
)
from fangkong.screening.codes import CodeError, clean_barcode
from fangkong.screening.models import TestResult

JOB_KIND = "screening.import_results"
# Rows per batch (one transaction each): large batches keep the set-based statements few.
BATCH_ROWS = 20000
# How many unknown barcodes a job's summary lists (all of them are in the error workbook).
UNKNOWN_LISTED = 1000
# A report time may run ahead of this server's clock by a few minutes, not more.
FUTURE_SLACK = dt.timedelta(minutes=30)
EARLIEST = dt.datetime(2019, 12, 1, tzinfo=dt.UTC)

RESULT_SCHEMA = ImportSchema(
    [
        FieldSpec(
            "barcode",
            gettext_lazy("Tube barcode"),
            (
                "试管编码",
                "试管条码",
                "试管编号",
                "试管号",
                "采样管条码",
                "采样管编码",
                "采样管编号",
                "管码",
                "条码",
                "条码号",
                "样本条码",
                "样本编码",
                "样本编号",
                "混管编码",
                "混管条码",
                "tube barcode",
                "tube",
                "barcode",
            ),
            True,
        ),
        FieldSpec(
            "result",
            gettext_lazy("Result"),
            ("检测结果", "结果", "核酸结果", "核酸检测结果", "检验结果", "result"),
            True,
        ),
        FieldSpec(
            "result_at",
            gettext_lazy("Result time"),
            (
                "检测时间",
                "报告时间",
                "结果时间",
                "出结果时间",
                "报告日期",
                "检测日期",
                "审核时间",
                "result time",
                "report time",
                "reported at",
            ),
            True,
        ),
        FieldSpec(
            "id_number",
            gettext_lazy("ID number (single tubes)"),
            ("身份证号", "身份证号码", "身份证", "证件号码", "证件号", "公民身份号码", "id number"),
        ),
        FieldSpec(
            "lab",
            gettext_lazy("Lab"),
            ("检测机构", "检测单位", "检测实验室", "实验室", "lab", "laboratory"),
        ),
    ]
)

# Words labs write, after ``_fold`` (NFKC, lower case, no spaces or brackets, simplified).
RESULT_WORDS: dict[str, str] = {
    "阴性": TestResult.NEGATIVE,
    "阴": TestResult.NEGATIVE,
    "negative": TestResult.NEGATIVE,
    "neg": TestResult.NEGATIVE,
    "混管阳性": TestResult.POOL_POSITIVE,
    "混阳": TestResult.POOL_POSITIVE,
    "混检阳性": TestResult.POOL_POSITIVE,
    "混采阳性": TestResult.POOL_POSITIVE,
    "poolpositive": TestResult.POOL_POSITIVE,
    "pooledpositive": TestResult.POOL_POSITIVE,
    "阳性": TestResult.POSITIVE,
    "阳": TestResult.POSITIVE,
    "单管阳性": TestResult.POSITIVE,
    "单采阳性": TestResult.POSITIVE,
    "positive": TestResult.POSITIVE,
    "pos": TestResult.POSITIVE,
    "无效": TestResult.INVALID,
    "无效样本": TestResult.INVALID,
    "invalid": TestResult.INVALID,
    "复检": TestResult.RETEST,
    "待复检": TestResult.RETEST,
    "需复检": TestResult.RETEST,
    "复查": TestResult.RETEST,
    "重采": TestResult.RETEST,
    "retest": TestResult.RETEST,
}
# Not a result yet: the row is refused with its own reason (import it when it is out).
PENDING_WORDS = frozenset({"报告未出", "未出", "待检", "检测中", "pending"})

_BRACKETED = re.compile(r"[(（\[【].*?[)）\]】]")
_NOISE = re.compile(r"[\s\-_.·/]+")
_DATETIME_TEXT = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:[\sT]*(\d{1,2})\s*[:：时點点]\s*(\d{1,2})(?:\s*[:：分]\s*(\d{1,2})(?:\.\d+)?)?\s*[分秒]?)?$"
)
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2})?)?$")
_PLAIN_BARCODE = re.compile(r"[A-Z0-9][A-Z0-9\-]{0,31}")
EXCEL_EPOCH = dt.datetime(1899, 12, 30)
_MIN_SERIAL, _MAX_SERIAL = 43800, 73051  # 2019-11-30 .. 2100


class CellError(ValueError):
    """A row's cell cannot be read (the message is user-facing)."""


def _fold(text: str) -> str:
    from fangkong.geo.names import to_simplified

    folded = unicodedata.normalize("NFKC", text).strip().lower()
    without = _BRACKETED.sub("", folded)
    folded = _NOISE.sub("", without or folded)
    return to_simplified(folded)


@lru_cache(maxsize=256)
def _result_for(text: str) -> str:
    folded = _fold(text)
    found = RESULT_WORDS.get(folded)
    if found is not None:
        return str(found)
    if folded in PENDING_WORDS:
        raise CellError(_("No result yet (报告未出): import this tube when its result is out."))
    raise CellError(
        _("Unknown result “%(word)s”: use 阴性, 混管阳性, 阳性, 无效 or 复检.")
        % {"word": text[:40]}
    )


def parse_result(value: Any) -> str:
    """A TestResult value from a cell; CellError for an empty or unknown word."""
    text = value if isinstance(value, str) else ("" if value is None else str(value))
    if not text.strip():
        raise CellError(_("The result is empty."))
    return _result_for(text)


def _local(moment: dt.datetime) -> dt.datetime:
    if timezone.is_aware(moment):
        return moment.astimezone(dt.UTC)
    return timezone.make_aware(moment, timezone.get_default_timezone()).astimezone(dt.UTC)


@lru_cache(maxsize=65536)
def _time_from_text(text: str) -> dt.datetime:
    cleaned = unicodedata.normalize("NFKC", text).strip()
    match = _DATETIME_TEXT.match(cleaned) or _COMPACT.match(cleaned)
    if match is not None:
        year, month, day, hour, minute, second = (
            int(part) if part else 0 for part in match.groups()
        )
        try:
            return _local(dt.datetime(year, month, day, hour, minute, second))
        except ValueError:
            pass
    else:
        try:
            return _local(dt.datetime.fromisoformat(cleaned))
        except ValueError:
            pass
        try:
            serial = float(cleaned)
        except ValueError:
            serial = 0.0
        if _MIN_SERIAL <= serial <= _MAX_SERIAL:
            return _local(EXCEL_EPOCH + dt.timedelta(days=serial))
    raise CellError(
        _("“%(value)s” is not a date and time (such as 2022-01-20 15:30).") % {"value": text[:40]}
    )


def parse_result_time(value: Any, now: dt.datetime | None = None) -> dt.datetime:
    """The report time of a cell in UTC; a time without zone is Beijing time (the server's).

    Accepts date cells, Excel serial numbers and text such as 2022-01-20 15:30,
    2022/1/20 15:30:00, 2022年1月20日 15时30分 or 20220120153000.
    """
    if value is None or value == "":
        raise CellError(_("The result time is empty."))
    if isinstance(value, dt.datetime):
        moment = _local(value)
    elif isinstance(value, dt.date):
        moment = _local(dt.datetime.combine(value, dt.time()))
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        if not _MIN_SERIAL <= value <= _MAX_SERIAL:
            raise CellError(
                _("“%(value)s” is not a date and time (such as 2022-01-20 15:30).")
                % {"value": value}
            )
        moment = _local(EXCEL_EPOCH + dt.timedelta(days=float(value)))
    else:
        moment = _time_from_text(str(value))
    if moment > (now or timezone.now()) + FUTURE_SLACK:
        raise CellError(_("The result time is in the future."))
    if moment < EARLIEST:
        raise CellError(_("The result time is before any testing round (2019)."))
    return moment


def read_barcode(value: Any) -> str:
    """A tube barcode from a cell, read as the scan reads it (screening.codes)."""
    if type(value) is str and _PLAIN_BARCODE.fullmatch(value):
        return value  # already what clean_barcode would return: skip its per-character pass
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a numeric barcode that Excel stored as a number
    try:
        return clean_barcode("" if value is None else value)
    except CodeError as exc:
        raise CellError(str(exc)) from None


def clean_id_number(value: Any) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, float):
        # An ID typed into Excel as a number has lost its last digits: refuse, do not guess.
        raise CellError(
            _("The ID number was stored as a number and lost digits; store it as text.")
        )
    return normalize_number(value)[:32]


@lru_cache(maxsize=256)
def _lab_text(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()[:100]


def clean_lab(value: Any) -> str:
    if value is None or value == "":
        return ""
    return _lab_text(str(value))


@dataclass
class ResultImporter:
    """The ``BatchImporter`` of a result file. ``actor`` None is the system (the CLI)."""

    actor: Any
    job_id: str = ""
    filename: str = ""
    dry_run: bool = False
    schema: ImportSchema = field(default_factory=lambda: RESULT_SCHEMA)
    outcome: BatchOutcome = field(default_factory=BatchOutcome)
    unknown: set[str] = field(default_factory=set)
    _now: dt.datetime = field(default_factory=timezone.now)

    def counts(self) -> dict[str, int]:
        return {
            "results": self.outcome.recorded,
            "unchanged": self.outcome.unchanged,
            "unknown_tubes": len(self.unknown),
            "positives": len(self.outcome.cases),
            "tubes_updated": self.outcome.tubes_updated,
        }

    def _line(self, row: Row) -> ResultLine:
        values = row.values
        return ResultLine(
            ref=row,
            barcode=read_barcode(values.get("barcode")),
            result=parse_result(values.get("result")),
            reported_at=parse_result_time(values.get("result_at"), self._now),
            id_number=clean_id_number(values.get("id_number")),
            lab=clean_lab(values.get("lab")),
        )

    def process(self, rows: list[Row]) -> list[Rejection]:
        rejections: list[Rejection] = []
        lines: list[ResultLine] = []
        for row in rows:
            try:
                lines.append(self._line(row))
            except CellError as exc:
                rejections.append(Rejection(row, str(exc)))
        if lines:
            batch = apply_results(
                self.actor,
                lines,
                job_id=self.job_id,
                filename=self.filename,
                dry_run=self.dry_run,
            )
            self.outcome.merge(batch)
            self.unknown.update(batch.unknown)
            rejections += [Rejection(line.ref, reason) for line, reason in batch.rejected]
        rejections.sort(key=lambda r: r.row.number)
        return rejections

    def unknown_listed(self) -> list[str]:
        return sorted(self.unknown)[:UNKNOWN_LISTED]


def import_results_file(
    path: Path,
    *,
    actor: Any,
    dry_run: bool = False,
    header_row: int | None = None,
    mapping: dict[int, str] | None = None,
    progress: Any = None,
    error_path: Path | None = None,
    job_id: str = "",
    filename: str = "",
) -> dict[str, Any]:
    """Import one result file (the job handler and the tests call this); the summary."""
    from fangkong.core.importing.readers import open_table
    from fangkong.core.importing.runner import resolve_header, run_import

    importer = ResultImporter(
        actor=actor, job_id=job_id, filename=filename or path.name, dry_run=dry_run
    )
    table = open_table(path)
    guess = resolve_header(table, RESULT_SCHEMA, header_row, mapping)
    result = run_import(
        table,
        importer,
        guess,
        progress=progress,
        error_path=error_path,
        reason_header=_("Error reason"),
        batch_size=BATCH_ROWS,
    )
    if not dry_run:
        record_import_summary(
            actor,
            importer.outcome,
            job_id=job_id,
            filename=importer.filename,
            rejected=result.rejected,
            unknown=len(importer.unknown),
        )
    summary = result.as_dict()
    summary["dry_run"] = dry_run
    summary["unknown_list"] = importer.unknown_listed()
    summary["case_ids"] = importer.outcome.cases[:UNKNOWN_LISTED]
    if result.error_file is not None:
        summary["error_file"] = result.error_file.name
    return summary
