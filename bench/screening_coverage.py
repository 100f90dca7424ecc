"""screening coverage (应检尽检): 1,000,000 people over 50 villages of one township.

Loaded with bulk SQL (COPY on PostgreSQL, executemany on SQLite): regions, people (1% tagged
bedridden, 1% elderly living alone), then a round over the township (10 per tube) with
five sealed villages (1 per tube) is planned and started through the actions; starting
takes the target population with one INSERT ... SELECT (timed). 60% of the targets are
then marked sampled (one UPDATE, as if the scan had set ``first_sampled_at``).

Timed, p50 and p95 over ``--runs``:
- ``queries.coverage.coverage`` for the whole township, as an HQ user of the county
  (what the coverage page and API run: the aggregate and the region names);
- the same for one village, as the village's cadre (scoped);
- ``queries.coverage.missing_rows`` for one village (count, first 3,000 rows in
  door-to-door order, their key-group tags, region names), masked.
Baselines in the same run: a bare ``SELECT count(*) FROM screening_roundtarget WHERE
round_id = %s`` and the plain ``GROUP BY region_code`` with the two counts.

    .venv/bin/python bench/screening_coverage.py [--people N] [--runs N]
        [--backend sqlite|postgresql|both]

BENCH_SCALE (e.g. 0.1) shrinks the default population. Target (issue): coverage for a
1,000,000-person round under 500 ms on PostgreSQL.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import setup_django  # noqa: E402  (bench/common.py)

PG_URL = os.environ.get(
    "FANGKONG_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/fangkong_bench_coverage"
)
VILLAGES = 50
TOWNSHIP = "410522116"
COUNTY = "410522"
SAMPLED_SHARE = 0.6
SEALED_VILLAGES = 5
PEOPLE = int(1_000_000 * float(os.environ.get("BENCH_SCALE", "1")))


def village_code(n: int) -> str:
    return f"{TOWNSHIP}{200 + n:03d}"


def _regions() -> None:
    from fangkong.geo.models import Region

    rows = [
        ("41", "河南省", 1, None),
        ("4105", "安阳市", 2, "41"),
        (COUNTY, "安阳县", 3, "4105"),
        (TOWNSHIP, "高庄镇", 4, COUNTY),
    ]
    rows += [(village_code(n), f"村{n:02d}", 5, TOWNSHIP) for n in range(VILLAGES)]
    Region.objects.bulk_create(
        Region(code=c, name=name, short_name=name, level=level, parent_id=parent)
        for c, name, level, parent in rows
    )


SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂"
PERSON_COLUMNS = (
    "name, name_key, name_pinyin, name_initials, id_type, id_number, id_reversed, sex, "
    "birth_date, phone, phone_reversed, phone_alt, address, residence_status, notes, "
    "region_code, created_at, updated_at"
)


def _insert_people(count: int) -> None:
    """Synthetic people made by the database itself (a generated series: no Python per
    row): village by index, ages 0 to 94, pinyin keys that sort, one in 50 temporary."""
    from django.db import connection

    pg = connection.vendor == "postgresql"
    name = (
        f"substr('{SURNAMES}', 1 + n % 20, 1) || substr('{GIVEN}', 1 + (n / 20) % 26, 1) "
        f"|| substr('{GIVEN}', 1 + (n / 520) % 26, 1)"
    )
    if pg:
        series = "SELECT n FROM generate_series(0, %s - 1) AS n"
        digits = "lpad(({expr})::text, {width}, '0')"
        birth = "current_date - ((n::bigint * 7907) % 34675)::int"
        now = "now()"
    else:
        series = (
            "WITH RECURSIVE seq(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM seq WHERE n < %s - 1) "
            "SELECT n FROM seq"
        )
        digits = "printf('%%0{width}d', {expr})"
        birth = "date('now', '-' || ((n * 7907) % 34675) || ' days')"
        now = "strftime('%%Y-%%m-%%d %%H:%%M:%%f', 'now')"
    big = "n::bigint" if pg else "n"  # n * 7919 passes 2**31 for a million people
    key = "'p' || " + digits.format(expr=f"({big} * 7919) % 1000000", width=6)
    number = f"'{COUNTY}' || " + digits.format(expr="n", width=12)
    phone = "'139' || " + digits.format(expr="n", width=8)
    village = f"'{TOWNSHIP}' || (200 + n % {VILLAGES})"
    sql = f"""
        INSERT INTO people_person ({PERSON_COLUMNS})
        SELECT {name}, {name}, {key}, substr({key}, 1, 3), 'mainland', {number}, '',
               CASE WHEN n % 2 = 0 THEN 'M' ELSE 'F' END, {birth}, {phone}, '', '',
               {name} || '家', CASE WHEN n % 50 = 0 THEN 'temporary' ELSE 'resident' END, '',
               {village}, {now}, {now}
        FROM ({series}) AS s
    """.replace("n % ", "n %% ").replace(") % ", ") %% ")
    with connection.cursor() as cursor:
        cursor.execute(sql, [count])


def _bulk_insert(table: str, columns: str, rows: list[tuple[Any, ...]]) -> None:
    from django.db import connection

    if connection.vendor == "postgresql":
        raw = connection.connection
        with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join(["%s"] * len(columns.split(",")))
    with connection.cursor() as cursor:
        for offset in range(0, len(rows), 50_000):
            cursor.executemany(
                f"INSERT INTO {table} ({columns}) VALUES ({marks})",
                rows[offset : offset + 50_000],
            )


# The ledger's search indexes (names, pinyin, reversed ID and phone) play no part in what is
# measured; they are dropped for the bulk load and built again after it (a million
# index insertions each cost more than building the index once).
SEARCH_INDEXED = ("name_key", "name_pinyin", "name_initials", "id_reversed", "phone_reversed")


def _search_indexes() -> list[tuple[str, str]]:
    """(name, CREATE statement) of the person search indexes."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'people_person'"
            )
        else:
            cursor.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                "AND tbl_name = 'people_person' AND sql IS NOT NULL"
            )
        found = cursor.fetchall()
    return [(name, sql) for name, sql in found if any(col in sql for col in SEARCH_INDEXED)]


def load(people: int) -> float:
    from django.db import connection, transaction

    from fangkong.people.models import KeyGroup, Person

    started = time.perf_counter()
    indexes = _search_indexes()
    with transaction.atomic():
        with connection.cursor() as cursor:
            for name, _sql in indexes:
                cursor.execute(f'DROP INDEX "{name}"')
        _regions()
        _insert_people(people)
        groups = dict(KeyGroup.objects.values_list("code", "pk"))
        ids = list(Person.objects.order_by("pk").values_list("pk", "region_code"))
        now = dt.datetime.now(dt.UTC)
        stamp = now if connection.vendor == "postgresql" else now.isoformat()
        tags = [
            (pk, groups["bedridden" if n % 200 == 0 else "elderly_alone"], region, "", stamp, stamp)
            for n, (pk, region) in enumerate(ids)
            if n % 100 == 0
        ]
        _bulk_insert(
            "people_persontag",
            "person_id, group_id, region_code, note, created_at, updated_at",
            tags,
        )
    with connection.cursor() as cursor:
        # After the commit: PostgreSQL builds no index over pending foreign-key checks.
        for _name, sql in indexes:
            cursor.execute(sql)
        cursor.execute("ANALYZE")
    return time.perf_counter() - started


def start_round() -> tuple[Any, float]:
    from django.utils import timezone

    from fangkong.screening.actions.rounds import ZoneInput, create_round, start_sampling

    now = timezone.now()
    zones = [ZoneInput(TOWNSHIP, 10, "防范区")]
    zones += [ZoneInput(village_code(n), 1, "封控区") for n in range(SEALED_VILLAGES)]
    planned = create_round(
        actor=None,
        name="第9轮全员核酸",
        starts_at=now - dt.timedelta(hours=2),
        ends_at=now + dt.timedelta(hours=3),
        zones=zones,
    )
    started = time.perf_counter()
    round_ = start_sampling(actor=None, round_=planned)
    return round_, time.perf_counter() - started


def mark_sampled(round_: Any) -> float:
    """60% of every village's targets sampled over the last two hours (as the scan leaves
    them). People are dealt to villages by id modulo 50, so the share is taken on the id
    divided by 50 (the position within the village)."""
    from django.db import connection

    pg = connection.vendor == "postgresql"
    when = (
        "now() - (person_id %% 7200) * interval '1 second'"
        if pg
        else "datetime('now', '-' || (person_id %% 7200) || ' seconds')"
    )
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE screening_roundtarget SET first_sampled_at = {when} "
            "WHERE round_id = %s AND (person_id / %s) %% 10 < %s",
            [round_.pk, VILLAGES, int(SAMPLED_SHARE * 10)],
        )
        cursor.execute("ANALYZE")
    return time.perf_counter() - started


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def measure(run: Callable[[], int], runs: int) -> tuple[float, float, int]:
    times, size = [], 0
    run()  # warm: the first read pays for cold pages and Django's query compilation
    for _ in range(runs):
        started = time.perf_counter()
        size = run()
        times.append((time.perf_counter() - started) * 1000)
    p50, p95 = _percentiles(times)
    return p50, p95, size


def _user(name: str, role: str, region: str) -> Any:
    from fangkong.accounts.models import RoleAssignment, User

    user = User.objects.create_user(username=name, password="x" * 12)
    RoleAssignment.objects.create(user=user, role=role, region_code=region)
    return user


def bench(backend: str, people: int, runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as workdir:
        setup_django(backend, workdir, PG_URL)
        seconds = load(people)
        print(f"{backend}: {people:,} people in {VILLAGES} villages loaded in {seconds:.1f} s")
        round_, start_seconds = start_round()
        print(f"  start sampling: {round_.target_count:,} targets taken in {start_seconds:.2f} s")
        marked = mark_sampled(round_)
        print(f"  {SAMPLED_SHARE:.0%} marked sampled in {marked:.1f} s")

        from django.db import connection
        from django.db.models import Count

        from fangkong.core.scoping import forget_cached_scope
        from fangkong.screening.models import RoundTarget
        from fangkong.screening.queries import coverage as queries

        hq = _user("bench_hq", "hq", COUNTY)
        village = village_code(SEALED_VILLAGES + 1)
        cadre = _user("bench_cadre", "village_cadre", village)

        def township() -> int:
            forget_cached_scope(hq)  # as in a request: the role assignments are read too
            result = queries.coverage(hq, round_)
            assert result.total.target == round_.target_count
            return len(result.rows)

        def one_village() -> int:
            forget_cached_scope(cadre)
            return len(queries.coverage(cadre, round_).rows)

        def missing() -> int:
            forget_cached_scope(cadre)
            rows, _total = queries.missing_rows(cadre, round_, village)
            return len(rows)

        def bare_count() -> int:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM screening_roundtarget WHERE round_id = %s", [round_.pk]
                )
                return int(cursor.fetchone()[0])

        def plain_group_by() -> int:
            rows = (
                RoundTarget.objects.filter(round=round_)
                .values_list("region_code")
                .annotate(n=Count("pk"), s=Count("first_sampled_at"))
                .order_by()
            )
            return len(list(rows))

        results: dict[str, Any] = {"backend": backend, "targets": round_.target_count}
        for label, run in [
            ("coverage, township (HQ)", township),
            ("coverage, one village (cadre)", one_village),
            ("missing list, one village", missing),
            ("baseline: bare count(*)", bare_count),
            ("baseline: plain GROUP BY", plain_group_by),
        ]:
            p50, p95, size = measure(run, runs)
            results[label] = (p50, p95)
            print(f"  {label:32} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  ({size:,} rows)")
        cov50 = results["coverage, township (HQ)"][0]
        base50 = results["baseline: bare count(*)"][0]
        print(f"  coverage / bare count(*): {cov50 / base50:4.2f}x   target: coverage < 500 ms")
        results["start_seconds"] = start_seconds
        if backend == "postgresql":
            from django.db import connections

            connections.close_all()
            from common import pg_admin

            pg_admin(PG_URL, "DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        return results


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=PEOPLE)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args(argv if argv is not None else [])
    backends = ["postgresql", "sqlite"] if args.backend == "both" else [args.backend]
    results = []
    for backend in backends:
        if backend == "postgresql":
            from common import postgres_available

            if not postgres_available(PG_URL):
                continue
        # Django is set up once per process: the second backend runs in a child process.
        if "django" in sys.modules and backend != backends[0]:
            import subprocess

            subprocess.run(
                [sys.executable, __file__, "--backend", backend,
                 "--people", str(args.people), "--runs", str(args.runs)],
                check=True,
            )  # fmt: skip
            continue
        results.append(bench(backend, args.people, args.runs))
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
