"""Reading configuration from the environment (the only source of settings)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

TRUE_WORDS = {"1", "true", "yes", "on"}


def env_flag(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return raw.strip().lower() in TRUE_WORDS


def data_dir() -> Path:
    path = Path(os.environ.get("FANGKONG_DATA_DIR") or "var").resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def secret_key(directory: Path) -> str:
    """The key from the environment, else one generated once and kept in the data dir."""
    from_env = os.environ.get("FANGKONG_SECRET_KEY")
    if from_env:
        return from_env
    key_file = directory / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    key = secrets.token_urlsafe(50)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


def sqlite_database(path: Path) -> dict[str, Any]:
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        "OPTIONS": {
            # WAL lets readers go on while one writer holds the lock; IMMEDIATE takes the
            # write lock at BEGIN so two writers never deadlock on a lock upgrade.
            # synchronous=NORMAL: a commit appends to the WAL without fsync; the WAL is
            # fsynced at each checkpoint (the database is never corrupted, the last commits
            # may roll back on power loss). wal_autocheckpoint=10000 pages (about 40 MB)
            # instead of 1000: a checkpoint copies each page once however often it changed
            # and fsyncs twice, so ten times fewer of them cost writers far less (a stock
            # posting dirties ~25 pages; bench/supplies_postings.py); the kind of
            # guarantee is unchanged. journal_size_limit then trims the WAL file back to
            # 64 MB after a checkpoint, so it does not stay at its largest size on disk.
            "init_command": (
                "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;"
                "PRAGMA foreign_keys=ON;PRAGMA cache_size=-64000;PRAGMA temp_store=MEMORY;"
                "PRAGMA wal_autocheckpoint=10000;PRAGMA journal_size_limit=67108864;"
            ),
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        },
    }


def parse_database_url(url: str, default_sqlite: Path) -> dict[str, Any]:
    """Turn FANGKONG_DATABASE_URL into a Django DATABASES entry.

    Accepts sqlite:///relative.db, sqlite:////absolute.db and
    postgresql://user:pass@host:port/name?sslmode=... (also postgres://).
    """
    if not url:
        return sqlite_database(default_sqlite)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in {"sqlite", "sqlite3"}:
        raw_path = unquote(parts.path)
        name = raw_path[1:] if raw_path.startswith("/") else raw_path
        if not name:
            return sqlite_database(default_sqlite)
        path = Path("/" + name[1:]) if name.startswith("/") else Path(name).resolve()
        return sqlite_database(path)
    if scheme in {"postgres", "postgresql", "pgsql"}:
        options: dict[str, Any] = dict(parse_qsl(parts.query))
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")) or "fangkong",
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": 60,
            # No "SELECT 1" before each request's first query: it cost a round trip and
            # ~0.15 ms of server CPU per API call (scan throughput +15-18% without it).
            # A connection lives at most CONN_MAX_AGE from its creation, so an idle one
            # is replaced, not reused; only a PostgreSQL restart (or a dropped link)
            # within that minute fails the next request on each open connection (at most
            # workers x blocking threads) once, with a 500, and Django then replaces it.
            "CONN_HEALTH_CHECKS": False,
            "OPTIONS": options,
        }
    raise ValueError(f"FANGKONG_DATABASE_URL: unsupported scheme {scheme!r}")
