"""people export: the person list of 1,000,000 rows to csv and xlsx, time and peak memory.

The rows go in with executemany (as in people_search); then each export runs in its own
process over that database through the real code path (the export view's columns and
``core.exports.export_response``), consuming the streamed body, and reports its time and
the growth of its peak RSS. The floor in the same run is a bare ``values_list`` iteration
over the same rows (the database read alone). Memory must stay flat: under 200 MB.

    .venv/bin/python bench/people_export.py [--rows N] [--backend sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import people_search  # noqa: E402
from common import peak_rss_mb  # noqa: E402  (bench/common.py)


def _worker(kind: str) -> dict[str, Any]:
    import django

    sys.path.insert(0, str(people_search.ROOT / "src"))
    django.setup()
    from django.db import connection

    from fangkong.accounts.models import User
    from fangkong.people import queries
    from fangkong.people.models import Person
    from fangkong.people.views import export_columns

    connection.ensure_connection()
    user = User.objects.get(username="bench_hq")
    before = peak_rss_mb()
    started = time.perf_counter()
    size = 0
    if kind == "floor":
        for row in (
            Person.objects.order_by("region_code", "name_pinyin", "id")
            .values_list(
                "name",
                "sex",
                "birth_date",
                "id_type",
                "id_number",
                "phone",
                "address",
                "region_code",
                "residence_status",
                "notes",
            )
            .iterator(chunk_size=2000)
        ):
            size += len(row)
    else:
        from fangkong.core.exports import Export, export_response

        export = Export(
            user=user,
            queryset=queries.visible_persons(user, "core.export").order_by(
                "region_code", "name_pinyin", "id"
            ),
            columns=export_columns(unmasked=False),
            object_type="people.person",
            filename="people",
        )
        response = export_response(export, kind)
        for chunk in response.streaming_content:  # type: ignore[attr-defined]
            size += len(chunk)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rss_before": before, "rss_peak": peak_rss_mb(), "bytes": size}


def run(kind: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", kind],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench(backend: str, rows: int) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as workdir:
        people_search.setup_django(backend, workdir)
        seconds = people_search.load(rows)
        people_search.users()
        from django.db import connections

        from fangkong.people.models import Person

        print(f"{backend}: {Person.objects.count():,} persons loaded in {seconds:.1f} s")
        connections.close_all()
        results = []
        for kind in ("floor", "csv", "xlsx"):
            result = run(kind)
            result.update(backend=backend, kind=kind)
            results.append(result)
            print(
                f"  {kind:<6} {result['seconds']:6.1f} s   peak RSS {result['rss_peak']:6.0f} MB"
                f" ({result['rss_before']:.0f} MB at start)   {result['bytes'] / 1e6:.0f} MB"
            )
        return results


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--worker")
    args = parser.parse_args(argv if argv is not None else [])
    if args.worker:
        print(json.dumps(_worker(args.worker)))
        return []
    return bench(args.backend, args.rows)


if __name__ == "__main__":
    main(sys.argv[1:])
