"""Samplers scanning at the same moment, with threads, on SQLite and PostgreSQL.

- 16 threads scan 32 different people into one tube of 10: exactly 10 get in, the tube
  closes itself, nobody overfills it (the guarded UPDATE decides);
- 8 threads scan one person into 8 different open tubes: exactly one gets them (the
  person lock on PostgreSQL, the writer lock on SQLite), the rest say "in another tube";
- 8 threads scan one person into one tube: one sample, the rest "already in this tube";
- two households race for an empty household tube: it ends up holding one household.

No thread may see an exception. The threads run in a driver subprocess (``main``) against
a real database: on SQLite a file copied from a migrated template (the test database is
in memory), on PostgreSQL the session's test database (``transaction=True`` commits, then
flushes it).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
THREADS = 16


def _setup() -> dict[str, Any]:
    import datetime as dt

    from django.utils import timezone

    from fangkong.core.regioncodes import level_of, parent_code
    from fangkong.geo.models import Region, Site
    from fangkong.people import actions as people_actions
    from fangkong.screening.actions.rounds import ZoneInput, create_round, start_sampling
    from fangkong.screening.actions.sampling import open_tube
    from tests.conftest import JIANGTAITUN, REGION_ROWS
    from tests.people.conftest import make_id

    for code, name, short in REGION_ROWS:
        Region.objects.create(
            code=code, name=name, short_name=short, level=int(level_of(code)),
            parent_id=parent_code(code),
        )  # fmt: skip
    site = Site.objects.create(name="采样点", kind="testing_site", region_code=JIANGTAITUN)
    now = timezone.now()
    round_ = create_round(
        actor=None, name="第1轮", starts_at=now - dt.timedelta(hours=1),
        ends_at=now + dt.timedelta(hours=4), zones=[ZoneInput(JIANGTAITUN, 10)],
    )  # fmt: skip
    people = [
        people_actions.create_person(
            actor=None,
            name=f"村民{i}",
            id_type="mainland",
            id_number=make_id(f"19{60 + i // 10}0{1 + i % 9}01", f"{100 + i:03d}"),
            region_code=JIANGTAITUN,
        )
        for i in range(40)
    ]
    round_ = start_sampling(actor=None, round_=round_)
    open_tube(actor=None, round_=round_, site=site, barcode="RACE", capacity=10)
    for n in range(8):
        open_tube(actor=None, round_=round_, site=site, barcode=f"P{n}")
    open_tube(actor=None, round_=round_, site=site, barcode="SAME")
    open_tube(actor=None, round_=round_, site=site, barcode="HOME", capacity=0)
    first, second = people[34], people[37]
    home_a = people_actions.create_household(actor=None, head=first)
    home_b = people_actions.create_household(actor=None, head=second)
    for member in people[35:37]:
        people_actions.set_household(actor=None, person=member, household=home_a)
    for member in people[38:40]:
        people_actions.set_household(actor=None, person=member, household=home_b)
    return {"ids": [p.id_number for p in people], "homes": [home_a.pk, home_b.pk]}


def _race(jobs: list[list[tuple[str, str]]]) -> tuple[Counter[str], list[str]]:
    """Each job (a list of (tube, person code)) in its own thread, all started together."""
    from django.db import connections

    from fangkong.screening.actions.scan import scan

    start = threading.Barrier(len(jobs))
    codes: Counter[str] = Counter()
    errors: list[str] = []
    lock = threading.Lock()

    def run(job: list[tuple[str, str]]) -> None:
        try:
            start.wait()
            for tube, person in job:
                outcome = scan(actor=None, tube_barcode=tube, person_code=person)
                with lock:
                    codes[outcome.code] += 1
        except Exception as exc:  # what must never happen
            with lock:
                errors.append(f"{type(exc).__module__}.{type(exc).__name__}: {exc}")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return codes, errors


def main() -> None:
    """Driver: `python -c "from tests.screening.test_scan_concurrency import main; main()"`."""
    import django

    django.setup()
    from django.db import connection

    from fangkong.screening.models import Sample, Tube

    data = _setup()
    ids = data["ids"]
    report: dict[str, Any] = {"vendor": connection.vendor}
    # 1. 16 samplers, 32 people, one tube of 10.
    codes, errors = _race(
        [[("RACE", ids[2 * i]), ("RACE", ids[2 * i + 1])] for i in range(THREADS)]
    )
    tube = Tube.objects.get(barcode="RACE")
    report["race"] = {
        "codes": dict(codes),
        "errors": errors,
        "member_count": tube.member_count,
        "status": tube.status,
        "closed": tube.closed_at is not None,
        "samples": Sample.objects.filter(tube=tube, removed_at__isnull=True).count(),
    }
    # 2. One person, 8 open tubes at once.
    codes, errors = _race([[(f"P{n}", ids[32])] for n in range(8)])
    report["two_tubes"] = {
        "codes": dict(codes),
        "errors": errors,
        "samples": Sample.objects.filter(person__id_number=ids[32]).count(),
        "counts": sorted(
            Tube.objects.filter(barcode__startswith="P").values_list("member_count", flat=True)
        ),
    }
    # 3. One person, one tube, 8 samplers.
    codes, errors = _race([[("SAME", ids[33])] for _ in range(8)])
    report["same_tube"] = {
        "codes": dict(codes),
        "errors": errors,
        "samples": Sample.objects.filter(tube__barcode="SAME").count(),
        "member_count": Tube.objects.get(barcode="SAME").member_count,
    }
    # 4. Two households race for one empty household tube.
    codes, errors = _race([[("HOME", ids[i])] for i in range(34, 40)])
    home = Tube.objects.get(barcode="HOME")
    report["household"] = {
        "codes": dict(codes),
        "errors": errors,
        "households": sorted(
            {
                h
                for h in Sample.objects.filter(tube=home).values_list(
                    "person__household_id", flat=True
                )
            }
        ),
        "tube_household": home.household_id,
        "member_count": home.member_count,
    }
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


def _database_url(tmp_path: Path) -> str:
    from django.db import connection

    settings = connection.settings_dict
    if connection.vendor == "postgresql":
        user = settings["USER"] + (f":{settings['PASSWORD']}" if settings["PASSWORD"] else "")
        host = f"{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}"
        return f"postgresql://{user}@{host}/{settings['NAME']}"
    path = tmp_path / "template.sqlite3"
    done = subprocess.run(
        [sys.executable, "-m", "django", "migrate", "--verbosity=0"],
        env=_env(f"sqlite:///{path}", tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    target = tmp_path / "scan.sqlite3"
    source, copy = sqlite3.connect(path), sqlite3.connect(target)
    try:
        source.backup(copy)
    finally:
        copy.close()
        source.close()
    return f"sqlite:///{target}"


@pytest.mark.django_db(transaction=True)
def test_concurrent_scans_never_overfill_or_double_sample(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", "from tests.screening.test_scan_concurrency import main; main()"],
        env=_env(_database_url(tmp_path), tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])

    race = report["race"]
    assert race["errors"] == []
    assert race["member_count"] == 10 == race["samples"]
    assert race["status"] == "closed" and race["closed"]
    assert race["codes"].get("added", 0) == 9 and race["codes"].get("tube_full_closed", 0) == 1
    refused = race["codes"].get("tube_closed", 0) + race["codes"].get("tube_full", 0)
    assert refused == 2 * THREADS - 10

    two = report["two_tubes"]
    assert two["errors"] == []
    assert two["samples"] == 1 and two["counts"] == [0] * 7 + [1]
    assert two["codes"] == {"added": 1, "in_open_tube": 7}

    same = report["same_tube"]
    assert same["errors"] == []
    assert same["samples"] == 1 == same["member_count"]
    assert same["codes"] == {"added": 1, "duplicate_in_tube": 7}

    home = report["household"]
    assert home["errors"] == []
    assert home["households"] == [home["tube_household"]]
    assert home["member_count"] == 3
    assert home["codes"] == {"added": 3, "other_household": 3}
