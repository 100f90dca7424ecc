"""screening scan: POST /api/v1/screening/scan over HTTP, 16 clients, 1,000,000 people, PostgreSQL.

The real server, as ``fangkong serve`` runs it (granian ``--interface wsgi``, workers =
cores, serve's blocking threads; no job worker), on a PostgreSQL database holding the
divisions of 安阳县, 1,000,000 people with valid 18-digit IDs (one INSERT ... SELECT
generate_series), a round over every township of the county in sampling (its 1,000,000
targets taken by ``start_sampling``), 16 testing sites, 16 samplers each with an API token,
and 16,000 open tubes of 10. Each of 16 clients (asyncio, one keep-alive connection each,
no new dependency) scans distinct random people (4 in 5 by ID number, 1 in 5 by personal
QR code) into its own tubes, moving to the next tube when one closes itself, for
``--seconds`` after a warm-up; every response must be ``added`` or ``tube_full_closed``.
The baseline in the same run: the same clients and tokens on ``GET /api/v1/me``, the
trivial token-authenticated endpoint; then ``GET /api/v1/health`` (no login, no database)
shows what the server alone does at that moment. Afterwards the database is checked:
samples = scans, every tube's count = its samples, nobody sampled twice, targets marked.

On a shared machine wall-clock rates swing with the load, so each run also prints the CPU
time per request of the granian workers, of the PostgreSQL backends of the bench database
and of the client (from /proc), and the load average before and after.

    .venv/bin/python bench/screening_scan.py [--people N] [--seconds S] [--clients N]
        [--keep] [--reuse]

BENCH_SCALE (default 1) shrinks people and seconds for a quick run (0.1: 100,000 people,
3 s). ``--keep`` leaves the database for ``--reuse`` (which resets the round and skips
the two-minute set-up). Targets (issue): at least 1,500 scans/s on this 2-core machine,
p95 under 50 ms, at least 20% of the baseline's rate. PostgreSQL is 127.0.0.1:5432 user
postgres (FANGKONG_BENCH_PG_URL overrides); the database fangkong_bench_scan is created
and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get(
    "FANGKONG_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/fangkong_bench_scan"
)
COUNTY = "410522"  # 安阳县
TUBES_PER_CLIENT = 1000
POOL = 10
TARGET_RATE = 1500
TARGET_P95_MS = 50
TARGET_RATIO = 0.20
QR_SHARE = 0.2
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华玉萍红娥玲芬燕文辉建国志海"


def _env(data_dir: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FANGKONG_TEST", "DJANGO_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="fangkong.settings",
        FANGKONG_DATABASE_URL=PG_URL,
        FANGKONG_DATA_DIR=data_dir,
        FANGKONG_LOG_LEVEL="WARNING",
        FANGKONG_SECRET_KEY="bench-only-secret-key-" + "s" * 30,
        FANGKONG_ALLOW_DJANGO_COMMANDS="1",
        PYTHONPATH=str(ROOT / "src"),
    )
    return env


# --- data ------------------------------------------------------------------------------


def _people_sql(count: int) -> str:
    """1,000,000 people over the county's villages: ID 410522 + birth date + sequence +
    check digit (GB 11643), unique by construction (1,000 sequences per birth date)."""
    checksum = " + ".join(f"substr(b, {k + 1}, 1)::int * {w}" for k, w in enumerate(WEIGHTS))
    surnames = ",".join(f"'{c}'" for c in SURNAMES)
    given = ",".join(f"'{c}'" for c in GIVEN)
    return f"""
    WITH v AS (
      SELECT array_agg(code ORDER BY code) AS codes, count(*)::int AS n
      FROM geo_region WHERE code LIKE '{COUNTY}%' AND length(code) = 12
    ),
    g AS (
      SELECT i, date '1940-01-01' + (i / 1000) * 23 AS birth,
        '{COUNTY}' || to_char(date '1940-01-01' + (i / 1000) * 23, 'YYYYMMDD')
          || lpad((i % 1000)::text, 3, '0') AS b,
        (ARRAY[{surnames}])[1 + i % {len(SURNAMES)}]
          || (ARRAY[{given}])[1 + (i / {len(SURNAMES)}) % {len(GIVEN)}] AS nm
      FROM generate_series(0, {count - 1}) AS i
    ),
    p AS (SELECT g.*, g.b || substr('10X98765432', (({checksum}) % 11) + 1, 1) AS idn FROM g)
    INSERT INTO people_person (created_at, updated_at, region_code, name, name_key,
      name_pinyin, name_initials, id_type, id_number, id_reversed, sex, birth_date, phone,
      phone_reversed, phone_alt, address, household_id, residence_status, notes,
      merged_into_id)
    SELECT now(), now(), v.codes[1 + p.i % v.n], p.nm, p.nm, '', '', 'mainland', p.idn,
      reverse(p.idn), CASE WHEN (p.i % 1000) % 2 = 1 THEN 'M' ELSE 'F' END, p.birth, '',
      '', '', '', NULL, 'resident', '', NULL
    FROM p, v
    """


@contextmanager
def _indexes_later(cursor: Any, table: str, *, constraints: bool = True) -> Iterator[None]:
    """Drop the table's secondary indexes (and unique constraints) for a bulk insert and
    build them again afterwards (one sort each instead of a million index insertions)."""
    cursor.execute(
        """
        SELECT c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c
        WHERE c.conrelid = %s::regclass AND c.contype = 'u' AND %s
        """,
        [table, constraints],
    )
    unique = cursor.fetchall()
    cursor.execute(
        """
        SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i
        WHERE i.indrelid = %s::regclass AND NOT i.indisprimary
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
        """,
        [table],
    )
    indexes = cursor.fetchall()
    for name, _definition in unique:
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _definition in indexes:
        cursor.execute(f"DROP INDEX {name}")
    yield
    for _name, definition in indexes:
        cursor.execute(definition)
    for name, definition in unique:
        cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    cursor.execute(f"ANALYZE {table}")


def _step(label: str, started: float) -> float:
    now = time.perf_counter()
    print(f"  {label}: {now - started:.1f} s", flush=True)
    return now


def _django(data_dir: str) -> None:
    os.environ.update(_env(data_dir))
    sys.path.insert(0, str(ROOT / "src"))
    import django

    django.setup()


def fill(people: int, clients: int, data_dir: str) -> None:
    """Create the database: divisions, people, a round in sampling, sites, samplers, tubes."""
    from common import pg_admin  # bench/common.py

    started = time.perf_counter()
    pg_admin(PG_URL, "DROP DATABASE IF EXISTS {db} WITH (FORCE)", "CREATE DATABASE {db}")
    for command in (["migrate", "-v0"], ["geo", "load", COUNTY, "--no-progress"]):
        subprocess.run(
            [sys.executable, "-m", "fangkong.cli", *command],
            env=_env(data_dir),
            check=True,
            cwd=ROOT,
            capture_output=True,
        )
    started = _step("database, migrations, divisions", started)
    _django(data_dir)
    from django.db import connection
    from django.utils import timezone

    from fangkong.accounts.models import RoleAssignment, User
    from fangkong.geo.models import Region, Site
    from fangkong.screening.actions.rounds import ZoneInput, create_round, start_sampling

    with connection.cursor() as cursor, _indexes_later(cursor, "people_person"):
        cursor.execute(_people_sql(people))
    started = _step(f"{people:,} people", started)
    codes_in_county = sorted(
        Region.objects.filter(code__startswith=COUNTY).values_list("code", flat=True)
    )
    townships = [code for code in codes_in_county if len(code) == 9]
    villages = [code for code in codes_in_county if len(code) == 12]
    now = timezone.now()
    round_ = create_round(
        actor=None,
        name="第9轮全员核酸",
        starts_at=now - dt.timedelta(hours=1),
        ends_at=now + dt.timedelta(hours=5),
        zones=[ZoneInput(code, POOL) for code in townships],
    )
    with (
        connection.cursor() as cursor,
        _indexes_later(
            cursor,
            "screening_roundtarget",
            constraints=False,  # ON CONFLICT needs its key
        ),
    ):
        round_ = start_sampling(actor=None, round_=round_)
    started = _step(
        f"round over {len(townships)} townships, {round_.target_count:,} targets", started
    )
    step = max(1, len(villages) // clients)
    with connection.cursor() as cursor:
        for k in range(clients):
            village = villages[(k * step) % len(villages)]
            site = Site.objects.create(
                name=f"核酸采样点{k + 1:02d}", kind="testing_site", region_code=village
            )
            user = User.objects.create_user(username=f"sampler{k:02d}", region_code=village[:9])
            RoleAssignment.objects.create(user=user, role="sampler", region_code=village[:9])
            cursor.execute(
                """
                INSERT INTO screening_tube (created_at, updated_at, region_code, round_id,
                  site_id, barcode, capacity, household_mode, household_id, member_count,
                  status, opened_at, opened_by_id, closed_at, box_id, result, result_at)
                SELECT now(), now(), %s, %s, %s, 'AY' || lpad(%s::text, 2, '0')
                  || lpad(n::text, 6, '0'), %s, false, NULL, 0, 'open', now(), NULL, NULL,
                  NULL, '', NULL
                FROM generate_series(1, %s) AS n
                """,
                [village, round_.pk, site.pk, k, POOL, TUBES_PER_CLIENT],
            )
        cursor.execute("ANALYZE screening_tube")
    started = _step(
        f"{clients} sites and samplers; {clients * TUBES_PER_CLIENT:,} open tubes", started
    )
    settle()
    _step("vacuum and checkpoint", started)


def settle() -> None:
    """Leave the database as autovacuum leaves it a minute or two after the million-row
    inserts (its insert threshold), before a real round's morning starts. Measured right
    after the inserts, the scans also paid the first touch of a million fresh rows (hint
    bits, the visibility map): 1,394 scans/s against 1,760/s settled, in two runs minutes
    apart (2026-11-28)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) people_person, screening_roundtarget, screening_tube")
        cursor.execute("CHECKPOINT")


def make_plan(clients: int) -> dict[str, Any]:
    """Reset the round (no samples, every tube open and empty) and give each client a
    fresh token, its tubes and its own random people (4 in 5 by ID, 1 in 5 by QR)."""
    from django.db import connection

    from fangkong.accounts.actions import create_token
    from fangkong.accounts.models import User
    from fangkong.screening import codes
    from fangkong.screening.models import Round

    round_id = Round.objects.get().pk
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM screening_sample")
        cursor.execute(
            "UPDATE screening_tube SET member_count = 0, status = 'open', closed_at = NULL "
            "WHERE member_count > 0 OR status <> 'open'"
        )
        cursor.execute(
            "UPDATE screening_roundtarget SET first_sampled_at = NULL "
            "WHERE first_sampled_at IS NOT NULL"
        )
        cursor.execute("SELECT min(id), max(id) FROM people_person")
        low, high = cursor.fetchone()
    rng = random.Random(20220120)
    per_client = min((high - low + 1) // clients, 6000)
    chosen = rng.sample(range(low, high + 1), per_client * clients)
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, id_number FROM people_person WHERE id = ANY(%s)", [chosen])
        numbers = dict(cursor.fetchall())
    plan = []
    for k in range(clients):
        user = User.objects.get(username=f"sampler{k:02d}")
        _token, raw = create_token(actor=None, user=user, name="扫码枪")
        people = chosen[k * per_client : (k + 1) * per_client]
        plan.append(
            {
                "token": raw,
                "tubes": [f"AY{k:02d}{n:06d}" for n in range(1, TUBES_PER_CLIENT + 1)],
                "codes": [
                    codes.make_person_qr(pid) if rng.random() < QR_SHARE else numbers[pid]
                    for pid in people
                ],
            }
        )
    return {"round": round_id, "plan": plan}


# --- server ----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(data_dir: str, port: int) -> subprocess.Popen[bytes]:
    """granian exactly as ``fangkong serve`` starts it (without the job worker)."""
    from django.conf import settings

    from fangkong.core.management.commands.serve import granian_command

    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
    workers = os.cpu_count() or 1
    server = subprocess.Popen(
        granian_command("127.0.0.1", port, workers),
        env=_env(data_dir),
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=1):
                return server
        except OSError:
            if server.poll() is not None:
                raise RuntimeError(
                    (server.stderr.read() if server.stderr else b"").decode()[-2000:]
                ) from None
            time.sleep(0.2)
    stop_server(server)
    raise RuntimeError("the server did not start within 60 s")


def stop_server(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


# --- clients ---------------------------------------------------------------------------


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = None
    chunked = False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if length is not None:
        return status, await reader.readexactly(length)
    if not chunked:
        raise RuntimeError("response without a length")
    body = b""
    while True:
        size = int((await reader.readuntil(b"\r\n")).strip(), 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return status, body
        body += await reader.readexactly(size)
        await reader.readexactly(2)


class Load:
    """Counts and latencies of one timed run."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.outcomes: dict[str, int] = {}
        self.errors: list[str] = []
        self.ran_out = 0

    def count(self, key: str) -> None:
        self.outcomes[key] = self.outcomes.get(key, 0) + 1


class ScanState:
    """One client's tubes and people, kept across the warm-up and the timed run."""

    def __init__(self, entry: dict[str, Any]) -> None:
        self.token = entry["token"]
        self.tubes = iter(entry["tubes"])
        self.people = iter(entry["codes"])
        self.tube = next(self.tubes)


async def _scan_client(port: int, state: ScanState, load: Load | None, stop_at: float) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        "POST /api/v1/screening/scan HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {state.token}\r\nContent-Type: application/json\r\n"
    ).encode()
    try:
        while time.perf_counter() < stop_at:
            code = next(state.people, None)
            if code is None:
                if load is not None:
                    load.ran_out += 1
                return
            body = json.dumps({"tube": state.tube, "person": code}).encode()
            request = head + b"Content-Length: %d\r\n\r\n" % len(body) + body
            started = time.perf_counter()
            writer.write(request)
            status, payload = await _read_response(reader)
            elapsed = time.perf_counter() - started
            outcome = json.loads(payload) if status in (200, 403, 404) else {"code": str(status)}
            if outcome.get("code") in ("tube_full_closed", "tube_closed", "tube_full"):
                state.tube = next(state.tubes)
            if load is not None:
                load.latencies.append(elapsed)
                load.count(str(outcome.get("code")))
    except Exception as exc:
        if load is not None:
            load.errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        writer.close()


async def _get_client(
    port: int, state: ScanState, load: Load | None, stop_at: float, path: str, auth: bool
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    token = f"Authorization: Bearer {state.token}\r\n" if auth else ""
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{token}\r\n".encode()
    try:
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            writer.write(request)
            status, _payload = await _read_response(reader)
            if load is not None:
                load.latencies.append(time.perf_counter() - started)
                load.count(str(status))
    except Exception as exc:
        if load is not None:
            load.errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        writer.close()


async def _me_client(port: int, state: ScanState, load: Load | None, stop_at: float) -> None:
    await _get_client(port, state, load, stop_at, "/api/v1/me", auth=True)


async def _health_client(port: int, state: ScanState, load: Load | None, stop_at: float) -> None:
    await _get_client(port, state, load, stop_at, "/api/v1/health", auth=False)


# --- CPU accounting: on a shared machine wall-clock rates swing with the load; the CPU
# each request costs the server (granian workers) and PostgreSQL (its backends for the
# bench database) does much less.

_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()


def _cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        fields = _stat(pid)
        if fields is not None:
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / _TICK


def _server_pids(server: subprocess.Popen[bytes]) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None and int(fields[2]) == server.pid:  # process group
                pids.append(int(entry.name))
    return pids


def _postgres_pids() -> list[int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        return [row[0] for row in cursor.fetchall()]


def run_load(
    kind: str,
    port: int,
    states: list[ScanState],
    seconds: float,
    server: subprocess.Popen[bytes],
) -> dict[str, Any]:
    load = Load()
    warm = min(2.0, max(0.5, seconds / 5))
    client = {"scan": _scan_client, "me": _me_client, "health": _health_client}[kind]

    async def phase(stats: Load | None, length: float) -> float:
        start = time.perf_counter()
        stop_at = start + length
        await asyncio.gather(*(client(port, state, stats, stop_at) for state in states))
        return time.perf_counter() - start

    asyncio.run(phase(None, warm))  # prepared statements, connections, caches
    server_pids, pg_pids = _server_pids(server), _postgres_pids()
    cpu = (_cpu_seconds(server_pids), _cpu_seconds(pg_pids), time.process_time())
    wall = asyncio.run(phase(load, seconds))
    used = (
        _cpu_seconds(server_pids) - cpu[0],
        _cpu_seconds(pg_pids) - cpu[1],
        time.process_time() - cpu[2],
    )
    done = len(load.latencies)
    ordered = sorted(load.latencies) or [0.0]
    per = 1000 / max(1, done)
    return {
        "kind": kind,
        "requests": done,
        "seconds": wall,
        "rate": done / wall if wall > 0 else 0.0,
        "p50_ms": statistics.median(ordered) * 1000,
        "p95_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000,
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
        "cpu_ms": {"server": used[0] * per, "postgres": used[1] * per, "client": used[2] * per},
        "outcomes": load.outcomes,
        "errors": load.errors,
        "ran_out": load.ran_out,
    }


def verify(round_id: int) -> dict[str, Any]:
    """What the database holds after the run: every scan is a sample, no tube overfull."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT
              (SELECT count(*) FROM screening_sample WHERE round_id = %s),
              (SELECT coalesce(sum(member_count), 0) FROM screening_tube WHERE round_id = %s),
              (SELECT count(*) FROM screening_tube t WHERE round_id = %s AND member_count
                 <> (SELECT count(*) FROM screening_sample s WHERE s.tube_id = t.id
                     AND s.removed_at IS NULL)),
              (SELECT count(*) FROM screening_tube WHERE round_id = %s AND status = 'closed'),
              (SELECT count(*) FROM screening_roundtarget WHERE round_id = %s
                 AND first_sampled_at IS NOT NULL),
              (SELECT count(*) FROM (SELECT person_id FROM screening_sample WHERE round_id = %s
                 GROUP BY person_id HAVING count(*) > 1) x)
            """,
            [round_id] * 6,
        )
        samples, members, mismatched, closed, marked, doubled = cursor.fetchone()
    return {
        "samples": samples,
        "members": members,
        "mismatched_tubes": mismatched,
        "closed_tubes": closed,
        "targets_marked": marked,
        "people_twice": doubled,
    }


def _line(result: dict[str, Any]) -> str:
    cpu = result["cpu_ms"]
    return (
        f"{result['rate']:8.0f}/s  p50 {result['p50_ms']:5.1f} ms  p95 {result['p95_ms']:5.1f} ms"
        f"  p99 {result['p99_ms']:5.1f} ms  ({result['requests']:,} in {result['seconds']:.1f} s)"
        f"\n         CPU per request: server {cpu['server']:.2f} ms, PostgreSQL "
        f"{cpu['postgres']:.2f} ms, client {cpu['client']:.2f} ms"
    )


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    scale = float(os.environ.get("BENCH_SCALE") or 1)
    parser.add_argument("--people", type=int, default=max(20_000, int(1_000_000 * scale)))
    parser.add_argument("--seconds", type=float, default=max(3.0, 10.0 * scale))
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--reuse", action="store_true", help="reuse a kept database (reset its round first)"
    )
    args = parser.parse_args(argv if argv is not None else [])
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from common import pg_admin, postgres_available

    if not postgres_available(PG_URL):
        return []
    print(
        f"screening scan: {args.people:,} people, {args.clients} clients, {args.seconds:.0f} s each"
    )
    with tempfile.TemporaryDirectory(prefix="fangkong-bench-scan-") as data_dir:
        if args.reuse:
            _django(data_dir)
        else:
            fill(args.people, args.clients, data_dir)
        data = make_plan(args.clients)
        port = _free_port()
        server = start_server(data_dir, port)
        try:
            states = [ScanState(entry) for entry in data["plan"]]
            load_before = os.getloadavg()[0]
            scans = run_load("scan", port, states, args.seconds, server)
            baseline = run_load("me", port, states, args.seconds, server)
            health = run_load("health", port, states, max(2.0, args.seconds / 3), server)
            load_after = os.getloadavg()[0]
        finally:
            stop_server(server)
        checked = verify(data["round"])
        if not args.keep:
            from django.db import connections

            connections.close_all()
            pg_admin(PG_URL, "DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    ratio = scans["rate"] / baseline["rate"] if baseline["rate"] else 0.0
    print(f"scan     POST /api/v1/screening/scan  {_line(scans)}")
    print(f"baseline GET  /api/v1/me              {_line(baseline)}")
    print(f"(server) GET  /api/v1/health (no auth, no database) {_line(health)}")
    print(
        f"ratio {ratio:.2f} of the baseline's rate; outcomes {scans['outcomes']}; "
        f"baseline statuses {baseline['outcomes']}; load average {load_before:.1f} → "
        f"{load_after:.1f}"
    )
    print(
        f"database: {checked['samples']:,} samples, tubes hold {checked['members']:,}, "
        f"{checked['closed_tubes']:,} closed by themselves, {checked['mismatched_tubes']} tubes "
        f"whose count differs from their samples, {checked['people_twice']} people sampled "
        f"twice, {checked['targets_marked']:,} targets marked"
    )
    for label, result in (("scan", scans), ("baseline", baseline)):
        if result["errors"] or result["ran_out"]:
            print(
                f"{label}: {len(result['errors'])} client errors {result['errors'][:3]}; "
                f"{result['ran_out']} clients ran out of people"
            )
    ok = scans["outcomes"].get("added", 0) + scans["outcomes"].get("tube_full_closed", 0)
    verdicts = [
        ("rate", scans["rate"] >= TARGET_RATE, f"{scans['rate']:.0f}/s vs {TARGET_RATE}/s"),
        ("p95", scans["p95_ms"] < TARGET_P95_MS, f"{scans['p95_ms']:.1f} ms vs {TARGET_P95_MS} ms"),
        ("ratio", ratio >= TARGET_RATIO, f"{ratio:.2f} vs {TARGET_RATIO:.2f}"),
        ("all scans added", ok == scans["requests"], f"{ok} of {scans['requests']}"),
    ]
    print(
        "targets: "
        + "; ".join(f"{n} {'met' if good else 'MISSED'} ({d})" for n, good, d in verdicts)
    )
    return [
        {"scan": scans, "baseline": baseline, "health": health, "ratio": ratio, "database": checked}
    ]


if __name__ == "__main__":
    main(sys.argv[1:])
