"""Exports: formula injection neutralized, encodings, xlsx readable, every export logged."""

from __future__ import annotations

import io

import pytest
from python_calamine import CalamineWorkbook

from fangkong.core.exports import Column, Export, export_response, neutralize
from fangkong.core.models import AccessLogEntry
from fangkong.geo.models import Site
from tests.conftest import JIANGTAITUN

pytestmark = pytest.mark.django_db

COLUMNS = [
    Column("名称", lambda s: s.name),
    Column("地址", lambda s: s.address, sensitive=True),
    Column("启用", lambda s: s.active),
]


@pytest.mark.parametrize(
    "raw,expected",
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+86 138", "'+86 138"),
        ("-1+2", "'-1+2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("蒋台屯村", "蒋台屯村"),
        (-5, -5),
    ],
)
def test_neutralize(raw, expected) -> None:
    assert neutralize(raw) == expected


def _export(user, fmt: str, encoding: str = "utf-8-sig"):
    Site.objects.create(name="=cmd|' /C calc'!A0", kind="checkpoint", region_code=JIANGTAITUN)
    Site.objects.create(
        name="蒋台屯村东口卡点", kind="checkpoint", region_code=JIANGTAITUN, address="村东"
    )
    export = Export(
        user=user,
        queryset=Site.objects.order_by("name"),
        columns=COLUMNS,
        object_type="geo.site",
        filename="sites",
        region_code=JIANGTAITUN,
    )
    return export_response(export, fmt, encoding)


def test_csv_has_bom_and_neutralized_cells(regions, make_user) -> None:
    user = make_user(role="township_officer", region=JIANGTAITUN)
    response = _export(user, "csv")
    body = b"".join(response.streaming_content)
    assert body.startswith(b"\xef\xbb\xbf")
    text = body.decode("utf-8-sig")
    assert "'=cmd" in text
    assert "蒋台屯村东口卡点" in text
    assert "attachment" in response["Content-Disposition"]


def test_csv_gb18030(regions, make_user) -> None:
    user = make_user(role="township_officer", region=JIANGTAITUN)
    body = b"".join(_export(user, "csv", "gb18030").streaming_content)
    assert "蒋台屯村东口卡点".encode("gb18030") in body


def test_xlsx_is_readable_and_neutralized(regions, make_user) -> None:
    user = make_user(role="township_officer", region=JIANGTAITUN)
    response = _export(user, "xlsx")
    data = b"".join(response.streaming_content)
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0).to_python()
    assert sheet[0] == ["名称", "地址", "启用"]
    names = [row[0] for row in sheet[1:]]
    assert "'=cmd|' /C calc'!A0" in names
    assert "蒋台屯村东口卡点" in names


def test_every_export_is_logged(regions, make_user) -> None:
    user = make_user(role="township_officer", region=JIANGTAITUN)
    b"".join(_export(user, "csv").streaming_content)
    entry = AccessLogEntry.objects.get()
    assert entry.kind == "export"
    assert entry.user == user
    assert entry.row_count == 2
    assert entry.fields == ["地址"]
    assert entry.unmasked is False


def test_unknown_format_falls_back_to_csv(regions, make_user) -> None:
    user = make_user(role="township_officer", region=JIANGTAITUN)
    response = _export(user, "pdf")
    assert response["Content-Type"].startswith("text/csv")
