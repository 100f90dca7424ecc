"""The reusable import machinery: readers, header detection, values, error workbook."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
import xlsxwriter
from python_calamine import CalamineWorkbook

from fangkong.core.importing import (
    ErrorWorkbook,
    FieldSpec,
    ImportFileError,
    ImportSchema,
    cell_text,
    find_header,
    normalize_header,
    open_table,
    parse_date,
)
from fangkong.core.importing.headers import clean_mapping
from fangkong.core.importing.readers import detect_encoding
from fangkong.core.importing.runner import Rejection, Row, resolve_header, run_import

SCHEMA = ImportSchema(
    [
        FieldSpec("name", "Name", ("姓名",), required=True),
        FieldSpec("id_number", "ID", ("身份证号", "公民身份号码", "证件号码")),
        FieldSpec("phone", "Phone", ("联系电话", "手机号")),
        FieldSpec("village", "Village", ("所属村", "村(社区)")),
    ]
)


@pytest.fixture(autouse=True)
def english_messages():
    """These tests read the messages in English (the catalogue test checks the Chinese)."""
    from django.utils import translation

    with translation.override("en"):
        yield


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def xlsx(tmp_path: Path, rows: list[list[object]], *, merged_title: str = "") -> Path:
    path = tmp_path / "book.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet()
    offset = 0
    if merged_title:
        sheet.merge_range(0, 0, 0, 3, merged_title)
        offset = 1
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is not None:
                sheet.write(r + offset, c, value)
    workbook.close()
    return path


def all_rows(path: Path) -> list[list[object]]:
    return list(open_table(path).rows())


# --- readers ---------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_encodings_are_detected(tmp_path: Path, encoding: str) -> None:
    text = "姓名,联系电话\n張三,13800138000\n李四,13900139000\n"
    path = write(tmp_path, "a.csv", text.encode(encoding))
    rows = all_rows(path)
    assert rows[0] == ["姓名", "联系电话"]  # no BOM left on the first cell
    assert rows[1] == ["張三", "13800138000"]


def test_gb18030_is_not_mistaken_for_utf8() -> None:
    assert detect_encoding("姓名".encode("gb18030")) == "gb18030"
    assert detect_encoding("姓名".encode()) == "utf-8-sig"


def test_wrong_encoding_is_refused_with_a_message(tmp_path: Path) -> None:
    # UTF-16 has NUL bytes: neither text encoding nor a workbook.
    path = write(tmp_path, "a.csv", "姓名,电话\n".encode("utf-16"))
    with pytest.raises(ImportFileError, match=r"spreadsheet|UTF-8"):
        all_rows(path)
    # Bytes that are neither UTF-8 nor GB18030.
    path = write(tmp_path, "b.csv", b"\xff\xfe\xfd\x80\x80,\x81\n")
    with pytest.raises(ImportFileError):
        all_rows(path)


def test_tab_and_semicolon_separated(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", "姓名\t联系电话\n张三\t13800138000\n".encode())
    assert all_rows(path)[1] == ["张三", "13800138000"]


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="empty"):
        open_table(write(tmp_path, "a.xlsx", b""))


def test_picture_renamed_xlsx(tmp_path: Path) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(200)
    with pytest.raises(ImportFileError, match="not a spreadsheet"):
        open_table(write(tmp_path, "photo.xlsx", png))


def test_broken_zip_renamed_xlsx(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="not a spreadsheet"):
        open_table(write(tmp_path, "a.xlsx", b"PK\x03\x04" + bytes(100)))


def test_xlsx_rows_stream_with_merged_title(tmp_path: Path) -> None:
    path = xlsx(tmp_path, [["姓名", "联系电话"], ["张三", 13800138000]], merged_title="台账")
    table = open_table(path)
    assert table.format == "xlsx"
    rows = list(table.rows())
    assert rows[0][0] == "台账"
    assert rows[1][:2] == ["姓名", "联系电话"]
    assert cell_text(rows[2][1]) == "13800138000"


def test_ods_is_read(tmp_path: Path) -> None:
    # A minimal ODS written by hand (mimetype first, content.xml with one table).
    import zipfile

    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        '<office:body><office:spreadsheet><table:table table:name="S">'
        '<table:table-row><table:table-cell office:value-type="string"><text:p>姓名</text:p>'
        '</table:table-cell><table:table-cell office:value-type="string"><text:p>手机号</text:p>'
        "</table:table-cell></table:table-row>"
        '<table:table-row><table:table-cell office:value-type="string"><text:p>张三</text:p>'
        '</table:table-cell><table:table-cell office:value-type="string"><text:p>13800138000'
        "</text:p></table:table-cell></table:table-row>"
        "</table:table></office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
        'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
        'manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" '
        'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("content.xml", content)
        archive.writestr("META-INF/manifest.xml", manifest)
    table = open_table(write(tmp_path, "a.ods", buffer.getvalue()))
    assert table.format == "ods"
    assert list(table.rows())[1] == ["张三", "13800138000"]


def test_formula_cells_give_their_value_never_run(tmp_path: Path) -> None:
    path = tmp_path / "f.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet()
    sheet.write_row(0, 0, ["姓名", "联系电话"])
    sheet.write_string(1, 0, "张三")
    sheet.write_formula(1, 1, "=13800138000+0", None, 13800138000)
    workbook.close()
    rows = all_rows(path)
    assert cell_text(rows[1][1]) == "13800138000"


# --- headers ---------------------------------------------------------------------------


def test_header_below_title_rows() -> None:
    rows = [
        ["蒋台屯村返乡人员台账", None, None],
        ["填报日期：2022年1月20日", None, None],
        ["序号", "姓名", "公民身份号码", "联系电话"],
        [1, "张三", "410522199001011234", "13800138000"],
    ]
    guess = find_header(rows, SCHEMA)
    assert guess is not None
    assert guess.row_index == 2
    assert guess.mapping == {1: "name", 2: "id_number", 3: "phone"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("姓 名", "姓名"),
        ("身份證號", "身份证号"),
        ("*姓名（必填）", "姓名"),
        ("村(社区)", "村(社区)"),
        ("ＰＨＯＮＥ", "phone"),
    ],
)
def test_header_normalization(text: str, expected: str) -> None:
    assert normalize_header(text) == normalize_header(expected)


def test_no_header_in_a_title_only_file() -> None:
    assert find_header([["台账"], ["2022年1月"]], SCHEMA) is None


def test_missing_required_column_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", "联系电话,所属村\n13800138000,蒋台屯\n".encode())
    with pytest.raises(ImportFileError, match="Name"):
        resolve_header(open_table(path), SCHEMA)


def test_user_mapping_is_cleaned() -> None:
    assert clean_mapping({"0": "name", "1": "name", "9": "phone", "x": "phone"}, 3, SCHEMA) == {
        0: "name"
    }


# --- values ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        44581,
        44581.0,
        "2022/1/20",
        "2022-01-20",
        "2022年1月20日",
        "２０２２年１月２０日",
        "20220120",
        dt.datetime(2022, 1, 20, 0, 0),
        dt.date(2022, 1, 20),
    ],
)
def test_dates(value: object) -> None:
    assert parse_date(value) == dt.date(2022, 1, 20)


@pytest.mark.parametrize("value", ["2022-02-30", "next week", "1/20"])
def test_bad_dates(value: str) -> None:
    with pytest.raises(ValueError):
        parse_date(value)


def test_cell_text() -> None:
    assert cell_text(13800138000.0) == "13800138000"
    assert cell_text(None) == ""
    assert cell_text("１３８ ") == "138"


# --- runner and error workbook ---------------------------------------------------------


class RejectOdd:
    schema = SCHEMA

    def __init__(self) -> None:
        self.seen: list[dict[str, object]] = []

    def process(self, rows: list[Row]) -> list[Rejection]:
        self.seen += [row.values for row in rows]
        return [Rejection(row, f"bad {row.number}") for row in rows if row.number % 2]

    def counts(self) -> dict[str, int]:
        return {"created": len(self.seen)}


@pytest.mark.django_db  # run_import sets the SQLite page cache for its writes
def test_run_import_batches_and_error_workbook(tmp_path: Path) -> None:
    lines = ["台账,,", "姓名,=formula,联系电话", *[f"人{i},,1380013800{i}" for i in range(6)], ",,"]
    path = write(tmp_path, "a.csv", "\n".join(lines).encode("gb18030"))
    table = open_table(path)
    guess = resolve_header(table, SCHEMA)
    importer = RejectOdd()
    errors = tmp_path / "errors.xlsx"
    result = run_import(
        table, importer, guess, error_path=errors, reason_header="错误原因", batch_size=4
    )
    assert result.rows == 6  # the empty last row is skipped
    assert result.rejected == 3
    assert result.header_row == 2
    assert importer.seen[0] == {"name": "人0", "phone": "13800138000"}
    sheet = CalamineWorkbook.from_path(str(errors)).get_sheet_by_index(0).to_python()
    assert sheet[0] == ["姓名", "=formula", "联系电话", "错误原因"]  # a string, not a formula
    assert sheet[1] == ["人0", "", "13800138000", "bad 3"]
    assert len(sheet) == 4


def test_error_workbook_keeps_numbers(tmp_path: Path) -> None:
    book = ErrorWorkbook(tmp_path / "e.xlsx", ["a", "b"], "错误原因")
    book.add([4.10522199001011e17, dt.date(2022, 1, 20)], "why")
    book.close()
    sheet = CalamineWorkbook.from_path(str(tmp_path / "e.xlsx")).get_sheet_by_index(0).to_python()
    assert sheet[1] == [4.10522199001011e17, "2022-01-20", "why"]


def test_blank_rows_are_skipped_and_rows_keep_their_sheet_numbers() -> None:
    from fangkong.core.importing.readers import Table
    from fangkong.core.importing.runner import HeaderGuess, iter_rows

    rows = [
        ["姓名", "电话"],
        ["张三", "138"],
        ["", None],  # blank
        [],  # a CSV's empty line
        [None, "139"],  # first cell blank, not the row
        ["李四", ""],
    ]
    table = Table(head=rows, rest=iter(()), format="csv", total_rows=len(rows))
    guess = HeaderGuess(0, ["姓名", "电话"], {0: "name", 1: "phone"})
    found = [(row.number, row.values) for row in iter_rows(table, guess)]
    assert found == [
        (2, {"name": "张三", "phone": "138"}),
        (5, {"name": None, "phone": "139"}),
        (6, {"name": "李四", "phone": ""}),
    ]
