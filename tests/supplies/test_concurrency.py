"""32 concurrent writers on one small ledger: threads and processes, SQLite and PostgreSQL.

Each writer receives, issues, transfers and reverses the same few items between three
locations, starting from an empty ledger (so the first postings for every key race),
and tries to over-issue on purpose. Afterwards:

- no balance is negative and ``verify`` finds no difference (balance = sum of movements);
- the balances equal what the successful operations add up to (no lost update);
- every refused posting was ``InsufficientStock``: no lock, deadlock or other database
  error reached a caller (``retry.with_retry`` absorbed them);
- every over-issue of 10^9 was refused.

The writers run in a driver subprocess (``main`` below) against a real database: on
SQLite a file copied from a migrated template (the test database is in memory, which
other processes cannot open and where threads share one cache), on PostgreSQL the
session's test database itself (``transaction=True`` commits, then flushes it).
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
WRITERS = 32
OPS_PER_WRITER = 10
HUGE = 10**9


# ------------------------------------------------------------------ driver (subprocess)


def _setup() -> dict[str, Any]:
    from fangkong.geo.models import Site
    from fangkong.supplies.keys import location_for_site
    from fangkong.supplies.models import Item

    locations = [
        location_for_site(Site.objects.create(name=name, kind="warehouse", region_code=code))
        for name, code in (
            ("伏道镇防疫物资库", "410523106"),
            ("伏道二街村物资点", "410523106201"),
            ("侯庄村物资点", "410523106202"),
        )
    ]
    items = [
        Item.objects.create(code="FHF", name="医用防护服", category="protective", base_unit="套"),
        Item.objects.create(code="N95", name="N95口罩", category="protective", base_unit="个"),
        Item.objects.create(
            code="CYG", name="采样管", category="testing", base_unit="支", tracks_lots=True
        ),
    ]
    return {"locations": [loc.pk for loc in locations], "items": [i.pk for i in items]}


def _writer(seed: int, ids: dict[str, Any], start: Any) -> dict[str, Any]:
    """One writer's operations; returns its net effect per key and what was refused."""
    from django.db import connections

    from fangkong.supplies.actions.documents import LineInput, post_stock_document, reverse_document
    from fangkong.supplies.keys import default_lot, lot_for
    from fangkong.supplies.ledger import InsufficientStock
    from fangkong.supplies.models import Item, Location

    rng = random.Random(seed)
    locations = list(Location.objects.filter(pk__in=ids["locations"]).order_by("pk"))
    items = list(Item.objects.filter(pk__in=ids["items"]).order_by("pk"))
    net: Counter[str] = Counter()
    outcome: Counter[str] = Counter()
    errors: list[str] = []
    posted: list[tuple[Any, dict[str, int]]] = []
    start.wait()
    for n in range(OPS_PER_WRITER):
        item = rng.choice(items)
        lot = lot_for(item, rng.choice(["T1", "T2"])) if item.tracks_lots else default_lot(item)
        a, b = rng.sample(locations, 2)
        quantity = rng.randint(1, 40)
        choice = rng.random()
        # The first operations receive (every writer races for the first postings of
        # each key); then a mix, with a deliberate over-issue now and then.
        kind = (
            "receipt"
            if n < 3
            else ("issue", "transfer", "receipt", "huge", "reverse")[min(4, int(choice * 5.5))]
        )
        line = [LineInput(item=item, lot=lot, quantity=HUGE if kind == "huge" else quantity)]
        effect: dict[str, int] = {}
        try:
            if kind == "receipt":
                document = post_stock_document(
                    kind="receipt", actor=None, destination=a, receipt_source="purchase", lines=line
                )
                effect = {f"{a.pk}/{lot.pk}": quantity}
            elif kind in ("issue", "huge"):
                document = post_stock_document(
                    kind="issue", actor=None, source=a, recipient_kind="other",
                    recipient_name="村民", lines=line,
                )  # fmt: skip
                effect = {f"{a.pk}/{lot.pk}": -line[0].quantity}
            elif kind == "transfer":
                document = post_stock_document(
                    kind="transfer", actor=None, source=a, destination=b, lines=line
                )
                effect = {f"{a.pk}/{lot.pk}": -quantity, f"{b.pk}/{lot.pk}": quantity}
            else:
                if not posted:
                    continue
                original, original_effect = posted.pop(rng.randrange(len(posted)))
                document = reverse_document(original, actor=None, note="录错")
                effect = {key: -value for key, value in original_effect.items()}
            net.update(effect)
            outcome[f"{kind} ok"] += 1
            if kind != "reverse":
                posted.append((document, effect))
        except InsufficientStock:
            outcome[f"{kind} refused"] += 1
        except Exception as exc:  # what must never happen: any other error
            errors.append(f"{kind}: {type(exc).__module__}.{type(exc).__name__}: {exc}")
    connections.close_all()
    return {"net": dict(net), "outcome": dict(outcome), "errors": errors}


def _run_threads(ids: dict[str, Any]) -> list[dict[str, Any]]:
    start = threading.Barrier(WRITERS)
    results: list[dict[str, Any]] = [{} for _ in range(WRITERS)]

    def target(seed: int) -> None:
        try:
            results[seed] = _writer(seed, ids, start)
        except Exception as exc:
            results[seed] = {"net": {}, "outcome": {}, "errors": [f"thread: {exc!r}"]}

    threads = [threading.Thread(target=target, args=(seed,)) for seed in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _process_child(seed: int, ids: dict[str, Any], start: Any, out: Any) -> None:
    try:
        out.put(_writer(seed, ids, start))
    except Exception as exc:
        out.put({"net": {}, "outcome": {}, "errors": [f"process: {exc!r}"]})


def _run_processes(ids: dict[str, Any]) -> list[dict[str, Any]]:
    import multiprocessing

    from django.db import connections

    connections.close_all()  # each process opens its own connection
    context = multiprocessing.get_context("fork")
    start = context.Barrier(WRITERS)
    out = context.Queue()
    children = [
        context.Process(target=_process_child, args=(seed, ids, start, out))
        for seed in range(WRITERS)
    ]
    for child in children:
        child.start()
    results = [out.get(timeout=120) for _ in children]
    for child in children:
        child.join()
    return results


def _check(results: list[dict[str, Any]]) -> dict[str, Any]:
    from fangkong.supplies.models import Balance, StockDocument
    from fangkong.supplies.verify import verify_ledger

    expected: Counter[str] = Counter()
    outcome: Counter[str] = Counter()
    errors: list[str] = []
    for result in results:
        expected.update(result["net"])
        outcome.update(result["outcome"])
        errors += result["errors"]
    balances = {
        f"{loc}/{lot}": qty
        for loc, lot, qty in Balance.objects.values_list("location_id", "lot_id", "quantity")
    }
    mismatched = {
        key: (expected.get(key, 0), balances.get(key, 0))
        for key in set(expected) | set(balances)
        if expected.get(key, 0) != balances.get(key, 0)
    }
    verified = verify_ledger()
    return {
        "errors": errors,
        "outcome": dict(outcome),
        "negative": Balance.objects.filter(quantity__lt=0).count(),
        "differences": [str(d) for d in verified.differences],
        "mismatched": mismatched,
        "keys": verified.keys,
        "documents": StockDocument.objects.count(),
    }


def main() -> None:
    """Driver: `python -c "from tests.supplies.test_concurrency import main; main()" MODE`."""
    import django

    django.setup()
    mode = sys.argv[1]
    ids = _setup()
    started = time.monotonic()
    results = _run_threads(ids) if mode == "threads" else _run_processes(ids)
    report = _check(results)
    report["seconds"] = round(time.monotonic() - started, 2)
    print(json.dumps(report, ensure_ascii=False))


# ------------------------------------------------------------------ tests


def _env(database_url: str, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FANGKONG_", "DJANGO_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="fangkong.settings",
        FANGKONG_DATA_DIR=str(data_dir),
        FANGKONG_DATABASE_URL=database_url,
        FANGKONG_SECRET_KEY="test-only-secret",
        FANGKONG_LOG_LEVEL="WARNING",
        PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "src")]),
    )
    return env


@pytest.fixture(scope="module")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, built once per module (and per xdist worker)."""
    data_dir = tmp_path_factory.mktemp("concurrency-template")
    path = data_dir / "template.sqlite3"
    done = subprocess.run(
        [sys.executable, "-m", "django", "migrate", "--verbosity=0"],
        env=_env(f"sqlite:///{path}", data_dir),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    return path


def _database_url(tmp_path: Path, request: pytest.FixtureRequest) -> str:
    from django.db import connection

    settings = connection.settings_dict
    if connection.vendor == "postgresql":
        # The session's test database (named per xdist worker): committed by
        # transaction=True, flushed after the test.
        user = settings["USER"] + (f":{settings['PASSWORD']}" if settings["PASSWORD"] else "")
        host = f"{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}"
        return f"postgresql://{user}@{host}/{settings['NAME']}"
    template = request.getfixturevalue("sqlite_template")
    path = tmp_path / "ledger.sqlite3"
    source, target = sqlite3.connect(template), sqlite3.connect(path)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()
    return f"sqlite:///{path}"


def _drive(mode: str, url: str, tmp_path: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", "from tests.supplies.test_concurrency import main; main()", mode],
        env=_env(url, tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("mode", ["threads", "processes"])
def test_32_concurrent_writers_keep_the_ledger_exact(
    mode: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    report = _drive(mode, _database_url(tmp_path, request), tmp_path)
    outcome = report["outcome"]
    assert report["errors"] == [], report["errors"][:5]
    assert report["negative"] == 0
    assert report["differences"] == []
    assert report["mismatched"] == {}
    # The race for first postings happened (3 receipts each before anything else) and
    # the mix really refused and allowed things.
    assert outcome.get("receipt ok", 0) >= WRITERS * 3
    assert outcome.get("huge refused", 0) > 0 and "huge ok" not in outcome
    assert outcome.get("issue ok", 0) + outcome.get("transfer ok", 0) > 0
    successes = sum(v for k, v in outcome.items() if k.endswith(" ok"))
    assert report["documents"] == successes
