"""`fangkong stock receive | issue | verify | snapshot`: files in, one document out."""

from __future__ import annotations

import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from python_calamine import CalamineWorkbook

from fangkong.core.models import AuditEntry
from fangkong.supplies.actions.documents import LineInput, post_stock_document
from fangkong.supplies.keys import lot_for
from fangkong.supplies.models import Balance, DocumentKind, LotStatus, Movement, StockDocument
from tests.supplies.conftest import Stock

ROOT = Path(__file__).resolve().parents[2]

HEADER = "物资,数量,单位,批号,有效期,备注\n"


def run(*args: str) -> str:
    out = StringIO()
    call_command("stock", *args, stdout=out)
    return out.getvalue()


def fails(*args: str) -> CommandError:
    with pytest.raises(CommandError) as caught:
        run(*args)
    return caught.value


def write(tmp_path: Path, text: str, encoding: str = "utf-8", name: str = "in.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def on_hand(stock: Stock, item: object, location: object = None) -> int:
    row = Balance.objects.filter(location=location or stock.depot, item=item).first()
    return row.quantity if row else 0


def depot_id(stock: Stock) -> str:
    assert stock.depot.site_id is not None
    return str(stock.depot.site_id)


def test_receive_posts_one_document_with_packs_lots_and_bad_rows(
    stock: Stock, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "伏道镇防疫物资库入库单\n"  # a title row above the header
        + HEADER
        + "医用防护服,30,箱,,,社科联\n"
        + "N95,2000,个,,,\n"
        + "采样管,600,,B2201,2099-06-30,\n"
        + "采样管,100,,,,\n"  # tracks lots: no lot
        + "不存在的物资,5,,,,\n"
        + "面粉,2.5,,,,\n"
        + "面粉,-3,,,,\n"
        + "面粉,１２,,,,\n"  # full-width digits are fine
        + "84消毒液,7,桶,,,\n"  # unknown pack
        + '=HYPERLINK("x"),1,,,,\n',
    )
    errors = tmp_path / "errors.xlsx"
    out = run("receive", str(path), "--location", "伏道镇防疫物资库", "--errors", str(errors))
    last = out.strip().splitlines()[-1]
    document = StockDocument.objects.get(kind=DocumentKind.RECEIPT)
    assert last == f"posted {document.number}: 4 lines, rejected 6"
    assert on_hand(stock, stock.suits) == 1500
    assert on_hand(stock, stock.masks) == 2000
    assert on_hand(stock, stock.tubes) == 600
    assert on_hand(stock, stock.flour) == 12
    line = document.lines.get(item=stock.suits)
    assert (line.quantity, line.pack_id, line.pack_count) == (1500, stock.suit_box.pk, 30)
    assert "row 6: " in out and "row 7: " in out  # numbered as in the sheet (title = row 1)
    sheet = CalamineWorkbook.from_path(str(errors)).get_sheet_by_index(0).to_python()
    assert len(sheet) == 7  # header + 6 rejected rows
    assert sheet[0][:2] == ["物资", "数量"]
    assert sheet[-1][0] == '=HYPERLINK("x")'  # kept as inert text
    assert all(row[-1] for row in sheet[1:])  # every row says why
    entry = AuditEntry.objects.get(action="supplies.post_receipt")
    assert entry.source == "cli" and entry.actor_name == "system"


def test_receive_again_posts_nothing_new(stock: Stock, tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "N95,10,,,,\n")
    first = run("receive", str(path), "--location", depot_id(stock))
    again = run("receive", str(path), "--location", depot_id(stock))
    assert "already posted" in again
    assert first.strip().splitlines()[-1] == again.strip().splitlines()[-1]
    assert on_hand(stock, stock.masks) == 10
    assert StockDocument.objects.count() == 1


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_encodings_and_english_headers(stock: Stock, tmp_path: Path, encoding: str) -> None:
    path = write(tmp_path, "item,quantity,unit\n医用防护服,2,箱\nN95口罩,3,\n", encoding)
    out = run("receive", str(path), "--location", depot_id(stock))
    assert out.strip().endswith(": 2 lines, rejected 0")
    assert on_hand(stock, stock.suits) == 100 and on_hand(stock, stock.masks) == 3


def test_dry_run_posts_nothing_and_creates_no_lot(stock: Stock, tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "采样管,600,,NEW1,2099-06-30,\n面粉,x,,,,\n")
    out = run("receive", str(path), "--location", depot_id(stock), "--dry-run")
    assert out.strip().splitlines()[-1] == "dry run: 1 lines ok, rejected 1"
    assert not StockDocument.objects.exists() and not Movement.objects.exists()
    assert not stock.tubes.lots.filter(code="NEW1").exists()


def test_issue_with_recipient_and_blocked_lot(stock: Stock, tmp_path: Path) -> None:
    good = lot_for(stock.tubes, "B1")
    held = lot_for(stock.tubes, "B2")
    post_stock_document(
        kind="receipt",
        actor=None,
        destination=stock.depot,
        receipt_source="purchase",
        lines=[
            LineInput(item=stock.tubes, lot=good, quantity=500),
            LineInput(item=stock.tubes, lot=held, quantity=500),
            LineInput(item=stock.suits, lot=stock.lot(stock.suits), quantity=1500),
        ],
    )
    held.status = LotStatus.ON_HOLD
    held.save()
    path = write(
        tmp_path, HEADER + "采样管,200,,B1,,\n采样管,10,,B2,,\n采样管,10,,B9,,\nFHF,4,箱,,,\n"
    )
    out = run("issue", str(path), "--location", depot_id(stock), "--recipient", "伏道二街村")
    document = StockDocument.objects.get(kind=DocumentKind.ISSUE)
    assert out.strip().splitlines()[-1] == f"posted {document.number}: 2 lines, rejected 2"
    assert document.recipient_name == "伏道二街村" and document.recipient_kind == "other"
    assert on_hand(stock, stock.suits) == 1300
    assert Balance.objects.get(location=stock.depot, lot=good).quantity == 300


def test_issue_short_names_item_and_shortfall_and_posts_nothing(
    stock: Stock, tmp_path: Path
) -> None:
    run("receive", str(write(tmp_path, HEADER + "N95,100,,,,\n面粉,50,,,,\n", name="r.csv")),
        "--location", depot_id(stock))  # fmt: skip
    path = write(tmp_path, HEADER + "面粉,10,,,,\nN95,130,,,,\n")
    error = fails("issue", str(path), "--location", depot_id(stock))
    assert error.returncode == 1
    assert "N95口罩" in str(error) and "30" in str(error)
    assert on_hand(stock, stock.flour) == 50 and on_hand(stock, stock.masks) == 100
    assert not StockDocument.objects.filter(kind=DocumentKind.ISSUE).exists()


def test_all_rows_bad_posts_nothing(stock: Stock, tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "无此物,1,,,,\n")
    error = fails("receive", str(path), "--location", depot_id(stock))
    assert error.returncode == 1 and "0 lines, rejected 1" in str(error)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["receive", "/no/such.csv", "--location", "1"], "no such file"),
        (["receive", "{csv}", "--location", "无此站点"], "no site named"),
        (["receive", "{csv}", "--location", "999999"], "no site with id"),
        (["receive", "{csv}", "--location", " "], "site id or name"),
        (["snapshot", "2022-02-30"], "not a date"),
        (["snapshot", "yesterday"], "not a date"),
    ],
)
def test_wrong_arguments_exit_2(stock: Stock, tmp_path: Path, args: list[str], needle: str) -> None:
    csv = write(tmp_path, HEADER + "N95,1,,,,\n")
    error = fails(*[a.replace("{csv}", str(csv)) for a in args])
    assert error.returncode == 2 and needle in str(error)


def test_unreadable_file_exit_1(stock: Stock, tmp_path: Path) -> None:
    path = tmp_path / "junk.csv"
    path.write_bytes(b"\x00\x01binary")
    assert fails("receive", str(path), "--location", depot_id(stock)).returncode == 1
    no_header = write(tmp_path, "hello,world\n1,2\n", name="nh.csv")
    assert fails("receive", str(no_header), "--location", depot_id(stock)).returncode == 1


def test_verify_clean_then_difference(stock: Stock, tmp_path: Path) -> None:
    run("receive", str(write(tmp_path, HEADER + "N95,10,,,,\n")), "--location", depot_id(stock))
    assert run("verify").strip().endswith("0 differences")
    Balance.objects.filter(item=stock.masks).update(quantity=7)
    out = StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("stock", "verify", stdout=out)
    assert caught.value.returncode == 1
    assert "ledger 10, balance 7" in out.getvalue() and "1 differences" in out.getvalue()


def test_snapshot_calls_the_snapshot_action(stock: Stock) -> None:
    out = run("snapshot", "2022-01-20")
    assert out.startswith("snapshot 2022-01-20: ")
    error = fails("snapshot", "2999-01-01")  # a day that has not ended
    assert error.returncode == 1


def test_command_line_errors_are_one_line_exit_2(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "FANGKONG_DATA_DIR": str(tmp_path),
        "PYTHONPATH": str(ROOT / "src"),
    }
    env["FANGKONG_SECRET_KEY"] = "test-only"
    for args in (["stock"], ["stock", "receive"], ["stock", "bogus"], ["stock", "issue", "x.csv"]):
        done = subprocess.run(
            [sys.executable, "-c", "from fangkong.cli import main; main()", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=tmp_path,
        )
        assert done.returncode == 2, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
