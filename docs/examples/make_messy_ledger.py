"""Writes messy-ledger.xlsx and messy-ledger-gb18030.csv: a returnee ledger as villages
really send them, to try `fangkong import people FILE --region 410522116` on.

Every person is synthetic (generated names, IDs with valid check digits).
Run: .venv/bin/python docs/examples/make_messy_ledger.py
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import xlsxwriter

HERE = Path(__file__).resolve().parent
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def make_id(birth: str, seq: int) -> str:
    body = f"410522{birth}{seq:03d}"
    total = sum(int(d) * w for d, w in zip(body, WEIGHTS, strict=True))
    return body + "10X98765432"[total % 11]


HEADER = [
    "序 号",
    "姓  名",
    "身份證號碼（必填）",
    "联系电话",
    "村(社区)",
    "现住址",
    "返乡日期",
    "从何地返回",
    "交通方式",
    "来源地风险等级",
    "人员类别",
    "备注",
]
GOOD = make_id("19900101", 123)
FULL_WIDTH_ID = make_id("19850520", 246).translate(
    str.maketrans("0123456789", "０１２３４５６７８９")
)
ROWS: list[list[object]] = [
    # ok: text ID, Excel date cell
    [
        1,
        "张伟",
        GOOD,
        "13800138000",
        "蒋台屯村",
        "一组12号",
        dt.date(2022, 1, 20),
        "北京市朝阳区",
        "火车",
        "中",
        "",
        "",
    ],
    # ok: traditional village and name, full-width digits, Chinese date text
    [
        2,
        "陳靜",
        FULL_WIDTH_ID,
        "１３９００１３９０００",
        "蔣台屯",
        "",
        "2022年1月18日",
        "郑州市",
        "自驾",
        "低",
        "独居老人",
        "",
    ],
    # ok: shares 张伟's phone (family), short village name, slash date
    [
        3,
        "王芳",
        make_id("20010303", 11),
        "13800138000",
        "东正寺",
        "二组3号",
        "2022/1/19",
        "天津市津南区",
        "大巴",
        "高",
        "孕产妇",
        "",
    ],
    # rejected: Excel stored the ID as a number and lost digits
    [4, "李娜", 4.10522199203041e17, "13700137000", "蒋台屯村", "", "", "", "", "", "", ""],
    # rejected: a check digit mistyped
    [
        5,
        "刘洋",
        GOOD[:-1] + ("0" if GOOD[-1] != "0" else "1"),
        "13600136000",
        "蒋台屯村",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
    ],
    # rejected: 30 February is not a birth date
    [6, "赵敏", "410522199002301234", "13500135000", "蒋台屯村", "", "", "", "", "", "", ""],
    # rejected: the same person as row 1 again (duplicates are not merged)
    [
        7,
        "张伟",
        GOOD,
        "13800138000",
        "蒋台屯村",
        "一组12号",
        dt.date(2022, 1, 20),
        "北京市朝阳区",
        "火车",
        "中",
        "",
        "",
    ],
    # ok: an infant without a document, matched next time on village + name + phone
    [8, "王小宝", "", "13800138000", "东正寺村", "", "", "", "", "", "儿童", "婴儿，无证件"],
    # rejected: a village that is not in 高庄镇
    [9, "孙强", make_id("19770707", 77), "13400134000", "侯庄村", "", "", "", "", "", "", ""],
    # rejected: a phone number that is not one
    [10, "周杰", make_id("19660606", 66), "12345", "东正寺村", "", "", "", "", "", "", ""],
]


def main() -> None:
    book = xlsxwriter.Workbook(str(HERE / "messy-ledger.xlsx"))
    sheet = book.add_worksheet("返乡人员")
    dates = book.add_format({"num_format": "yyyy/m/d"})
    sheet.merge_range(0, 0, 0, len(HEADER) - 1, "高庄镇返乡人员登记台账（样例，人员均为虚构）")
    sheet.write_string(1, 0, "填报单位：高庄镇    填报日期：2022年1月21日")
    sheet.write_row(2, 0, HEADER)
    for r, row in enumerate(ROWS, start=3):
        for c, value in enumerate(row):
            if isinstance(value, dt.date):
                sheet.write_datetime(r, c, dt.datetime.combine(value, dt.time()), dates)
            elif isinstance(value, (int, float)):
                sheet.write_number(r, c, value)
            elif value:
                sheet.write_string(r, c, str(value))
    # A formula cell: its computed value is read, the formula is never run.
    sheet.write_formula(len(ROWS) + 3, 0, "=10+1", None, 11)
    sheet.write_row(len(ROWS) + 3, 1, ["吴磊", make_id("19550505", 55), "13300133000", "蒋台屯村"])
    book.close()
    lines = [",".join(HEADER)] + [
        ",".join(v.isoformat() if isinstance(v, dt.date) else str(v) for v in row)
        for row in ROWS
        if not isinstance(row[2], float)
    ]
    (HERE / "messy-ledger-gb18030.csv").write_bytes(("\n".join(lines) + "\n").encode("gb18030"))


if __name__ == "__main__":
    main()
