"""people search: the one search box over 1,000,000 persons, per query kind, p50 and p95.

Each kind (name prefix, full pinyin, initials, phone tail, ID tail, full phone, full ID) runs
``people.queries.search_persons`` as a township officer and as an unrestricted user (scope
range + indexed key range, 50 results with region names). The baseline in the same run is
the naive search: ``icontains`` on name, phone and ID number over the same table (a full
scan per query). The 1,000,000 rows go in with executemany, not the ORM.

    .venv/bin/python bench/people_search.py [--rows N] [--queries N] [--backend sqlite|postgresql]

Target (issue 3): p95 under 100 ms on SQLite.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import setup_django  # noqa: E402  (bench/common.py)

PG_URL = os.environ.get(
    "FANGKONG_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/fangkong_bench_people"
)
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董程曹袁邓许傅沈曾彭吕蒋苏魏"
GIVEN = "伟强磊军勇杰涛明超刚建国志兵鹏辉东海波斌宇浩凯健俊峰亮芳娜秀英敏静丽艳娟霞兰桂玉红燕萍玲"
BATCH = 20_000


def village_codes(count: int = 1000) -> list[str]:
    """count villages: 10 counties x 10 townships x 10 villages under 4105."""
    codes = []
    for county in range(10):
        for town in range(10):
            for village in range(count // 100):
                codes.append(f"41052{county}{100 + town:03d}{200 + village:03d}")
    return codes


def _id_number(rng: random.Random, area: str, birth: dt.date, seq: int) -> str:
    from stdnum.cn import ric

    body = f"{area}{birth:%Y%m%d}{seq:03d}"
    return body + ric.calc_check_digit(body + "0")


def generate(rows: int, seed: int = 1) -> Iterator[tuple[Any, ...]]:
    from fangkong.people.names import name_keys

    rng = random.Random(seed)
    villages = village_codes()
    now = dt.datetime.now(dt.UTC).isoformat()
    start = dt.date(1930, 1, 1).toordinal()
    for _ in range(rows):
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
        key, pinyin, initials = name_keys(name)
        village = rng.choice(villages)
        birth = dt.date.fromordinal(start + rng.randrange(33_000))
        number = _id_number(rng, village[:6], birth, rng.randrange(1000))
        phone = f"1{rng.choice('3589')}{rng.randrange(10**9):09d}"
        yield (
            village,
            now,
            now,
            name,
            key,
            pinyin,
            initials,
            "mainland",
            number,
            number[::-1],
            "M" if int(number[16]) % 2 else "F",
            birth.isoformat(),
            phone,
            phone[::-1],
            "",
            f"{village}号",
            None,
            "resident",
            "",
            None,
        )


COLUMNS = (
    "region_code, created_at, updated_at, name, name_key, name_pinyin, name_initials, id_type, "
    "id_number, id_reversed, sex, birth_date, phone, phone_reversed, phone_alt, address, "
    "household_id, residence_status, notes, merged_into_id"
)


def load(rows: int) -> float:
    """Insert ``rows`` persons with executemany (duplicate IDs skipped); seconds taken."""
    from django.db import connection, transaction

    placeholders = ", ".join(["%s"] * 20)
    conflict = " ON CONFLICT DO NOTHING"
    sql = f"INSERT INTO people_person ({COLUMNS}) VALUES ({placeholders}){conflict}"
    started = time.perf_counter()
    batch: list[tuple[Any, ...]] = []
    with transaction.atomic(), connection.cursor() as cursor:
        for row in generate(rows):
            batch.append(row)
            if len(batch) == BATCH:
                cursor.executemany(sql, batch)
                batch.clear()
        if batch:
            cursor.executemany(sql, batch)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return time.perf_counter() - started


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return statistics.median(ordered), p95


def sample_queries(count: int) -> dict[str, list[str]]:
    from fangkong.people.models import Person

    rng = random.Random(2)
    total = Person.objects.count()
    picks = []
    for _ in range(count):
        offset = rng.randrange(total)
        picks.append(
            Person.objects.order_by("id").values(
                "name", "name_pinyin", "name_initials", "phone", "id_number"
            )[offset]
        )
    return {
        "name": [p["name"][:2] for p in picks],
        "pinyin": [p["name_pinyin"] for p in picks],
        "initials": [p["name_initials"] for p in picks],
        "phone tail (4)": [p["phone"][-4:] for p in picks],
        "ID tail (6)": [p["id_number"][-6:] for p in picks],
        "phone (11)": [p["phone"] for p in picks],
        "ID (18)": [p["id_number"] for p in picks],
    }


def measure(run: Callable[[str], int], queries: list[str]) -> tuple[float, float, float]:
    times = []
    found = 0
    for text in queries:
        started = time.perf_counter()
        found += run(text)
        times.append((time.perf_counter() - started) * 1000)
    p50, p95 = _percentiles(times)
    return p50, p95, found / len(queries)


def users() -> dict[str, Any]:
    from fangkong.accounts.models import RoleAssignment, User

    hq = User.objects.create_user(username="bench_hq", password="x" * 12, is_superuser=True)
    officer = User.objects.create_user(username="bench_town", password="x" * 12)
    RoleAssignment.objects.create(user=officer, role="township_officer", region_code="410520100")
    return {"all (unrestricted)": hq, "one township": officer}


def naive(user: Any) -> Callable[[str], int]:
    from django.db.models import Q

    from fangkong.accounts.roles import Perm
    from fangkong.core.scoping import restrict
    from fangkong.people.models import Person

    def run(text: str) -> int:
        qs = restrict(Person.objects.all(), user, Perm.VIEW_PEOPLE).filter(
            Q(name__icontains=text) | Q(phone__icontains=text) | Q(id_number__icontains=text)
        )
        return len(list(qs.order_by("name_key", "id")[:50]))

    return run


def indexed(user: Any) -> Callable[[str], int]:
    from fangkong.people.queries import search_persons

    def run(text: str) -> int:
        return len(list(search_persons(user, text)))

    return run


def bench(backend: str, rows: int, count: int, baseline_count: int) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as workdir:
        setup_django(backend, workdir, PG_URL)
        seconds = load(rows)
        from fangkong.people.models import Person

        stored = Person.objects.count()
        print(f"{backend}: {stored:,} persons loaded in {seconds:.1f} s (executemany)")
        kinds = sample_queries(count)
        results = []
        for scope, user in users().items():
            for kind, texts in kinds.items():
                p50, p95, hits = measure(indexed(user), texts)
                b50, b95, _hits = measure(naive(user), texts[:baseline_count])
                results.append(
                    dict(
                        backend=backend,
                        scope=scope,
                        kind=kind,
                        p50=p50,
                        p95=p95,
                        hits=hits,
                        naive_p50=b50,
                        naive_p95=b95,
                    )
                )
                print(
                    f"  {scope:<20} {kind:<15} p50 {p50:7.2f} ms  p95 {p95:7.2f} ms  "
                    f"({hits:5.1f} results)   naive icontains p50 {b50:8.1f} ms  p95 {b95:8.1f} ms"
                )
        if backend == "postgresql":
            from django.db import connections

            connections.close_all()
        return results


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--baseline-queries", type=int, default=10)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args(argv if argv is not None else [])
    return bench(args.backend, args.rows, args.queries, args.baseline_queries)


if __name__ == "__main__":
    main(sys.argv[1:])
