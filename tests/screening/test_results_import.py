"""Importing lab results: formats, words, unknown tubes, idempotence, rounds, positives."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from fangkong.core.importing.readers import ImportFileError
from fangkong.core.models import AuditEntry
from fangkong.screening.actions.results import record_result
from fangkong.screening.importers import import_results_file, parse_result, parse_result_time
from fangkong.screening.models import (
    PositiveCase,
    ResampleTask,
    ResultRecord,
    RoundStatus,
    TaskStatus,
    TubeStatus,
)
from fangkong.screening.models import (
    TestResult as LabResult,
)
from tests.conftest import DONGZHENGSI, FUDAO, GAOZHUANG, JIANGTAITUN
from tests.screening.conftest import Gaozhuang
from tests.screening.results_fixtures import LAB, local, make_tube, write_csv, write_xlsx

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english() -> Any:
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture
def tubes(gz: Gaozhuang) -> dict[str, Any]:
    """T001: 10:1 pool of 蒋台屯 people 0-4 (person 4 removed); T002: 5-9; S001: 孙丽 alone."""
    pool = make_tube(gz.round, gz.site, "T001", gz.jiangtaitun[:4], removed=gz.jiangtaitun[4:5])
    return {
        "pool": pool,
        "pool2": make_tube(gz.round, gz.site, "T002", gz.jiangtaitun[5:]),
        "single": make_tube(gz.round, gz.other_site, "S001", gz.dongzhengsi[:1], capacity=1),
    }


def run(path: Path, actor: Any = None, **kwargs: Any) -> dict[str, Any]:
    return import_results_file(
        path, actor=actor, error_path=path.with_suffix(".err.xlsx"), **kwargs
    )


def error_rows(path: Path) -> list[list[Any]]:
    from python_calamine import CalamineWorkbook

    book = CalamineWorkbook.from_path(str(path.with_suffix(".err.xlsx")))
    return [list(r) for r in book.get_sheet_by_index(0).to_python()]


ROWS = [
    [1, "T001", "阴性", "2022-01-20 15:30", LAB],
    [2, "T002", "混管阳性", "2022/1/20 16:05:00", LAB],
    [3, "S001", "阴性", "2022年1月20日 16时10分", LAB],
]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_in_each_encoding(tubes: dict[str, Any], tmp_path: Path, encoding: str) -> None:
    summary = run(write_csv(tmp_path / "r.csv", ROWS, encoding=encoding))
    assert summary["results"] == 3 and summary["rejected"] == 0
    assert (summary["unknown_tubes"], summary["positives"]) == (0, 1)
    pool = tubes["pool"]
    pool.refresh_from_db()
    assert (pool.result, pool.status) == (LabResult.NEGATIVE, TubeStatus.RESULTED)
    assert pool.result_at == local("2022-01-20 15:30")
    record = ResultRecord.objects.get(tube=tubes["pool2"])
    assert (record.result, record.lab_name) == (LabResult.POOL_POSITIVE, LAB)
    assert record.reported_at == local("2022-01-20 16:05")


def test_xlsx_with_title_row_and_date_cells(tubes: dict[str, Any], tmp_path: Path) -> None:
    rows = [
        [1, "T001", "阴性", dt.datetime(2022, 1, 20, 15, 30), LAB],
        [2, "t002", "阳性", 44581.6875, LAB],  # an Excel serial: 2022-01-20 16:30
    ]
    summary = run(write_xlsx(tmp_path / "r.xlsx", rows))
    assert (summary["results"], summary["rejected"], summary["header_row"]) == (2, 0, 2)
    pool2 = tubes["pool2"]
    pool2.refresh_from_db()
    assert pool2.result == LabResult.POSITIVE
    assert pool2.result_at == local("2022-01-20 16:30")


def test_traditional_full_width_and_english_words() -> None:
    assert parse_result("陰性") == LabResult.NEGATIVE
    assert parse_result("混管陽性") == LabResult.POOL_POSITIVE
    assert parse_result("陽性") == LabResult.POSITIVE
    assert parse_result("無效") == LabResult.INVALID
    assert parse_result("複檢") == LabResult.RETEST
    assert parse_result("ＮＥＧＡＴＩＶＥ") == LabResult.NEGATIVE
    assert parse_result(" Pool Positive ") == LabResult.POOL_POSITIVE
    assert parse_result("阴性（-）") == LabResult.NEGATIVE
    assert parse_result("re-test") == LabResult.RETEST


def test_times_in_the_forms_labs_write() -> None:
    expected = local("2022-01-20 15:30")
    for text in (
        "2022-01-20 15:30",
        "2022/1/20 15:30:00",
        "2022年1月20日 15时30分",
        "２０２２－０１－２０ １５：３０",
        "202201201530",
        "2022-01-20T07:30:00+00:00",
    ):
        assert parse_result_time(text) == expected, text
    assert parse_result_time("2022-01-20") == local("2022-01-20 00:00")


def test_unknown_words_and_bad_cells_are_rejected_with_reasons(
    tubes: dict[str, Any], tmp_path: Path
) -> None:
    future = (timezone.localtime() + dt.timedelta(days=2)).strftime("%Y-%m-%d %H:%M")
    rows = [
        [1, "T001", "待定", "2022-01-20 15:30", ""],
        [2, "T002", "报告未出", "2022-01-20 15:30", ""],
        [3, "S001", "阴性", "昨天下午", ""],
        [4, "T001", "阴性", future, ""],
        [5, "", "阴性", "2022-01-20 15:30", ""],
        [6, "T001", "", "2022-01-20 15:30", ""],
        [7, "T001", "阴性", "2022-02-30 10:00", ""],
    ]
    summary = run(write_csv(tmp_path / "bad.csv", rows))
    assert (summary["results"], summary["rejected"], summary["rows"]) == (0, 7, 7)
    reasons = [row[-1] for row in error_rows(tmp_path / "bad.csv")[1:]]
    assert "Unknown result “待定”" in reasons[0]
    assert "No result yet" in reasons[1]
    assert "is not a date and time" in reasons[2]
    assert "in the future" in reasons[3]
    assert "tube barcode" in reasons[4]
    assert "result is empty" in reasons[5]
    assert "is not a date and time" in reasons[6]
    assert not ResultRecord.objects.exists()


def test_unknown_tubes_are_listed(tubes: dict[str, Any], tmp_path: Path) -> None:
    rows = [
        *ROWS,
        [4, "X999", "阴性", "2022-01-20 15:30", ""],
        [5, "X998", "阳性", "2022-01-20", ""],
    ]
    summary = run(write_csv(tmp_path / "r.csv", rows))
    assert (summary["results"], summary["unknown_tubes"], summary["rejected"]) == (3, 2, 2)
    assert summary["unknown_list"] == ["X998", "X999"]
    errors = error_rows(tmp_path / "r.csv")
    assert errors[0][-1] == "Error reason"
    assert {row[1] for row in errors[1:]} == {"X998", "X999"}
    assert all("Unknown tube" in row[-1] for row in errors[1:])


def test_same_file_twice_changes_nothing(tubes: dict[str, Any], tmp_path: Path) -> None:
    path = write_csv(tmp_path / "r.csv", ROWS)
    first = run(path)
    assert (first["results"], first["positives"]) == (3, 1)
    entries = AuditEntry.objects.count()
    tasks = ResampleTask.objects.count()
    second = run(path)
    assert (second["results"], second["unchanged"], second["positives"]) == (0, 3, 0)
    assert ResultRecord.objects.count() == 3
    assert PositiveCase.objects.count() == 1 and ResampleTask.objects.count() == tasks
    # Only the import's summary entry: no batch entry for a batch that changed nothing.
    assert AuditEntry.objects.count() == entries + 1


def test_a_line_repeated_inside_one_file_counts_once(tubes: dict[str, Any], tmp_path: Path) -> None:
    rows = [ROWS[0], ROWS[0], [3, "T001", "阴性", "2022-01-20 15:30:00", "另一实验室"]]
    summary = run(write_csv(tmp_path / "r.csv", rows))
    assert (summary["results"], summary["unchanged"]) == (1, 2)


def test_closed_round_is_rejected(gz: Gaozhuang, tubes: dict[str, Any], tmp_path: Path) -> None:
    gz.round.status = RoundStatus.CLOSED
    gz.round.save()
    summary = run(write_csv(tmp_path / "r.csv", ROWS))
    assert (summary["results"], summary["rejected"], summary["positives"]) == (0, 3, 0)
    assert all("is closed" in row[-1] for row in error_rows(tmp_path / "r.csv")[1:])
    assert not PositiveCase.objects.exists()


def test_newer_result_replaces_older_does_not(tubes: dict[str, Any], tmp_path: Path) -> None:
    pool = tubes["pool"]
    run(write_csv(tmp_path / "a.csv", [[1, "T001", "无效", "2022-01-20 15:30", ""]]))
    run(write_csv(tmp_path / "b.csv", [[1, "T001", "阴性", "2022-01-20 18:00", ""]]))
    pool.refresh_from_db()
    assert (pool.result, pool.result_at) == (LabResult.NEGATIVE, local("2022-01-20 18:00"))
    summary = run(write_csv(tmp_path / "c.csv", [[1, "T001", "复检", "2022-01-20 12:00", ""]]))
    assert summary["results"] == 1  # kept as history
    pool.refresh_from_db()
    assert pool.result == LabResult.NEGATIVE
    assert ResultRecord.objects.filter(tube=pool).count() == 3


def test_positive_opens_one_case_with_a_task_per_live_member(
    gz: Gaozhuang, tubes: dict[str, Any], tmp_path: Path
) -> None:
    rows = [
        [1, "T001", "混管阳性", "2022-01-20 16:00", LAB],
        [2, "T001", "混管阳性", "2022-01-20 17:00", LAB],  # the lab's second report
    ]
    summary = run(write_csv(tmp_path / "r.csv", rows))
    assert (summary["results"], summary["positives"]) == (2, 1)
    case = PositiveCase.objects.get()
    assert (case.tube_id, case.result, case.member_count) == (
        tubes["pool"].pk,
        LabResult.POOL_POSITIVE,
        4,
    )
    assert case.result_at == local("2022-01-20 16:00")
    assert case.region_code == gz.site.region_code
    tasks = list(case.tasks.order_by("id"))
    assert [t.person_id for t in tasks] == [p.pk for p in gz.jiangtaitun[:4]]  # not the removed
    assert {t.region_code for t in tasks} == {JIANGTAITUN}
    assert all(t.status == TaskStatus.PENDING for t in tasks)
    # A later positive line for the same tube opens nothing more.
    again = run(write_csv(tmp_path / "s.csv", [[1, "T001", "阳性", "2022-01-21 09:00", ""]]))
    assert (again["results"], again["positives"]) == (1, 0)
    assert PositiveCase.objects.count() == 1
    opened = AuditEntry.objects.filter(action="screening.open_case")
    assert opened.count() == 1 and opened.get().object_id == str(case.pk)
    batch = AuditEntry.objects.filter(action="screening.record_results").order_by("id").first()
    assert batch is not None and batch.after["cases"] == [case.pk]
    assert batch.after["positive_tubes"] == ["T001"]


def test_positive_single_tube_yields_the_person(
    gz: Gaozhuang, tubes: dict[str, Any], tmp_path: Path
) -> None:
    run(write_csv(tmp_path / "r.csv", [[1, "S001", "阳性", "2022-01-20 16:00", ""]]))
    case = PositiveCase.objects.get(tube=tubes["single"])
    task = case.tasks.get()
    assert (task.person_id, task.region_code) == (gz.dongzhengsi[0].pk, DONGZHENGSI)


def test_per_person_rows(gz: Gaozhuang, tubes: dict[str, Any], tmp_path: Path) -> None:
    sun = gz.dongzhengsi[0]
    header = ["采样管条码", "身份证号", "姓名", "检测结果", "报告时间"]
    rows = [
        ["S001", sun.id_number.lower(), "孙丽", "阴性", "2022-01-20 16:00"],
        ["S001", gz.dongzhengsi[1].id_number, "马超", "阴性", "2022-01-20 16:00"],
        ["T001", gz.jiangtaitun[0].id_number, "王秀英", "阴性", "2022-01-20 16:00"],
    ]
    summary = run(write_csv(tmp_path / "p.csv", rows, header=header))
    assert (summary["results"], summary["rejected"]) == (1, 2)
    reasons = [row[-1] for row in error_rows(tmp_path / "p.csv")[1:]]
    assert "does not match" in reasons[0]
    assert "holds 4 people" in reasons[1]


def test_results_outside_the_importers_regions_are_unknown(
    tubes: dict[str, Any], make_user: Any, tmp_path: Path
) -> None:
    outsider = make_user(role="township_officer", region=FUDAO)
    summary = run(write_csv(tmp_path / "r.csv", ROWS), actor=outsider)
    assert (summary["results"], summary["unknown_tubes"]) == (0, 3)
    insider = make_user(role="township_officer", region=GAOZHUANG)
    assert run(write_csv(tmp_path / "s.csv", ROWS), actor=insider)["results"] == 3
    cadre = make_user(role="village_cadre", region=JIANGTAITUN)
    with pytest.raises(PermissionDenied):
        run(write_csv(tmp_path / "t.csv", ROWS), actor=cadre)


def test_open_tube_is_resulted(gz: Gaozhuang, tmp_path: Path) -> None:
    tube = make_tube(gz.round, gz.site, "OPEN1", gz.jiangtaitun[:2], status=TubeStatus.OPEN)
    run(write_csv(tmp_path / "r.csv", [[1, "OPEN1", "混管阳性", "2022-01-20 16:00", ""]]))
    tube.refresh_from_db()
    assert tube.status == TubeStatus.RESULTED
    assert PositiveCase.objects.get(tube=tube).member_count == 2


def test_dry_run_writes_nothing(tubes: dict[str, Any], tmp_path: Path) -> None:
    summary = run(write_csv(tmp_path / "r.csv", ROWS), dry_run=True)
    assert (summary["results"], summary["positives"], summary["dry_run"]) == (3, 1, True)
    assert not ResultRecord.objects.exists() and not PositiveCase.objects.exists()


def test_empty_and_unreadable_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(ImportFileError):
        run(empty)
    picture = tmp_path / "photo.xlsx"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 200)
    with pytest.raises(ImportFileError):
        run(picture)
    only_header = write_csv(tmp_path / "h.csv", [])
    assert run(only_header)["rows"] == 0


def test_formula_cells_stay_text_in_the_error_workbook(
    tubes: dict[str, Any], tmp_path: Path
) -> None:
    import zipfile

    rows = [[1, '=HYPERLINK("http://x","y")', "阴性", "2022-01-20 15:30", "=1+1"]]
    summary = run(write_csv(tmp_path / "f.csv", rows))
    assert summary["rejected"] == 1
    with zipfile.ZipFile(tmp_path / "f.err.xlsx") as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet  # no formula cell anywhere


def test_record_result_single_line(gz: Gaozhuang, tubes: dict[str, Any]) -> None:
    outcome = record_result(None, tubes["single"], LabResult.NEGATIVE, local("2022-01-20 10:00"))
    assert outcome.recorded == 1
    with pytest.raises(ValidationError):
        record_result(None, tubes["single"], "maybe", local("2022-01-20 10:00"))
    gz.round.status = RoundStatus.CLOSED
    gz.round.save()
    with pytest.raises(ValidationError):
        record_result(None, tubes["pool"], LabResult.NEGATIVE, local("2022-01-20 10:00"))


def test_the_example_file(gz: Gaozhuang, tmp_path: Path) -> None:
    """docs/examples/lab_results.csv: a title line, UTF-8 with BOM, a full-width barcode."""
    example = Path(__file__).resolve().parents[2] / "docs" / "examples" / "lab_results.csv"
    make_tube(gz.round, gz.site, "AY2201210007", gz.jiangtaitun[:3])
    make_tube(gz.round, gz.site, "AY2201210018", gz.jiangtaitun[3:6])
    summary = import_results_file(example, actor=None, error_path=tmp_path / "e.xlsx")
    assert (summary["header_row"], summary["rows"]) == (2, 27)
    assert (summary["results"], summary["positives"]) == (2, 1)
    assert summary["unknown_tubes"] == 24 and summary["rejected"] == 25
    assert "Unknown result “待定”" in " ".join(summary["reasons"])
