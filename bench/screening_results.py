"""Lab result ingestion and positive tracing on PostgreSQL (issue: results and tracing).

A round over 高庄镇 with 550,000 closed 10:1 tubes (5,500,000 samples) is generated with
INSERT ... SELECT generate_series; then a lab file of 550,000 result lines (UTF-8 with
BOM, ~0.1% 混管阳性/阳性, a few unknown tubes) is imported end to end through the same
code path as `fangkong import lab-results FILE` (the "screening.import_results" job run
inline: read, check, match, record, update tubes, open positive cases and their
re-sampling tasks, error workbook, audit), measured against the baseline: the same parse
plus a bare COPY of the same rows into a table without indexes. Then the same file again
(everything unchanged), and tracing one positive pool (members with village, address,
phone, key groups and other samples) p50/p95.

People: by default 550,000 people each sampled into 10 tubes (1:10 reuse), which keeps the
set-up near two minutes on 2 cores; ``--people full`` generates 5,500,000 (one per sample;
the people alone took 6.5 minutes). The import measured the same either way (26.5 s and
27.1 s; tracing p95 30 ms both). Tracing and ingestion do the same work either way (a tube
has 10 members; only the other-samples list of a member grows with reuse).

    .venv/bin/python bench/screening_results.py [--people reuse|full]
    BENCH_SCALE=0.1 .venv/bin/python bench/screening_results.py   # 55,000 tubes

PostgreSQL is 127.0.0.1:5432 user postgres (FANGKONG_BENCH_PG_URL overrides); the database
fangkong_bench_results is created and dropped. Target: the import under 30 s; tracing
one pool under 50 ms.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import peak_rss_mb, pg_admin, postgres_available  # bench/common.py

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get(
    "FANGKONG_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/fangkong_bench_results"
)
TOWNSHIP = "410522116"  # 高庄镇
FULL_TUBES = 550_000
POOL = 10
POSITIVE_RATE = 0.001
UNKNOWN_TUBES = 25
TRACE_CALLS = 200
LAB = "安阳市疾控中心核酸检测实验室"


def scale() -> float:
    try:
        return max(0.0001, float(os.environ.get("BENCH_SCALE") or 1))
    except ValueError:
        return 1.0


# --- worker side (each step in its own process) ----------------------------------------


def _cursor() -> Any:
    from django.db import connection

    connection.ensure_connection()
    return connection.connection.cursor()


def _setup(tubes: int, people_mode: str) -> dict[str, Any]:
    """Sites, people, a round awaiting results, closed tubes with 10 samples each."""
    import datetime as dt

    from django.utils import timezone

    from fangkong.geo.models import Region, Site
    from fangkong.screening.actions.rounds import ZoneInput, create_round
    from fangkong.screening.models import Round, RoundStatus

    started = time.perf_counter()
    villages = list(
        Region.objects.filter(code__startswith=TOWNSHIP, level=5)
        .order_by("code")
        .values_list("code", "short_name")
    )
    sites = [
        Site.objects.create(name=f"{name}核酸采样点", kind="testing_site", region_code=code)
        for code, name in villages
    ]
    now = timezone.now()
    round_ = create_round(
        actor=None,
        name="第9轮全员核酸",
        starts_at=now - dt.timedelta(hours=10),
        ends_at=now - dt.timedelta(hours=5),
        zones=[ZoneInput(TOWNSHIP, POOL)],
    )
    Round.objects.filter(pk=round_.pk).update(status=RoundStatus.AWAITING_RESULTS)
    people = tubes * POOL if people_mode == "full" else tubes
    codes = "{" + ",".join(code for code, _name in villages) + "}"
    site_ids = "{" + ",".join(str(s.pk) for s in sites) + "}"
    cur = _cursor()
    # Generated rows are consistent by construction: skip the foreign-key triggers (the
    # bench connects as a superuser), which cost most of the 5.5M-sample insert.
    cur.execute("SET session_replication_role = replica")
    timings: dict[str, float] = {}
    mark = time.perf_counter()
    cur.execute(
        """
        INSERT INTO people_person (created_at, updated_at, region_code, name, name_key,
            name_pinyin, name_initials, id_type, id_number, id_reversed, sex, birth_date,
            phone, phone_reversed, phone_alt, address, residence_status, notes)
        SELECT now(), now(), c.codes[1 + i %% c.n], '居民' || i, '居民' || i, 'jumin' || i, 'jm',
            'mainland', x.num, reverse(x.num), '', NULL, x.phone, reverse(x.phone), '',
            '高庄镇' || (1 + i %% 30) || '组' || (1 + i %% 200) || '号', 'resident', ''
        FROM generate_series(1, %s) AS i,
            (SELECT %s::text[] AS codes, %s::int AS n) AS c,
            LATERAL (SELECT '410522' || lpad(i::text, 12, '0') AS num,
                            '13' || lpad(i::text, 9, '0') AS phone) AS x
        """,
        [people, codes, len(villages)],
    )
    timings["people"] = time.perf_counter() - mark
    cur.execute("SELECT min(id) FROM people_person")
    person_min = int(cur.fetchone()[0])
    mark = time.perf_counter()
    cur.execute(
        """
        INSERT INTO screening_tube (created_at, updated_at, region_code, round_id, site_id,
            barcode, capacity, household_mode, member_count, status, opened_at, closed_at,
            result)
        SELECT now(), now(), c.codes[1 + i %% c.n], %s, c.sites[1 + i %% c.n],
            'GZ' || lpad(i::text, 10, '0'), %s, false, %s, 'closed',
            now() - interval '9 hours' + (i %% 18000) * interval '1 second',
            now() - interval '8 hours' + (i %% 18000) * interval '1 second', ''
        FROM generate_series(1, %s) AS i,
            (SELECT %s::text[] AS codes, %s::bigint[] AS sites, %s::int AS n) AS c
        """,
        [round_.pk, POOL, POOL, tubes, codes, site_ids, len(villages)],
    )
    timings["tubes"] = time.perf_counter() - mark
    cur.execute("SELECT min(id) FROM screening_tube")
    tube_min = int(cur.fetchone()[0])
    mark = time.perf_counter()
    # Member j of the k-th tube is person (k * 10 + j) mod people: with reuse each person
    # sits in 10 tubes; person and village follow from the id, no join needed.
    cur.execute(
        """
        INSERT INTO screening_sample (round_id, tube_id, person_id, site_id, region_code,
            scanned_at, in_target, out_of_area, repeat_reason)
        SELECT t.round_id, t.id, %s + m.k, t.site_id, c.codes[1 + (m.k + 1) %% c.n],
            t.opened_at + j * interval '20 seconds', true, false, ''
        FROM screening_tube t
            CROSS JOIN generate_series(0, %s) AS j
            CROSS JOIN (SELECT %s::text[] AS codes, %s::int AS n) AS c
            CROSS JOIN LATERAL (SELECT (((t.id - %s) * %s + j) %% %s)::bigint AS k) AS m
        WHERE t.round_id = %s
        """,
        [
            person_min,
            POOL - 1,
            codes,
            len(villages),
            tube_min,
            POOL,
            people,
            round_.pk,
        ],
    )
    timings["samples"] = time.perf_counter() - mark
    cur.execute("SET session_replication_role = DEFAULT")
    cur.execute("VACUUM ANALYZE")
    return {
        "seconds": time.perf_counter() - started,
        "people": people,
        "tubes": tubes,
        "samples": tubes * POOL,
        "steps": {k: round(v, 1) for k, v in timings.items()},
    }


def make_file(path: Path, tubes: int) -> dict[str, int]:
    """550,000 lines as a lab exports them: a title line, a header, one tube per line."""
    rng = random.Random(20220121)
    positives = 0
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["序号", "试管编码", "检测结果", "报告时间", "检测机构"])
        for i in range(1, tubes + 1):
            word = "阴性"
            if rng.random() < POSITIVE_RATE:
                word = "混管阳性" if rng.random() < 0.9 else "阳性"
                positives += 1
            minute = 40 + (i * 7) % 600
            stamp = f"2022-01-21 {8 + minute // 60:02d}:{minute % 60:02d}"
            writer.writerow([i, f"GZ{i:010d}", word, stamp, LAB])
        for j in range(UNKNOWN_TUBES):
            writer.writerow([tubes + j + 1, f"ZZ{j:010d}", "阴性", "2022-01-21 12:00", LAB])
    return {"lines": tubes + UNKNOWN_TUBES, "positives": positives}


def _checkpoints() -> int:
    cur = _cursor()
    cur.execute("SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter")
    return int(cur.fetchone()[0])


def _import(path: str) -> dict[str, Any]:
    from django.db import connection

    from fangkong.core.jobs import run_inline

    params = {"path": path, "filename": Path(path).name, "language": "en"}
    _cursor().execute("CHECKPOINT")  # each timed step starts from a clean checkpoint
    checkpoints = _checkpoints()
    connection.force_debug_cursor = True  # per-statement times (a few hundred statements)
    started, cpu = time.perf_counter(), time.process_time()
    job = run_inline("screening.import_results", params, actor=None, show_bar=False)
    seconds = time.perf_counter() - started
    connection.force_debug_cursor = False
    statements: dict[str, float] = {}
    for query in connection.queries:
        words = query["sql"].split()
        key = " ".join(words[:3])[:40]
        statements[key] = statements.get(key, 0.0) + float(query["time"])
    top = sorted(statements.items(), key=lambda kv: -kv[1])[:5]
    if job.status != "succeeded":
        raise RuntimeError(str(job.result)[:2000])
    result = {k: v for k, v in job.result.items() if k not in {"unknown_list", "case_ids"}}
    return {
        "seconds": seconds,
        "cpu_seconds": time.process_time() - cpu,
        "rss_mb": peak_rss_mb(),
        "checkpoints": _checkpoints() - checkpoints,
        "top_sql": ", ".join(f"{key} {value:.1f} s" for key, value in top),
        **result,
    }


def _baseline(path: str) -> dict[str, Any]:
    """The same parse (core.importing's reader and header) plus a bare COPY of the rows."""
    from django.db import transaction

    from fangkong.core.importing import bulk
    from fangkong.core.importing.readers import open_table
    from fangkong.core.importing.runner import iter_rows, resolve_header
    from fangkong.screening.importers import RESULT_SCHEMA

    cur = _cursor()
    cur.execute(
        "CREATE TABLE IF NOT EXISTS bench_bare_results "
        "(barcode varchar(32), result varchar(16), reported text, lab varchar(100))"
    )
    cur.execute("TRUNCATE bench_bare_results")
    cur.execute("CHECKPOINT")
    started, cpu = time.perf_counter(), time.process_time()
    table = open_table(path)
    guess = resolve_header(table, RESULT_SCHEMA)
    rows = [
        (r.values["barcode"], r.values["result"], r.values["result_at"], r.values.get("lab"))
        for r in iter_rows(table, guess)
    ]
    with transaction.atomic():
        bulk.insert_rows("bench_bare_results", ("barcode", "result", "reported", "lab"), rows)
    return {
        "seconds": time.perf_counter() - started,
        "cpu_seconds": time.process_time() - cpu,
        "rows": len(rows),
    }


def _trace() -> dict[str, Any]:
    from django.db import connection, reset_queries

    from fangkong.screening.models import PositiveCase
    from fangkong.screening.queries.tracing import find_tube, trace_tube

    barcodes = list(
        PositiveCase.objects.order_by("id").values_list("tube__barcode", flat=True)[:TRACE_CALLS]
    )
    if not barcodes:
        return {"calls": 0}
    timings = []
    queries = 0
    trace_tube(find_tube(barcodes[-1]))  # type: ignore[arg-type]  # warm up the ORM's caches
    for barcode in barcodes:
        started = time.perf_counter()
        trace = trace_tube(find_tube(barcode))  # type: ignore[arg-type]
        members = [(m.name, m.phone, m.address, m.village_name) for m in trace.members]
        timings.append((time.perf_counter() - started) * 1000)
        assert len(members) == POOL, members
    connection.force_debug_cursor = True
    reset_queries()
    trace_tube(find_tube(barcodes[0]))  # type: ignore[arg-type]
    queries = len(connection.queries)
    timings.sort()
    return {
        "calls": len(timings),
        "p50_ms": statistics.median(timings),
        "p95_ms": timings[max(0, math.ceil(len(timings) * 0.95) - 1)],
        "max_ms": timings[-1],
        "queries": queries,
    }


def worker(kind: str, argument: str) -> dict[str, Any]:
    import django

    django.setup()
    if kind == "setup":
        tubes, people_mode = argument.split(":")
        return _setup(int(tubes), people_mode)
    if kind == "import":
        return _import(argument)
    if kind == "baseline":
        return _baseline(argument)
    return _trace()


# --- driver side -----------------------------------------------------------------------


def _env(workdir: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FANGKONG_TEST")}
    env.update(
        DJANGO_SETTINGS_MODULE="fangkong.settings",
        FANGKONG_DATABASE_URL=PG_URL,
        FANGKONG_DATA_DIR=workdir,
        FANGKONG_LOG_LEVEL="WARNING",
        FANGKONG_MAX_UPLOAD_MB="100",
        PYTHONPATH=str(ROOT / "src"),
    )
    return env


def _run(kind: str, argument: str, workdir: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--worker", kind, "--arg", argument],
        env=_env(workdir),
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise RuntimeError(f"{kind} failed: {done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", choices=("reuse", "full"), default="reuse")
    parser.add_argument("--worker", default="")
    parser.add_argument("--arg", default="")
    # From bench/run.py (make bench) main() gets no argv: sys.argv is run.py's.
    args = parser.parse_args(argv if argv is not None else [])
    if args.worker:
        print(json.dumps(worker(args.worker, args.arg)))
        return
    if not postgres_available(PG_URL):
        return
    tubes = max(100, int(FULL_TUBES * scale()))
    with tempfile.TemporaryDirectory(prefix="fangkong-bench-") as workdir:
        pg_admin(PG_URL, "DROP DATABASE IF EXISTS {db} WITH (FORCE)", "CREATE DATABASE {db}")
        env = {**_env(workdir), "FANGKONG_ALLOW_DJANGO_COMMANDS": "1"}
        for command in (["migrate", "-v0"], ["geo", "load", "410522"]):
            subprocess.run(
                [sys.executable, "-m", "fangkong.cli", *command],
                env=env,
                check=True,
                cwd=ROOT,
                capture_output=True,
            )
        setup = _run("setup", f"{tubes}:{args.people}", workdir)
        print(
            f"set-up: {setup['people']:,} people, {setup['tubes']:,} tubes, "
            f"{setup['samples']:,} samples in {setup['seconds']:.0f} s {setup['steps']}"
        )
        path = Path(workdir) / "lab_results.csv"
        made = make_file(path, tubes)
        print(
            f"file: {made['lines']:,} lines ({path.stat().st_size / 1048576:.1f} MB), "
            f"{made['positives']} positive, {UNKNOWN_TUBES} unknown tubes"
        )
        base = _run("baseline", str(path), workdir)
        first = _run("import", str(path), workdir)
        again = _run("import", str(path), workdir)
        trace = _run("trace", "", workdir)
        pg_admin(PG_URL, "DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    lines = made["lines"]
    print(
        f"baseline (parse + bare COPY)  {base['seconds']:6.2f} s  cpu {base['cpu_seconds']:.2f} s"
    )
    print(
        f"import                        {first['seconds']:6.2f} s  {lines / first['seconds']:8.0f} "
        f"lines/s  {first['seconds'] / base['seconds']:.2f}x the baseline  cpu "
        f"{first['cpu_seconds']:.2f} s  peak {first['rss_mb']:.0f} MB  results "
        f"{first['results']}, unknown tubes {first['unknown_tubes']}, positives "
        f"{first['positives']}  (target < 30 s at 550,000 lines)"
    )
    print(
        f"  checkpoints during the import: {first['checkpoints']}; slowest statements: "
        f"{first['top_sql']}"
    )
    print(
        f"re-import (all unchanged)     {again['seconds']:6.2f} s  results {again['results']}, "
        f"unchanged {again['unchanged']}, positives {again['positives']}"
    )
    if trace.get("calls"):
        print(
            f"trace one positive pool       p50 {trace['p50_ms']:.1f} ms  p95 "
            f"{trace['p95_ms']:.1f} ms  max {trace['max_ms']:.1f} ms over {trace['calls']} "
            f"pools, {trace['queries']} queries  (target < 50 ms)"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
