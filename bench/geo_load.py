"""geo load: `load_divisions(["all"])` (665,276 regions) against the floor, SQLite and PostgreSQL.

The floor is a bare bulk insert of the same rows, already parsed, into the same freshly
migrated table in one transaction: `executemany` on SQLite, `COPY` on PostgreSQL (the
fastest bulk path each has). The load is the real thing: decompress, parse, derive short
names, write in blocks with progress. Then the load runs again over the loaded table
(idempotent: every row unchanged). Each measurement runs in its own process on a fresh
database (peak memory is that process's ru_maxrss); figures are medians of --repeat runs.

    .venv/bin/python bench/geo_load.py [--repeat N] [--backend sqlite|postgresql]

PostgreSQL is 127.0.0.1:5432 user postgres (FANGKONG_BENCH_PG_URL overrides); the
database fangkong_bench is created and dropped. Target: load within 2x of the floor.
"""

from __future__ import annotations

import argparse
import json
import os
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
    "FANGKONG_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/fangkong_bench"
)
TARGET_RATIO = 2.0


# --- worker side (runs in a subprocess) ------------------------------------------------


def _worker(kind: str) -> dict[str, Any]:
    import django

    django.setup()
    from django.db import connection, transaction

    from fangkong.geo.divisions import load_divisions

    connection.ensure_connection()
    if kind in {"load", "reload"}:
        baseline = peak_rss_mb()
        started = time.perf_counter()
        result = load_divisions(["all"])
        seconds = time.perf_counter() - started
        return {
            "seconds": seconds,
            "rss_mb": peak_rss_mb(),
            "baseline_mb": baseline,
            **result.as_dict(),
        }

    from fangkong.geo.divisions import iter_rows, select

    rows = list(iter_rows(select(["all"])))  # parsed before the clock starts
    baseline = peak_rss_mb()
    sql = "INSERT INTO geo_region (code, name, short_name, level, parent_id) VALUES (?, ?, ?, ?, ?)"
    started = time.perf_counter()
    with transaction.atomic():
        cursor = connection.connection.cursor()
        if connection.vendor == "postgresql":
            with cursor.copy(
                "COPY geo_region (code, name, short_name, level, parent_id) FROM STDIN"
            ) as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            cursor.executemany(sql, rows)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rss_mb": peak_rss_mb(), "baseline_mb": baseline, "rows": len(rows)}


# --- driver side ----------------------------------------------------------------------


def _env(database_url: str, data_dir: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FANGKONG_TEST")}
    env.update(
        DJANGO_SETTINGS_MODULE="fangkong.settings",
        FANGKONG_DATABASE_URL=database_url,
        FANGKONG_DATA_DIR=data_dir,
        FANGKONG_LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT / "src"),
    )
    return env


def _fresh_database(backend: str, workdir: str) -> str:
    """A new empty database with the schema; returns its URL."""
    if backend == "sqlite":
        path = Path(workdir) / f"bench-{time.monotonic_ns()}.sqlite3"
        url = f"sqlite:///{path}"
    else:
        pg_admin(PG_URL, "DROP DATABASE IF EXISTS {db} WITH (FORCE)", "CREATE DATABASE {db}")
        url = PG_URL
    subprocess.run(
        [sys.executable, "-m", "django", "migrate", "-v0"],
        env=_env(url, workdir),
        check=True,
        cwd=ROOT,
    )
    return url


def _run(kind: str, url: str, workdir: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--worker", kind],
        env=_env(url, workdir),
        check=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_backend(backend: str, repeat: int) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {"load": [], "reload": [], "floor": []}
    with tempfile.TemporaryDirectory(prefix="fangkong-bench-") as workdir:
        for i in range(repeat):
            # Alternate the order so drift on a shared machine hits both sides alike.
            order = ["floor", "load"] if i % 2 == 0 else ["load", "floor"]
            for kind in order:
                url = _fresh_database(backend, workdir)
                runs[kind].append(_run(kind, url, workdir))
                if kind == "load":
                    runs["reload"].append(_run("reload", url, workdir))
        if backend == "postgresql":
            pg_admin(PG_URL, "DROP DATABASE IF EXISTS {db} WITH (FORCE)")

    def median(kind: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[kind])

    def each(kind: str) -> str:
        return ", ".join(f"{r['seconds']:.2f}" for r in runs[kind])

    load, reload = median("load", "seconds"), median("reload", "seconds")
    floor = median("floor", "seconds")
    first, again = runs["load"][-1], runs["reload"][-1]
    print(f"{backend:<10} floor (bare bulk insert) {floor:6.2f} s   [{each('floor')}]")
    print(
        f"{backend:<10} load all                 {load:6.2f} s   ratio {load / floor:.2f}   "
        f"[{each('load')}]   "
        f"created {first['created']}, updated {first['updated']}, unchanged {first['unchanged']}"
    )
    print(
        f"{backend:<10} load all again           {reload:6.2f} s   ratio {reload / floor:.2f}   "
        f"[{each('reload')}]   "
        f"created {again['created']}, updated {again['updated']}, unchanged {again['unchanged']}"
    )
    print(
        f"{backend:<10} peak RSS: load {median('load', 'rss_mb'):.0f} MB "
        f"(process before loading {median('load', 'baseline_mb'):.0f} MB), "
        f"floor {median('floor', 'rss_mb'):.0f} MB (rows held in memory)"
    )
    verdict = "within" if load / floor <= TARGET_RATIO else "MISSES"
    print(f"{backend:<10} {verdict} the {TARGET_RATIO:.0f}x target")
    return {"backend": backend, "floor": floor, "load": load, "reload": reload, "runs": runs}


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=int(os.environ.get("BENCH_REPEAT", 3)))
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], action="append")
    parser.add_argument("--worker", choices=["load", "reload", "floor"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv if argv is not None else [])
    if args.worker:
        print(json.dumps(_worker(args.worker)))
        return []
    backends = args.backend or ["sqlite", "postgresql"]
    results = []
    for backend in backends:
        if backend == "postgresql" and not postgres_available(PG_URL):
            continue
        results.append(bench_backend(backend, max(1, args.repeat)))
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
