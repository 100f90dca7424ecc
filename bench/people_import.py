"""people import: a generated 100,000-row xlsx ledger, end to end, SQLite and PostgreSQL.

Measured in the same run, each in its own process on a freshly migrated database that
holds the divisions of 安阳县:
- import: ``import_people_file`` (read with calamine, find the header, check every row,
  match villages, write with executemany/COPY, error workbook, audit summary);
- re-import: the same file again over the imported table (everything unchanged);
- floor: calamine parse plus a bare insert of the same rows into people_person, no checks;
- baseline: django-import-export (bulk mode, skip_unchanged) importing the same file into
  the same model, then again (its re-import): tablib reads the xlsx (openpyxl, read-only,
  skipping the two title rows, as its admin import would read it) and ``import_data``
  writes it. Its time is reported with and without the reading.

    .venv/bin/python bench/people_import.py [--rows N] [--repeat N] [--backend sqlite|postgresql]
        [--no-baseline] [--baseline-repeat N] [--inline-strings]

PostgreSQL is 127.0.0.1:5432 user postgres (FANGKONG_BENCH_PG_URL overrides); the
database fangkong_bench_import is created and dropped. Targets (issue 3): 20,000 rows/s
on SQLite, 15,000 on PostgreSQL; 15x django-import-export on the first import, 30x on the
re-import; within 2x of the floor; peak memory under 350 MB.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import peak_rss_mb, pg_admin, postgres_available, pss_mb  # bench/common.py

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get(
    "FANGKONG_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/fangkong_bench_import"
)
TOWNSHIP = "410522116"  # 高庄镇: 27 villages
HEADER = [
    "序号",
    "姓名",
    "性别",
    "身份证号",
    "联系电话",
    "所属村",
    "现住址",
    "人员类别",
    "返乡日期",
    "从何地返回",
    "交通方式",
    "来源地风险等级",
    "备注",
]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂英华玉萍红娥玲芬燕文辉建国志强海"
ORIGINS = ["北京市朝阳区", "郑州市金水区", "天津市津南区", "上海市浦东新区", "西安市雁塔区"]
GROUPS = ["", "", "", "独居老人", "孕产妇", "慢性病患者", "儿童"]
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _id(birth: dt.date, seq: int) -> str:
    body = f"410522{birth:%Y%m%d}{seq % 1000:03d}"
    total = sum(int(d) * w for d, w in zip(body, WEIGHTS, strict=True))
    return body + "10X98765432"[total % 11]


def make_ledger(
    path: Path,
    rows: int,
    villages: list[str],
    bad_fraction: float = 0.01,
    inline_strings: bool = False,
) -> int:
    """A ledger as villages keep them: two title rows (one merged), then 13 columns.
    Returns the number of rows made bad on purpose.

    Its text is stored as Excel and WPS store it, once in the workbook's shared strings
    (sharedStrings.xml), each cell referring to one. ``inline_strings`` writes every text
    in its cell instead (xlsxwriter's constant_memory mode), as the ledger of sessions 1
    to 7 did: no spreadsheet program saves a file like that, and its sheet XML is 55 MB
    instead of 36, which calamine takes about 0.3 s longer to parse.
    """
    import xlsxwriter

    rng = random.Random(20220120)
    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": inline_strings})
    sheet = workbook.add_worksheet("台账")
    date_format = workbook.add_format({"num_format": "yyyy/m/d"})
    sheet.merge_range(0, 0, 0, len(HEADER) - 1, "高庄镇返乡人员及重点人群台账")
    sheet.write_string(1, 0, "填报日期：2022年1月20日")
    for col, text in enumerate(HEADER):
        sheet.write_string(2, col, text)
    used: set[str] = set()
    bad = 0
    # Names repeat in a county: 300 given names x 38 surnames (about 11,000 distinct).
    given_names = sorted(
        {"".join(rng.choices(GIVEN, k=rng.choice((1, 2, 2)))) for _ in range(320)}
    )[:300]
    for i in range(rows):
        birth = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(0, 29_000))
        number = _id(birth, rng.randrange(1000))
        while number in used:
            number = _id(birth, rng.randrange(1000))
        used.add(number)
        name = rng.choice(SURNAMES) + rng.choice(given_names)
        row: list[Any] = [
            i + 1,
            name,
            "男" if int(number[16]) % 2 else "女",
            number,
            f"1{rng.choice('3578')}{rng.randrange(10**9):09d}",
            rng.choice(villages),
            f"高庄镇{rng.randrange(1, 30)}组{rng.randrange(1, 200)}号",
            rng.choice(GROUPS),
            "",
            "",
            "",
            "",
            "",
        ]
        if rng.random() < 0.5:
            row[8] = dt.date(2022, 1, 1) + dt.timedelta(days=rng.randrange(25))
            row[9] = rng.choice(ORIGINS)
            row[10] = rng.choice(("自驾", "火车", "大巴"))
            row[11] = rng.choice(("低", "中", "高"))
        if rng.random() < bad_fraction:
            bad += 1
            kind = rng.randrange(4)
            if kind == 0:
                row[3] = number[:17] + ("0" if number[17] != "0" else "1")  # checksum
            elif kind == 1:
                row[3] = float(number[:17] + "0")  # Excel float
            elif kind == 2:
                row[4] = "123"  # phone
            else:
                row[5] = "不存在村"  # village
        for col, value in enumerate(row):
            if isinstance(value, dt.date):
                sheet.write_datetime(i + 3, col, dt.datetime.combine(value, dt.time()), date_format)
            elif isinstance(value, (int, float)):
                sheet.write_number(i + 3, col, value)
            elif value:
                sheet.write_string(i + 3, col, value)
    workbook.close()
    return bad


# --- worker side (runs in a subprocess) ------------------------------------------------


def _worker(kind: str, ledger: str) -> dict[str, Any]:
    import django

    django.setup()
    from django.db import connection

    connection.ensure_connection()
    baseline = peak_rss_mb()
    if kind in {"import", "reimport"}:
        from fangkong.people.importers import import_people_file

        started, cpu = time.perf_counter(), time.process_time()
        summary = import_people_file(
            Path(ledger),
            actor=None,
            region_code=TOWNSHIP,
            error_path=Path(ledger).with_suffix(f".{kind}.errors.xlsx"),
        )
        seconds = time.perf_counter() - started
        import resource

        return {
            "seconds": seconds,
            "cpu_seconds": time.process_time() - cpu,
            "rss_mb": peak_rss_mb(),
            # The forked checking process's peak (it shares the pages it inherited).
            "child_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
            "baseline_mb": baseline,
            **summary,
        }
    if kind == "floor":
        return {"rss_mb": 0, "baseline_mb": baseline, **_floor(ledger)}
    return {"baseline_mb": baseline, **_import_export(ledger, kind)}


def _floor(ledger: str) -> dict[str, Any]:
    """calamine parse plus a bare insert of the person columns: no checks at all."""
    from django.db import transaction
    from django.utils import timezone
    from python_calamine import CalamineWorkbook

    from fangkong.core.importing import bulk
    from fangkong.geo.models import Region

    villages = dict(
        Region.objects.filter(code__startswith=TOWNSHIP, level=5).values_list("short_name", "code")
    )
    started, cpu = time.perf_counter(), time.process_time()
    sheet = CalamineWorkbook.from_path(ledger).get_sheet_by_index(0)
    now = bulk.db_datetime(timezone.now())
    rows = []
    for i, cells in enumerate(sheet.iter_rows()):
        if i < 3:
            continue
        number = str(cells[3])
        name = str(cells[1])
        phone = str(cells[4])
        rows.append(
            (
                now,
                now,
                "mainland",
                number,
                number[::-1],
                name,
                name,
                "",
                "",
                "",
                phone,
                phone[::-1],
                "",
                str(cells[6]),
                "resident",
                "",
                villages.get(str(cells[5]), TOWNSHIP),
            )
        )
    with transaction.atomic():
        bulk.insert_rows(
            "people_person",
            (
                "created_at",
                "updated_at",
                "id_type",
                "id_number",
                "id_reversed",
                "name",
                "name_key",
                "name_pinyin",
                "name_initials",
                "sex",
                "phone",
                "phone_reversed",
                "phone_alt",
                "address",
                "residence_status",
                "notes",
                "region_code",
            ),
            rows,
        )
    return {
        "seconds": time.perf_counter() - started,
        "cpu_seconds": time.process_time() - cpu,
        "rows": len(rows),
        "rss_mb": peak_rss_mb(),
    }


def _import_export(ledger: str, kind: str) -> dict[str, Any]:
    import tablib
    from import_export import fields, resources

    from fangkong.geo.models import Region
    from fangkong.people.models import Person

    villages = dict(
        Region.objects.filter(code__startswith=TOWNSHIP, level=5).values_list("short_name", "code")
    )
    read_started = time.perf_counter()
    # What its admin import does with an uploaded xlsx: tablib's xlsx format (openpyxl in
    # read-only mode); skip_lines passes the two title rows above the header.
    with open(ledger, "rb") as handle:
        dataset = tablib.Dataset().load(handle, format="xlsx", skip_lines=2)
    read_seconds = time.perf_counter() - read_started

    class PersonResource(resources.ModelResource):
        name = fields.Field(attribute="name", column_name="姓名")
        id_number = fields.Field(attribute="id_number", column_name="身份证号")
        phone = fields.Field(attribute="phone", column_name="联系电话")
        address = fields.Field(attribute="address", column_name="现住址")
        region_code = fields.Field(attribute="region_code", column_name="所属村")

        class Meta:
            model = Person
            fields = ("name", "id_number", "phone", "address", "region_code")
            import_id_fields = ("id_number",)
            use_bulk = True
            batch_size = 1000
            skip_unchanged = True
            report_skipped = False

        def before_import_row(self, row: Any, **kwargs: Any) -> None:
            row["所属村"] = villages.get(str(row["所属村"]), TOWNSHIP)
            row["身份证号"] = str(row["身份证号"])
            row["联系电话"] = str(row["联系电话"])

    # Its per-row lookup is WHERE id_number = ?; the model's unique index is partial on
    # (id_type, id_number), which that query cannot use, and without an index the lookup
    # is a table scan per row (quadratic: 3,000 rows at 1,475 rows/s, 100,000 rows took
    # minutes). The baseline gets a plain index on id_number so it is measured at its best.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            'CREATE INDEX IF NOT EXISTS "bench_ie_id_number" ON "people_person" ("id_number")'
        )
    started = time.perf_counter()
    result = PersonResource().import_data(dataset, dry_run=False, raise_errors=False)
    seconds = time.perf_counter() - started
    return {
        "seconds": read_seconds + seconds,
        "read_seconds": read_seconds,
        "import_data_seconds": seconds,
        "rss_mb": peak_rss_mb(),
        "rows": len(dataset),
        "totals": {str(k): v for k, v in result.totals.items()},
    }


# --- driver side ----------------------------------------------------------------------


def _env(database_url: str, data_dir: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FANGKONG_TEST")}
    env.update(
        DJANGO_SETTINGS_MODULE="fangkong.settings",
        FANGKONG_DATABASE_URL=database_url,
        FANGKONG_DATA_DIR=data_dir,
        FANGKONG_LOG_LEVEL="WARNING",
        FANGKONG_MAX_UPLOAD_MB="100",
        PYTHONPATH=str(ROOT / "src"),
    )
    return env


def _fresh_database(backend: str, workdir: str) -> str:
    if backend == "sqlite":
        url = f"sqlite:///{Path(workdir) / f'bench-{time.monotonic_ns()}.sqlite3'}"
    else:
        pg_admin(PG_URL, "DROP DATABASE IF EXISTS {db} WITH (FORCE)", "CREATE DATABASE {db}")
        url = PG_URL
    env = _env(url, workdir)
    for command in (["migrate", "-v0"], ["geo", "load", "410522"]):
        subprocess.run(
            [sys.executable, "-m", "fangkong.cli", *command],
            env={**env, "FANGKONG_ALLOW_DJANGO_COMMANDS": "1"},
            check=True,
            cwd=ROOT,
            capture_output=True,
        )
    if backend == "postgresql":
        # Creating and migrating the database wrote much WAL: without a checkpoint here,
        # one started by it could land in any run (floor or import) and cost it a second.
        pg_admin(PG_URL, "CHECKPOINT")
    return url


def _run(kind: str, url: str, workdir: str, ledger: str) -> dict[str, Any]:
    # Sampled from here, not from a thread in the worker: a second thread there would keep
    # the import from forking its checking process (core.importing.checking_process).
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        worker = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--worker", kind, "--ledger", ledger],
            env=_env(url, workdir),
            cwd=ROOT,
            stdout=out,
            stderr=err,
            text=True,
        )
        peak = 0.0
        while worker.poll() is None:
            peak = max(peak, pss_mb(worker.pid))
            time.sleep(0.05)
        out.seek(0)
        err.seek(0)
        if worker.returncode:
            raise RuntimeError(f"{kind} failed: {err.read()[-3000:]}")
        result = dict(json.loads(out.read().strip().splitlines()[-1]))
    result["pss_mb"] = peak
    return result


def bench_backend(
    backend: str, repeat: int, ledger: str, rows: int, baseline: bool, baseline_repeat: int = 1
) -> dict[str, Any]:
    kinds = ["import", "reimport", "floor"] + (["ie_import", "ie_reimport"] if baseline else [])
    runs: dict[str, list[dict[str, Any]]] = {kind: [] for kind in kinds}
    with tempfile.TemporaryDirectory(prefix="fangkong-bench-") as workdir:
        for i in range(repeat):
            order = ["floor", "import"] if i % 2 == 0 else ["import", "floor"]
            for kind in order:
                url = _fresh_database(backend, workdir)
                runs[kind].append(_run(kind, url, workdir, ledger))
                if kind == "import":
                    runs["reimport"].append(_run("reimport", url, workdir, ledger))
            # One run by default: at ~1,000-1,500 rows/s it takes minutes. Its own time
            # moved by 20-30% between runs on a noisy machine (bench/README.md, session
            # 8), and the speed-up targets are ratios to it: --baseline-repeat gives medians.
            if baseline and i < baseline_repeat:
                url = _fresh_database(backend, workdir)
                runs["ie_import"].append(_run("ie_import", url, workdir, ledger))
                runs["ie_reimport"].append(_run("ie_reimport", url, workdir, ledger))
        if backend == "postgresql":
            pg_admin(PG_URL, "DROP DATABASE IF EXISTS {db} WITH (FORCE)")

    def median(kind: str, key: str = "seconds") -> float:
        return statistics.median(float(r[key]) for r in runs[kind])

    def each(kind: str) -> str:
        return ", ".join(f"{r['seconds']:.2f}" for r in runs[kind])

    first, again = runs["import"][-1], runs["reimport"][-1]
    imp, reimp, floor = median("import"), median("reimport"), median("floor")
    # Process CPU time as well: on a shared machine wall times swing with the load, the
    # CPU time of the importing process much less (on PostgreSQL the server's is not in it).
    cpu = {kind: median(kind, "cpu_seconds") for kind in ("import", "reimport", "floor")}
    print(
        f"{backend:<10} floor (calamine + bare insert) {floor:6.2f} s   [{each('floor')}]  "
        f"cpu {cpu['floor']:.2f} s"
    )
    print(
        f"{backend:<10} cpu of the importing process: import {cpu['import']:.2f} s "
        f"({cpu['import'] / cpu['floor']:.2f}x the floor's), re-import {cpu['reimport']:.2f} s "
        f"({cpu['reimport'] / cpu['floor']:.2f}x)"
    )
    print(
        f"{backend:<10} import    {imp:6.2f} s  {rows / imp:8.0f} rows/s  ratio to floor "
        f"{imp / floor:.2f}  [{each('import')}]  created {first['created']}, updated "
        f"{first['updated']}, unchanged {first['unchanged']}, rejected {first['rejected']}"
    )
    print(
        f"{backend:<10} re-import {reimp:6.2f} s  {rows / reimp:8.0f} rows/s  ratio to floor "
        f"{reimp / floor:.2f}  [{each('reimport')}]  created {again['created']}, updated "
        f"{again['updated']}, unchanged {again['unchanged']}, rejected {again['rejected']}"
    )
    print(
        f"{backend:<10} peak RSS: import {median('import', 'rss_mb'):.0f} MB, re-import "
        f"{median('reimport', 'rss_mb'):.0f} MB (process before importing "
        f"{median('import', 'baseline_mb'):.0f} MB); checking process "
        f"{median('import', 'child_rss_mb'):.0f} MB and "
        f"{median('reimport', 'child_rss_mb'):.0f} MB; both together (peak PSS, shared "
        f"pages once) {median('import', 'pss_mb'):.0f} MB and "
        f"{median('reimport', 'pss_mb'):.0f} MB"
    )
    out: dict[str, Any] = {"backend": backend, "import": imp, "reimport": reimp, "floor": floor}
    out["cpu"] = cpu
    if baseline:
        ie, ie_re = median("ie_import"), median("ie_reimport")
        ie_read = median("ie_import", "read_seconds")
        print(
            f"{backend:<10} django-import-export: import {ie:.2f} s ({rows / ie:.0f} rows/s), "
            f"re-import {ie_re:.2f} s ({rows / ie_re:.0f} rows/s); speed-up {ie / imp:.1f}x "
            f"and {ie_re / reimp:.1f}x (of which reading the xlsx {ie_read:.2f} s; "
            f"import_data alone {ie - ie_read:.2f} s and "
            f"{ie_re - median('ie_reimport', 'read_seconds'):.2f} s: "
            f"{(ie - ie_read) / imp:.1f}x and "
            f"{(ie_re - median('ie_reimport', 'read_seconds')) / reimp:.1f}x)"
            + (
                f"  [{each('ie_import')}] / [{each('ie_reimport')}]"
                if len(runs["ie_import"]) > 1
                else ""
            )
        )
        out.update(ie_import=ie, ie_reimport=ie_re)
    out["runs"] = runs
    return out


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=int(os.environ.get("BENCH_REPEAT", 1)))
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], action="append")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument(
        "--baseline-repeat",
        type=int,
        default=1,
        help="runs of django-import-export (medians; each takes minutes)",
    )
    parser.add_argument(
        "--inline-strings",
        action="store_true",
        help="the ledger's text in its cells, as sessions 1-7 measured (make_ledger)",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--ledger", help=argparse.SUPPRESS)
    args = parser.parse_args(argv if argv is not None else [])
    if args.worker:
        print(json.dumps(_worker(args.worker, args.ledger), default=str))
        return []
    results = []
    with tempfile.TemporaryDirectory(prefix="fangkong-ledger-") as folder:
        ledger = Path(folder) / "ledger.xlsx"
        villages = _village_names()
        bad = make_ledger(ledger, args.rows, villages, inline_strings=args.inline_strings)
        print(
            f"ledger: {args.rows} rows, {len(HEADER)} columns, {bad} bad rows, "
            f"{ledger.stat().st_size / 1048576:.1f} MB, text "
            f"{'inline' if args.inline_strings else 'in shared strings'}"
        )
        for backend in args.backend or ["sqlite", "postgresql"]:
            if backend == "postgresql" and not postgres_available(PG_URL):
                continue
            results.append(
                bench_backend(
                    backend,
                    max(1, args.repeat, args.baseline_repeat),
                    str(ledger),
                    args.rows,
                    not args.no_baseline,
                    max(1, args.baseline_repeat),
                )
            )
    return results


def _village_names() -> list[str]:
    """高庄镇's 27 villages as ledgers write them (short names: 蒋台屯村)."""
    import csv
    import lzma

    sys.path.insert(0, str(ROOT / "src"))
    from fangkong.geo.shortnames import village_short_name

    names: list[str] = []
    with lzma.open(ROOT / "src/fangkong/geo/data/villages.csv.xz", "rt", encoding="utf-8") as f:
        for row in csv.reader(f):
            if row and row[0].startswith(TOWNSHIP):
                names.append(village_short_name(row[1]))
    if not names:
        raise SystemExit("no villages of 高庄镇 in the division files")
    return names


if __name__ == "__main__":
    main(sys.argv[1:])
