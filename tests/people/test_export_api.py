"""People export through the API (GET /api/v1/people/export), sharing the page's export:
access, scope, masking and reveal, access log, formula neutralization, bad input."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from python_calamine import CalamineWorkbook

from fangkong.accounts.roles import Role
from fangkong.core.models import AccessLogEntry
from fangkong.people import actions
from fangkong.people.models import Person
from tests.conftest import DONGZHENGSI, FUDAO, GAOZHUANG, JIANGTAITUN
from tests.people.conftest import ZHANG_ID, ZHANG_PHONE
from tests.support.access import body_text

pytestmark = pytest.mark.django_db

URL = "/api/v1/people/export"
PAGE = "/people/export/"
OFFICER = Role.TOWNSHIP_OFFICER


def csv_rows(response: Any) -> list[list[str]]:
    assert response.status_code == 200, body_text(response)[:300]
    return list(csv.reader(io.StringIO(body_text(response).lstrip("\ufeff"))))


def test_access_matrix(zhang: Person, li: Person, make_user: Any, client_for: Any) -> None:
    params = {"format": "csv"}
    assert client_for(None).get(URL, params).status_code == 401
    # Without Perm.EXPORT (a cadre, an inspector): 403, nothing logged.
    for role in (Role.VILLAGE_CADRE, Role.INSPECTOR):
        user = make_user(role=role, region=JIANGTAITUN)
        assert client_for(user).get(URL, params).status_code == 403
    # Perm.EXPORT without the people ledger (a warehouse keeper): 403 too, on both doors.
    keeper = make_user(role=Role.WAREHOUSE_KEEPER, region=GAOZHUANG)
    assert client_for(keeper).get(URL, params).status_code == 403
    assert client_for(keeper).get(PAGE, params).status_code == 403
    assert not AccessLogEntry.objects.exists()
    # Right role, other region: 200 and nobody of 高庄镇 in it.
    fudao = make_user(role=OFFICER, region=FUDAO)
    text = body_text(client_for(fudao).get(URL, params))
    assert "张三" not in text and "李四" not in text
    # Right role over one village: only that village.
    village = make_user(role=OFFICER, region=JIANGTAITUN)
    names = [row[0] for row in csv_rows(client_for(village).get(URL, params))[1:]]
    assert names == ["张三"]
    # The township: both villages.
    township = make_user(role=OFFICER, region=GAOZHUANG)
    names = [row[0] for row in csv_rows(client_for(township).get(URL, params))[1:]]
    assert sorted(names) == ["张三", "李四"]


def test_masked_by_default_and_logged(zhang: Person, make_user: Any, client_for: Any) -> None:
    officer = make_user(role=OFFICER, region=GAOZHUANG)
    rows = csv_rows(client_for(officer).get(URL, {"format": "csv"}))
    flat = " ".join(" ".join(r) for r in rows)
    assert rows[0][0] == "姓名"  # headers in the user's language (Chinese by default)
    assert ZHANG_ID not in flat and ZHANG_PHONE not in flat and "蒋台屯村三街12号院" not in flat
    assert "138****5678" in flat
    entry = AccessLogEntry.objects.get()
    assert (entry.kind, entry.object_type, entry.row_count, entry.unmasked) == (
        "export",
        "people.person",
        1,
        False,
    )
    assert entry.user == officer and entry.detail.startswith("api")
    assert entry.fields == []


def test_reveal_shows_in_full_and_is_logged(zhang: Person, make_user: Any, client_for: Any) -> None:
    officer = make_user(role=OFFICER, region=GAOZHUANG)
    flat = body_text(client_for(officer).get(URL, {"format": "csv", "reveal": "1"}))
    assert ZHANG_ID in flat and ZHANG_PHONE in flat and "蒋台屯村三街12号院" in flat
    entry = AccessLogEntry.objects.get()
    assert entry.unmasked is True and entry.row_count == 1
    assert len(entry.fields) == 3  # document number, phone, address


def test_reveal_limited_to_reveal_regions(zhang: Person, make_user: Any, client_for: Any) -> None:
    # HQ of another county asks to reveal: nothing of 蒋台屯村 comes out at all.
    hq = make_user(role=Role.HQ_COMMANDER, region="410523")
    text = body_text(client_for(hq).get(URL, {"format": "csv", "reveal": "true"}))
    assert "张三" not in text and ZHANG_ID not in text


def test_formulas_neutralized(regions: Any, make_user: Any, client_for: Any) -> None:
    for name, notes in (
        ('=HYPERLINK("x")', "=1+1"),
        ("+1", "+cmd|' /C calc'!A0"),
        ("@SUM", "@SUM(A1:A9)"),
        ("-2", "-2+3"),
    ):
        actions.create_person(
            actor=None,
            name=name,
            id_type="none",
            address=notes,
            notes=notes,
            region_code=JIANGTAITUN,
        )
    officer = make_user(role=OFFICER, region=GAOZHUANG)
    client = client_for(officer)
    rows = csv_rows(client.get(URL, {"format": "csv", "reveal": "1"}))
    cells = [cell for row in rows[1:] for cell in row if cell]
    assert cells, rows
    for cell in cells:
        assert not cell.startswith(("=", "+", "-", "@")), cell
    names = {row[0] for row in rows[1:]}
    assert {'\'=HYPERLINK("x")', "'+1", "'@SUM", "'-2"} <= names
    # xlsx: the cells are text starting with a quote, never formulas.
    response = client.get(URL, {"format": "xlsx"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    data = b"".join(response.streaming_content)
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0).to_python()
    xlsx_names = {str(row[0]) for row in sheet[1:]}
    assert {'\'=HYPERLINK("x")', "'+1", "'@SUM", "'-2"} <= xlsx_names


def test_filters_apply(zhang: Person, li: Person, make_user: Any, client_for: Any) -> None:
    client = client_for(make_user(role=OFFICER, region=GAOZHUANG))
    by_search = csv_rows(client.get(URL, {"format": "csv", "q": "zs"}))
    assert [r[0] for r in by_search[1:]] == ["张三"]
    by_region = csv_rows(client.get(URL, {"format": "csv", "region": DONGZHENGSI}))
    assert [r[0] for r in by_region[1:]] == ["李四"]
    by_age = csv_rows(client.get(URL, {"format": "csv", "age": "60-79"}))
    assert [r[0] for r in by_age[1:]] == ["李四"]
    actions.tag_persons(actor=None, persons=[zhang], group="chronic")
    by_tag = csv_rows(client.get(URL, {"format": "csv", "tag": "chronic"}))
    assert [r[0] for r in by_tag[1:]] == ["张三"]


def test_gb18030_encoding(zhang: Person, make_user: Any, client_for: Any) -> None:
    client = client_for(make_user(role=OFFICER, region=GAOZHUANG))
    response = client.get(URL, {"format": "csv", "encoding": "gb18030"})
    assert response.status_code == 200 and "gb18030" in response["Content-Type"]
    assert "张三" in b"".join(response.streaming_content).decode("gb18030")


@pytest.mark.parametrize(
    "params",
    [
        {"format": "pdf"},
        {"encoding": "latin-1"},
        {"reveal": "maybe"},
        {"age": "200+"},
        {"status": "=cmd"},
        {"tag": "no-such-group"},
        {"returnee": "perhaps"},
        {"q": "x" * 65},
    ],
)
def test_bad_input_is_422_not_500(
    zhang: Person, make_user: Any, client_for: Any, params: dict[str, str]
) -> None:
    client = client_for(make_user(role=OFFICER, region=GAOZHUANG))
    response = client.get(URL, params)
    assert response.status_code == 422, (params, response.status_code)
    assert response.json()["code"] == "invalid"
    assert not AccessLogEntry.objects.exists()  # nothing exported, nothing logged


@pytest.mark.parametrize(
    "params",
    [{"region": "不存在的村"}, {"q": "１３８"}, {"q": "'; drop table"}, {"region": "4" * 99}],
)
def test_odd_filters_export_nothing_or_matches(
    zhang: Person, make_user: Any, client_for: Any, params: dict[str, str]
) -> None:
    client = client_for(make_user(role=OFFICER, region=GAOZHUANG))
    response = client.get(URL, {"format": "csv", **params})
    assert response.status_code == 200
    body_text(response)


def test_page_and_api_export_the_same_rows(
    zhang: Person, li: Person, make_user: Any, client_for: Any
) -> None:
    client = client_for(make_user(role=OFFICER, region=GAOZHUANG))
    page = csv_rows(client.get(PAGE, {"format": "csv", "q": "ls"}))
    api = csv_rows(client.get(URL, {"format": "csv", "q": "ls"}))
    assert page == api and [r[0] for r in api[1:]] == ["李四"]
