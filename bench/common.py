"""Helpers shared by the benchmarks: peak memory and a PostgreSQL admin connection."""

from __future__ import annotations

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
