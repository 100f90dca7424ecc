"""The people importer: idempotency, updates (audited), scope, and every bad input."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command

from fangkong.core.importing import ImportFileError
from fangkong.core.models import AuditEntry
from fangkong.people.models import KeyGroup, Person, PersonTag, ReturneeRecord
from tests.conftest import DONGZHENGSI, FUDAO_ERJIE, GAOZHUANG, JIANGTAITUN
from tests.people.import_files import (  # noqa: F401 - checking, english: autouse
    HEADER,
    ID1,
    ID2,
    ID3,
    checking,
    english,
    error_rows,
    make_id,
    run,
    write_csv,
    write_xlsx,
)

pytestmark = pytest.mark.django_db


def rows_ok() -> list[list[Any]]:
    return [
        [1, "张三", ID1, "13800138000", "蒋台屯村", "一组1号", dt.date(2022, 1, 20), "北京市"],
        [2, "李四", ID2, 13900139000, "东正寺", "二组2号", "2022年1月18日", "郑州市"],
        [3, "王五", ID3, "13800138000", "蔣台屯", "", None, None],  # shares 张三's phone
    ]


def test_import_then_reimport_changes_nothing(regions: Any, tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "a.xlsx", rows_ok())
    first = run(path)
    assert (first["created"], first["updated"], first["unchanged"], first["rejected"]) == (
        3,
        0,
        0,
        0,
    )
    zhang = Person.objects.get(id_number=ID1)
    assert zhang.region_code == JIANGTAITUN
    assert zhang.birth_date == dt.date(1990, 1, 1)
    assert zhang.sex == "M"
    assert zhang.name_pinyin == "zhangsan" and zhang.name_initials == "zs"
    assert zhang.id_reversed == ID1[::-1] and zhang.phone_reversed == "00083100831"
    assert Person.objects.get(id_number=ID2).phone == "13900139000"
    assert Person.objects.get(id_number=ID3).region_code == JIANGTAITUN  # 蔣台屯 traditional
    assert Person.objects.filter(phone="13800138000").count() == 2  # a shared phone is fine
    ret = ReturneeRecord.objects.get(person=zhang)
    assert (ret.arrival_date, ret.origin, ret.region_code) == (
        dt.date(2022, 1, 20),
        "北京市",
        JIANGTAITUN,
    )
    assert ReturneeRecord.objects.get(person__id_number=ID2).arrival_date == dt.date(2022, 1, 18)
    summary = AuditEntry.objects.get(action="people.import")
    assert summary.after["created"] == 3
    audits = AuditEntry.objects.count()

    again = run(path)
    assert (again["created"], again["updated"], again["unchanged"], again["rejected"]) == (
        0,
        0,
        3,
        0,
    )
    assert Person.objects.count() == 3 and ReturneeRecord.objects.count() == 2
    assert AuditEntry.objects.count() == audits + 1  # only the summary of the second import


def test_changed_row_updates_and_is_audited(regions: Any, tmp_path: Path) -> None:
    run(write_xlsx(tmp_path / "a.xlsx", rows_ok()))
    changed = rows_ok()
    changed[0][3] = "13700137000"
    changed[1][7] = "天津市"  # a new return for 李四
    result = run(write_xlsx(tmp_path / "b.xlsx", changed))
    assert (result["created"], result["updated"], result["unchanged"]) == (0, 2, 1)
    zhang = Person.objects.get(id_number=ID1)
    assert zhang.phone == "13700137000"
    entry = AuditEntry.objects.get(action="people.import_update", object_id=str(zhang.pk))
    assert entry.before == {"phone": "13800138000", "phone_reversed": "00083100831"}
    assert entry.after == {"phone": "13700137000", "phone_reversed": "00073100731"}
    assert entry.region_code == JIANGTAITUN
    li = Person.objects.get(id_number=ID2)
    assert li.returns.count() == 2
    assert (
        "天津市"
        in AuditEntry.objects.get(action="people.import_update", object_id=str(li.pk)).after[
            "return"
        ]
    )


def test_blank_cell_does_not_erase(regions: Any, tmp_path: Path) -> None:
    run(write_xlsx(tmp_path / "a.xlsx", rows_ok()))
    rows = rows_ok()
    rows[0][5] = ""
    result = run(write_xlsx(tmp_path / "b.xlsx", rows))
    assert result["unchanged"] == 3
    assert Person.objects.get(id_number=ID1).address == "一组1号"


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        (4.10522199001011e17, "lost its last digits"),
        ("4.10522E+17", "lost its last digits"),
        (make_id("19900101")[:17] + "0" if make_id("19900101")[17] != "0" else "X", "check digit"),
        ("410522199002301234", "birth date"),  # 30 February
        ("410522290001011234", "birth date"),  # the future
        ("41052219900101", "18 characters"),
    ],
)
def test_bad_ids_are_rejected_with_their_reason(
    regions: Any, tmp_path: Path, cell: Any, reason: str
) -> None:
    rows = [[1, "张三", cell, "13800138000", "蒋台屯村", "", None, None]]
    result = run(write_xlsx(tmp_path / "a.xlsx", rows))
    assert result["rejected"] == 1 and result["created"] == 0
    assert reason in error_rows(result)[1][-1]
    assert not Person.objects.exists()


def test_full_width_and_lowercase_x_ids(regions: Any, tmp_path: Path) -> None:
    number = next(make_id(seq=s) for s in range(1000) if make_id(seq=s).endswith("X"))
    full = number[:17].translate(str.maketrans("0123456789", "０１２３４５６７８９")) + "x"
    rows = [[1, "张三", full, "１３８００１３８０００", "蒋台屯村", "", None, None]]
    result = run(write_xlsx(tmp_path / "a.xlsx", rows))
    assert result["created"] == 1
    person = Person.objects.get()
    assert person.id_number == number and person.phone == "13800138000"


def test_error_workbook_has_original_columns_and_reason(regions: Any, tmp_path: Path) -> None:
    rows = [*rows_ok(), [4, "赵六", "123", "123", "蒋台屯村", "", None, None]]
    result = run(write_xlsx(tmp_path / "a.xlsx", rows))
    sheet = error_rows(result)
    assert sheet[0] == [*HEADER, "Error reason"]
    assert sheet[1][:5] == [4.0, "赵六", "123", "123", "蒋台屯村"]
    assert len(sheet) == 2
    assert result["created"] == 3


def test_reason_column_in_chinese(regions: Any, tmp_path: Path) -> None:
    from django.utils import translation

    rows = [[1, "张三", "123", "", "蒋台屯村", "", None, None]]
    with translation.override("zh-hans"):
        result = run(write_xlsx(tmp_path / "a.xlsx", rows))
    assert error_rows(result)[0][-1] == "错误原因"


def test_duplicate_rows_in_one_file_second_rejected(regions: Any, tmp_path: Path) -> None:
    rows = rows_ok()
    rows.append(list(rows[0]))
    result = run(write_xlsx(tmp_path / "a.xlsx", rows))
    assert result["created"] == 3 and result["rejected"] == 1
    assert "row 3" in error_rows(result)[1][-1]  # 张三 is on sheet row 3


def test_people_without_documents_are_matched_again(regions: Any, tmp_path: Path) -> None:
    rows = [
        [1, "小明", "", "13800138000", "蒋台屯村", "", None, None],
        [2, "小明", "", "13900139000", "蒋台屯村", "", None, None],  # another 小明
        [3, "老王", "", "", "蒋台屯村", "", None, None],  # only a name and a village
    ]
    path = write_xlsx(tmp_path / "a.xlsx", rows)
    assert run(path)["created"] == 3
    again = run(path)
    assert (again["created"], again["unchanged"]) == (0, 3)
    assert Person.objects.filter(id_type="none").count() == 3


@pytest.mark.parametrize(
    ("village", "reason"),
    [("不存在村", "No single village"), ("侯庄", "No single village")],
)
def test_unknown_village(regions: Any, tmp_path: Path, village: str, reason: str) -> None:
    rows = [[1, "张三", ID1, "", village, "", None, None]]
    result = run(write_xlsx(tmp_path / "a.xlsx", rows))
    assert reason in error_rows(result)[1][-1]


def test_village_cadre_rows_for_another_village_are_rejected(
    regions: Any, make_user: Any, tmp_path: Path
) -> None:
    cadre = make_user(role="village_cadre", region=JIANGTAITUN)
    rows = rows_ok()
    result = run(write_xlsx(tmp_path / "a.xlsx", rows), actor=cadre, region=JIANGTAITUN)
    assert result["created"] == 2 and result["rejected"] == 1
    assert "not in the region" in error_rows(result)[1][-1]
    assert not Person.objects.filter(region_code=DONGZHENGSI).exists()
    with pytest.raises(PermissionDenied):
        run(write_xlsx(tmp_path / "b.xlsx", rows), actor=cadre, region=GAOZHUANG)


def test_id_registered_elsewhere_reveals_nothing(
    regions: Any, make_user: Any, tmp_path: Path
) -> None:
    run(
        write_csv(
            tmp_path / "fd.csv", [[1, "伏道人", ID1, "13600136000", "伏道二街村", "秘密地址"]]
        ),
        region=FUDAO_ERJIE,
    )
    cadre = make_user(role="village_cadre", region=JIANGTAITUN)
    rows = [[1, "张三", ID1, "13800138000", "蒋台屯村", "", None, None]]
    result = run(write_xlsx(tmp_path / "a.xlsx", rows), actor=cadre, region=JIANGTAITUN)
    assert result["rejected"] == 1 and result["updated"] == 0
    reason = error_rows(result)[1][-1]
    assert reason == "This ID is registered in another jurisdiction."
    assert "伏道" not in reason and "秘密" not in reason
    assert Person.objects.get(id_number=ID1).name == "伏道人"


def test_wrong_role_may_not_import(regions: Any, make_user: Any, tmp_path: Path) -> None:
    keeper = make_user(role="warehouse_keeper", region=GAOZHUANG)
    with pytest.raises(PermissionDenied):
        run(write_xlsx(tmp_path / "a.xlsx", rows_ok()), actor=keeper)


def test_dry_run_writes_nothing(regions: Any, tmp_path: Path) -> None:
    result = run(write_xlsx(tmp_path / "a.xlsx", rows_ok()), dry_run=True)
    assert result["created"] == 3
    assert not Person.objects.exists() and not ReturneeRecord.objects.exists()
    assert not AuditEntry.objects.filter(action="people.import").exists()


def test_key_groups_and_risk(regions: Any, tmp_path: Path) -> None:
    header = ["姓名", "身份证号", "村(社区)", "人员类别", "返乡日期", "来源地", "来源地风险等级"]
    rows = [
        ["张三", ID1, "蒋台屯村", "独居老人、孕产妇", "2022-01-20", "北京", "高风险"],
        ["李四", ID2, "蒋台屯村", "外星人", "", "", ""],
        ["王五", ID3, "蒋台屯村", "", "2022-01-20", "", ""],
        ["赵六", make_id(seq=8), "蒋台屯村", "", "2022-01-20", "北京", "很高"],
    ]
    result = run(write_xlsx(tmp_path / "a.xlsx", rows, header=header))
    assert result["created"] == 1 and result["rejected"] == 3
    reasons = [row[-1] for row in error_rows(result)[1:]]
    assert "Unknown key group" in reasons[0]
    assert "both the arrival date and the origin" in reasons[1]
    assert "Unknown risk level" in reasons[2]
    groups = set(PersonTag.objects.values_list("group__code", flat=True))
    assert groups == {"elderly_alone", "pregnant"}
    assert ReturneeRecord.objects.get().origin_risk == "high"
    assert KeyGroup.objects.exists()


def test_reimport_adds_only_the_key_groups_and_returns_not_stored(
    regions: Any, tmp_path: Path
) -> None:
    """A known person's row may bring a key group or a return they lack: added (audited);
    the ones already stored are not added twice; rows without either read nothing."""
    header = ["姓名", "身份证号", "村(社区)", "人员类别", "返乡日期", "来源地"]
    first = [
        ["张三", ID1, "蒋台屯村", "独居老人", "2022-01-20", "北京"],
        ["李四", ID2, "蒋台屯村", "", "", ""],
        ["王五", ID3, "蒋台屯村", "孕产妇", "", ""],
    ]
    run(write_xlsx(tmp_path / "a.xlsx", first, header=header))
    second = [
        ["张三", ID1, "蒋台屯村", "独居老人、孕产妇", "2022-01-20", "北京"],
        ["李四", ID2, "蒋台屯村", "独居老人", "2022-01-25", "天津"],
        ["王五", ID3, "蒋台屯村", "", "", ""],
    ]
    result = run(write_xlsx(tmp_path / "b.xlsx", second, header=header))
    assert (result["created"], result["updated"], result["unchanged"]) == (0, 2, 1)
    tags = set(PersonTag.objects.values_list("person__name", "group__code"))
    assert tags == {
        ("张三", "elderly_alone"),
        ("张三", "pregnant"),
        ("李四", "elderly_alone"),
        ("王五", "pregnant"),
    }
    returns = set(ReturneeRecord.objects.values_list("person__name", "origin"))
    assert returns == {("张三", "北京"), ("李四", "天津")}
    li = Person.objects.get(id_number=ID2)
    after = AuditEntry.objects.get(action="people.import_update", object_id=str(li.pk)).after
    assert "天津" in after["return"] and len(after["groups"]) == 1


def test_formula_text_in_csv_is_rejected_not_run(regions: Any, tmp_path: Path) -> None:
    rows = [
        [1, '=HYPERLINK("http://x")', ID1, "", "蒋台屯村", "", "", ""],
        [2, "张三", ID2, "", "蒋台屯村", "@SUM(1)", "", ""],
    ]
    result = run(write_csv(tmp_path / "a.csv", rows))
    assert result["rejected"] == 2
    assert "formula" in error_rows(result)[1][-1]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_in_each_encoding(regions: Any, tmp_path: Path, encoding: str) -> None:
    rows = [[1, "張三", ID1, "13800138000", "蔣台屯村", "", "2022/1/20", "北京"]]
    result = run(write_csv(tmp_path / "a.csv", rows, encoding=encoding))
    assert result["created"] == 1
    assert Person.objects.get().name == "張三"  # kept as written, searchable as 张三
    assert Person.objects.get().name_key == "张三"


def test_bad_dates_rejected(regions: Any, tmp_path: Path) -> None:
    rows = [[1, "张三", ID1, "", "蒋台屯村", "", "2022-02-30", "北京"]]
    result = run(write_csv(tmp_path / "a.csv", rows))
    assert "not a date" in error_rows(result)[1][-1]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"\x89PNG\r\n\x1a\n" + bytes(100), "not a spreadsheet"),
    ],
)
def test_unreadable_files(regions: Any, tmp_path: Path, data: bytes, message: str) -> None:
    path = tmp_path / "a.xlsx"
    path.write_bytes(data)
    with pytest.raises(ImportFileError, match=message):
        run(path)


def test_title_only_file(regions: Any, tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "a.xlsx", [], header=["蒋台屯村返乡人员台账"], title="台账")
    with pytest.raises(ImportFileError, match="No header row"):
        run(path)


def test_cli_last_line_and_errors_file(regions: Any, tmp_path: Path, capsys: Any) -> None:
    rows = [*rows_ok(), [4, "赵六", "123", "", "蒋台屯村", "", None, None]]
    path = write_xlsx(tmp_path / "a.xlsx", rows)
    out = tmp_path / "out.xlsx"
    call_command(
        "import", "people", str(path), "--region", GAOZHUANG, "--errors", str(out), "--no-progress"
    )
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == "imported 3, updated 0, unchanged 0, rejected 1"
    assert out.is_file()
    call_command("import", "people", str(path), "--region", GAOZHUANG, "--dry-run", "--no-progress")
    assert capsys.readouterr().out.strip().splitlines()[-1] == (
        "imported 0, updated 0, unchanged 3, rejected 1"
    )


def test_cli_with_its_progress_bar_starts_no_thread(
    regions: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """tqdm starts a monitor thread by default; with it alive a large import would not
    fork its checking process (which needs the process to have a single thread)."""
    import threading

    from fangkong.core.importing import checking_process

    seen: list[list[str]] = []
    decide = checking_process.may_check_in_child

    def spy(total_rows: int | None) -> bool:
        seen.append([t.name for t in threading.enumerate()])
        return decide(total_rows)

    monkeypatch.setattr(checking_process, "may_check_in_child", spy)
    path = write_xlsx(tmp_path / "a.xlsx", rows_ok())
    call_command("import", "people", str(path), "--region", GAOZHUANG)  # with its bar
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("imported 3")
    assert seen and all("tqdm_monitor" not in names for names in seen)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["people", "/nonexistent/ledger.xlsx"], "no such file"),
        (["people", "FILE", "--region", "abc"], "--region"),
        (["people", "FILE", "--region", "410599"], "no region 410599"),
    ],
)
def test_cli_bad_arguments(regions: Any, tmp_path: Path, args: list[str], message: str) -> None:
    from django.core.management.base import CommandError

    path = write_xlsx(tmp_path / "a.xlsx", rows_ok())
    args = [str(path) if a == "FILE" else a for a in args]
    with pytest.raises(CommandError, match=message):
        call_command("import", *args, "--no-progress")
    assert not Person.objects.exists()


def test_cli_refuses_oversize_file(regions: Any, tmp_path: Path, settings: Any) -> None:
    from django.core.management.base import CommandError

    settings.MAX_UPLOAD_BYTES = 100
    path = write_xlsx(tmp_path / "a.xlsx", rows_ok())
    with pytest.raises(CommandError, match="limit"):
        call_command("import", "people", str(path), "--no-progress")
