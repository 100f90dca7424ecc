"""supplies stock on hand: 200 items x 50 warehouses (10,000 balance keys) over 1,000,000
ledger rows, for a county-wide user; p50 and p95.

Timed: ``supplies.queries.stock_on_hand`` (what the supplies home page, its API and its
export run: balances summed in SQL, minimum levels, packs, every line formatted in units
and packs), and ``supplies.queries.daily_report`` for yesterday (first run takes the two
missing snapshots on demand; later runs read snapshots and the day's movements only).
The baseline in the same run computes the same stock on hand by summing the ledger
(``SELECT location_id, item_id, SUM(quantity) FROM supplies_movement ... GROUP BY``).

The data goes in with bulk SQL (executemany on SQLite, COPY on PostgreSQL), not through
the ledger action: 50 sites and locations, 200 items with a pack and a lot each, 99,050
documents, 1,000,000 movements over the last 60 days and the matching balances.

    .venv/bin/python bench/supplies_stock_on_hand.py [--movements N] [--runs N]
        [--backend sqlite|postgresql|both]

Target (issue 4): stock on hand under 200 ms.
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
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import setup_django  # noqa: E402  (bench/common.py)

PG_URL = os.environ.get(
    "FANGKONG_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/fangkong_bench_stock"
)
ITEMS = 200
WAREHOUSES = 50
LINES_PER_DOCUMENT = 10
DAYS = 60
COUNTY = "410522"


def _catalogue() -> tuple[list[Any], list[Any], dict[int, int]]:
    """50 warehouses in 10 townships of one county, 200 items with a pack and a lot."""
    from django.utils import timezone

    from fangkong.geo.models import Site
    from fangkong.supplies.models import Item, Location, Lot, Pack

    sites = Site.objects.bulk_create(
        Site(
            name=f"物资库{n:02d}",
            kind="warehouse",
            region_code=f"{COUNTY}{100 + n // 5:03d}{200 + n % 5:03d}",
        )
        for n in range(WAREHOUSES)
    )
    locations = Location.objects.bulk_create(
        Location(kind="site", name=s.name, site=s, region_code=s.region_code) for s in sites
    )
    items = Item.objects.bulk_create(
        Item(code=f"W{n:03d}", name=f"物资{n:03d}", category="protective", base_unit="个")
        for n in range(ITEMS)
    )
    Pack.objects.bulk_create(Pack(item=item, name="箱", size=50) for item in items)
    today = timezone.localdate()
    lots = Lot.objects.bulk_create(
        Lot(item=item, code="", expiry_date=today + dt.timedelta(days=n) if n < 20 else None)
        for n, item in enumerate(items)
    )
    return locations, items, {lot.item_id: lot.pk for lot in lots}


def _documents(
    count: int, locations: list[Any], items: list[Any], lot_of: dict[int, int], seed: int = 1
) -> Iterator[tuple[tuple[Any, ...], list[tuple[int, int, int, int]]]]:
    """(document row, [(location, item, lot, quantity)]) oldest first.

    First one receipt per warehouse holding every item (100,000 each), then documents of
    10 lines spread evenly over the last 60 days: receipts (+) and issues (-) of up to
    500, which can never take a balance below zero.
    """
    from django.utils import timezone

    rng = random.Random(seed)
    now = timezone.now().replace(microsecond=0)
    start = now - dt.timedelta(days=DAYS)
    for location in locations:
        yield (
            ("receipt", None, location.pk, start - dt.timedelta(days=1), location.region_code),
            [(location.pk, item.pk, lot_of[item.pk], 100_000) for item in items],
        )
    span = (now - start).total_seconds() - 3600
    for n in range(count):
        location = rng.choice(locations)
        at = start + dt.timedelta(seconds=int(span * n / count))
        kind = "receipt" if rng.random() < 0.5 else "issue"
        sign = 1 if kind == "receipt" else -1
        lines = [
            (location.pk, item.pk, lot_of[item.pk], sign * rng.randint(1, 500))
            for item in rng.sample(items, LINES_PER_DOCUMENT)
        ]
        source = location.pk if kind == "issue" else None
        destination = location.pk if kind == "receipt" else None
        yield ((kind, source, destination, at, location.region_code), lines)


DOC_COLUMNS = (
    "number, kind, status, counterpart_region_code, source_id, destination_id, effective_at, "
    "posted_at, receipt_source, supplier, recipient_kind, recipient_name, reason, note, "
    "region_code, created_at, updated_at"
)
MOVE_COLUMNS = (
    "document_id, location_id, item_id, lot_id, quantity, effective_at, recorded_at, region_code"
)


def load(movements: int) -> tuple[float, int]:
    """Generate and insert; returns (seconds, ledger rows)."""
    from django.db import connection, transaction

    from fangkong.supplies.models import Balance, MinimumLevel

    started = time.perf_counter()
    locations, items, lot_of = _catalogue()
    pg = connection.vendor == "postgresql"
    ops = connection.ops

    def when(value: dt.datetime) -> Any:
        return value if pg else ops.adapt_datetimefield_value(value)

    documents = (movements - WAREHOUSES * ITEMS) // LINES_PER_DOCUMENT
    doc_rows: list[tuple[Any, ...]] = []
    move_rows: list[tuple[Any, ...]] = []
    balances: dict[tuple[int, int, int], int] = defaultdict(int)
    for doc_id, (doc, lines) in enumerate(_documents(documents, locations, items, lot_of), 1):
        kind, source, destination, at, region = doc
        stamp = when(at)
        doc_rows.append(
            (f"{'RK' if kind == 'receipt' else 'CK'}B{doc_id:08d}", kind, "posted", "", source,
             destination, stamp, stamp, "purchase" if kind == "receipt" else "", "",
             "other" if kind == "issue" else "", "", "", "", region, stamp, stamp)
        )  # fmt: skip
        for location_id, item_id, lot_id, quantity in lines:
            move_rows.append((doc_id, location_id, item_id, lot_id, quantity, stamp, stamp, region))
            balances[(location_id, item_id, lot_id)] += quantity
    region_of = {loc.pk: loc.region_code for loc in locations}
    now = when(dt.datetime.now(dt.UTC))
    balance_rows = [
        (loc, item, lot, qty, region_of[loc], now) for (loc, item, lot), qty in balances.items()
    ]
    with transaction.atomic():
        _bulk_insert("supplies_stockdocument", "id, " + DOC_COLUMNS,
                     [(i, *row) for i, row in enumerate(doc_rows, 1)])  # fmt: skip
        _bulk_insert("supplies_movement", MOVE_COLUMNS, move_rows)
        _bulk_insert(
            "supplies_balance",
            "location_id, item_id, lot_id, quantity, region_code, updated_at",
            balance_rows,
        )
        if pg:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT setval(pg_get_serial_sequence('supplies_stockdocument', 'id'), %s)",
                    [len(doc_rows)],
                )
        rng = random.Random(3)
        keys = rng.sample([(loc, item) for loc in locations for item in items], 500)
        MinimumLevel.objects.bulk_create(
            MinimumLevel(
                location=loc,
                item=item,
                quantity=rng.randint(50_000, 120_000),
                region_code=loc.region_code,
            )
            for loc, item in keys
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    assert Balance.objects.count() == WAREHOUSES * ITEMS
    return time.perf_counter() - started, len(move_rows)


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


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def measure(run: Callable[[], int], runs: int) -> tuple[float, float, int]:
    times, size = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        size = run()
        times.append((time.perf_counter() - started) * 1000)
    p50, p95 = _percentiles(times)
    return p50, p95, size


def county_user() -> Any:
    from fangkong.accounts.models import RoleAssignment, User

    user = User.objects.create_user(username="bench_county", password="x" * 12)
    RoleAssignment.objects.create(user=user, role="hq", region_code=COUNTY)
    return user


def bench(backend: str, movements: int, runs: int, baseline_runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as workdir:
        setup_django(backend, workdir, PG_URL)
        seconds, rows = load(movements)
        print(
            f"{backend}: {rows:,} ledger rows, {WAREHOUSES * ITEMS:,} balances in {seconds:.1f} s"
        )
        from django.db.models import Sum
        from django.utils import timezone

        from fangkong.core.scoping import forget_cached_scope
        from fangkong.supplies import alerts, queries

        user = county_user()

        def on_hand() -> int:
            forget_cached_scope(user)  # as in a request: the role assignments are read too
            return len(queries.stock_on_hand(user).lines)

        def from_ledger() -> int:
            forget_cached_scope(user)
            sums = (
                queries.visible_movements(user)
                .values("location_id", "item_id")
                .annotate(total=Sum("quantity"))
                .values_list("location_id", "item_id", "total")
                .order_by()
            )
            return len(list(sums))

        yesterday = timezone.localdate() - dt.timedelta(days=1)

        def daily() -> int:
            forget_cached_scope(user)
            return len(queries.daily_report(user, yesterday).lines)

        def alert_list() -> int:
            forget_cached_scope(user)
            return alerts.stock_alerts(user).count

        p50, p95, keys = measure(on_hand, runs)
        b50, b95, base_keys = measure(from_ledger, baseline_runs)
        assert keys == base_keys == WAREHOUSES * ITEMS, (keys, base_keys)
        print(
            f"  stock on hand (county, {keys:,} lines)    p50 {p50:7.1f} ms  p95 {p95:7.1f} ms"
            f"   summing the ledger p50 {b50:8.1f} ms  p95 {b95:8.1f} ms   ratio {b50 / p50:5.1f}x"
        )
        first, _p, lines = measure(daily, 1)
        d50, d95, lines = measure(daily, runs)
        print(
            f"  daily report (yesterday, {lines:,} lines)    p50 {d50:7.1f} ms  p95 {d95:7.1f} ms"
            f"   first run, taking 2 snapshots: {first:.1f} ms"
        )
        a50, a95, count = measure(alert_list, runs)
        print(f"  alerts ({count} found)                   p50 {a50:7.1f} ms  p95 {a95:7.1f} ms")
        if backend == "postgresql":
            from django.db import connections

            connections.close_all()
        return dict(backend=backend, p50=p50, p95=p95, baseline_p50=b50, daily_p50=d50)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--movements", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--baseline-runs", type=int, default=5)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args(argv if argv is not None else [])
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results = []
    for backend in backends:
        if backend == "postgresql":
            from common import postgres_available

            if not postgres_available(PG_URL):
                continue
            # Django is set up once per process: PostgreSQL runs in a child process.
            if "django" in sys.modules and backend != backends[0]:
                import subprocess

                subprocess.run(
                    [sys.executable, __file__, "--backend", "postgresql",
                     "--movements", str(args.movements), "--runs", str(args.runs),
                     "--baseline-runs", str(args.baseline_runs)],
                    check=True,
                )  # fmt: skip
                continue
        results.append(bench(backend, args.movements, args.runs, args.baseline_runs))
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
