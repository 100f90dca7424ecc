"""Helpers shared by the benchmarks: peak memory and a PostgreSQL admin connection."""

from __future__ import annotations

import contextlib
from pathlib import Path


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MB.

    Read from VmHWM: unlike ru_maxrss it does not carry the parent's peak across fork and
    exec, so a worker subprocess reports its own figure.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pss_mb(pid: int) -> float:
    """Proportional set size of ``pid`` and its children in MB: pages shared after a fork
    are counted once between them, as the machine's memory sees them."""
    total = 0.0
    pids = [pid]
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):  # the process may end while it is read
            pids += [int(p) for p in children.read_text().split()]
    for each in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{each}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) / 1024
    return total


def pg_admin(database_url: str, *statements: str) -> None:
    """Run statements on the server's maintenance database; ``{db}`` is the bench db name."""
    import psycopg

    base, _, name = database_url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement.format(db=name))  # type: ignore[arg-type]


def postgres_available(database_url: str) -> bool:
    try:
        pg_admin(database_url, "SELECT 1")
    except Exception as exc:
        print(f"postgresql: skipped ({type(exc).__name__}: {exc})")
        return False
    return True


def setup_django(
    backend: str,
    workdir: str,
    pg_url: str,
    *,
    sqlite_url: str | None = None,
    log_level: str | None = None,
) -> None:
    """Django on a fresh, migrated bench database: PostgreSQL at ``pg_url`` (dropped and
    created again), or SQLite (``sqlite_url``, else the default file in ``workdir``)."""
    import os
    import sys

    os.environ["DJANGO_SETTINGS_MODULE"] = "fangkong.settings"
    os.environ["FANGKONG_DATA_DIR"] = workdir
    if log_level:
        os.environ["FANGKONG_LOG_LEVEL"] = log_level
    for key in [k for k in os.environ if k.startswith("FANGKONG_TEST")]:
        del os.environ[key]
    if backend == "postgresql":
        pg_admin(pg_url, "DROP DATABASE IF EXISTS {db} WITH (FORCE)", "CREATE DATABASE {db}")
        os.environ["FANGKONG_DATABASE_URL"] = pg_url
    elif sqlite_url:
        os.environ["FANGKONG_DATABASE_URL"] = sqlite_url
    else:
        os.environ.pop("FANGKONG_DATABASE_URL", None)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
