"""Retry a whole transaction when the database says "try again" (lock, deadlock, serialization).

Postings lock balance rows in one fixed order, so deadlocks should not happen; but SQLite's
single write lock can time out under a burst, and PostgreSQL may still abort one side of
a conflict. No such error reaches a user: the action is re-run from the start, with
jittered exponential backoff, a bounded number of times.

What the drivers raise, as Django wraps it (the driver's error is ``__cause__``):
- SQLite: ``OperationalError`` "database is locked" (SQLITE_BUSY, also at BEGIN IMMEDIATE
  after the busy timeout) or "database table is locked" (SQLITE_LOCKED); Python 3.11
  gives the code as ``sqlite_errorcode``.
- psycopg 3: ``OperationalError`` (or another ``DatabaseError``) whose cause carries the
  SQLSTATE: 40001 serialization failure, 40P01 deadlock, 55P03 lock not available.

On SQLite, writers also queue for their turn before BEGIN: threads of a process on a lock,
processes on an OS file lock next to the database. SQLite's own busy handler polls with
sleeps of up to 100 ms, so with 16 or 32 writers the lock sat free while everyone slept;
a queue hands it over at once. The database's own lock still decides: the queue only
orders who asks.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from django.db import DEFAULT_DB_ALIAS, OperationalError, connection, connections
from django.db.utils import DatabaseError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: threads queue, processes poll
    fcntl = None  # type: ignore[assignment]

P = ParamSpec("P")
T = TypeVar("T")

logger = logging.getLogger("fangkong.supplies")

ATTEMPTS = 8
FIRST_DELAY = 0.02

_RETRYABLE_PG = {"40001", "40P01", "55P03"}  # serialization, deadlock, lock not available
_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6


def is_retryable(exc: BaseException) -> bool:
    cause = exc.__cause__ or exc
    sqlstate = getattr(cause, "sqlstate", None)
    if sqlstate is None:
        sqlstate = getattr(getattr(cause, "diag", None), "sqlstate", None)
    if sqlstate in _RETRYABLE_PG:
        return True
    code = getattr(cause, "sqlite_errorcode", None)
    if isinstance(code, int) and code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED):
        return True
    if isinstance(exc, OperationalError) and connection.vendor == "sqlite":
        message = str(exc).lower()
        return "locked" in message or "busy" in message
    return False


# ---------------------------------------------------------------- SQLite writer queue

_turn = threading.RLock()
_held = threading.local()
_lock_files: dict[tuple[int, str], int] = {}
_pid = os.getpid()


def _forked() -> None:
    global _pid
    _pid = os.getpid()


if hasattr(os, "register_at_fork"):  # not on Windows
    os.register_at_fork(after_in_child=_forked)


def _lock_file(path: str) -> int | None:
    """An open file next to the database, one per process (a fork opens its own)."""
    key = (_pid, path)
    handle = _lock_files.get(key)
    if handle is None:
        try:
            handle = _lock_files[key] = os.open(
                f"{path}-writer.lock", os.O_RDWR | os.O_CREAT, 0o600
            )
        except OSError:
            return None
    return handle


class writer_turn:
    """Wait for this writer's turn on SQLite; nothing on PostgreSQL (row locks queue).

    ``db`` is the connection (default: the default database's). A class rather than a
    generator: it runs around every posting.
    """

    __slots__ = ("db", "depth", "handle", "queued")

    def __init__(self, db: Any = None) -> None:
        self.db = db if db is not None else connections[DEFAULT_DB_ALIAS]

    def __enter__(self) -> None:
        db = self.db
        self.queued = db.vendor == "sqlite"
        if not self.queued:
            return
        _turn.acquire()
        try:
            self.depth = depth = getattr(_held, "depth", 0)
            self.handle = None
            if depth == 0 and fcntl is not None:
                name = str(db.settings_dict["NAME"])
                if "memory" not in name and name != "":
                    self.handle = _lock_file(name)
                    if self.handle is not None:
                        fcntl.flock(self.handle, fcntl.LOCK_EX)
            _held.depth = depth + 1
        except BaseException:
            _turn.release()
            raise

    def __exit__(self, *exc_info: object) -> None:
        if not self.queued:
            return
        _held.depth = self.depth
        try:
            if self.handle is not None:
                fcntl.flock(self.handle, fcntl.LOCK_UN)
        finally:
            _turn.release()


def with_retry(function: Callable[P, T]) -> Callable[P, T]:
    """Decorate an action whose body is one ``transaction.atomic`` block.

    Only the outermost call retries: inside another transaction the error propagates,
    since the enclosing transaction is already lost.
    """

    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        db = connections[DEFAULT_DB_ALIAS]
        if db.in_atomic_block:
            return function(*args, **kwargs)
        delay = FIRST_DELAY
        for attempt in range(1, ATTEMPTS + 1):
            try:
                with writer_turn(db):
                    return function(*args, **kwargs)
            except DatabaseError as exc:
                if attempt == ATTEMPTS or not is_retryable(exc):
                    raise
                logger.info("retrying %s after %s (attempt %d)", function.__name__, exc, attempt)
                time.sleep(delay * (1 + random.random()))  # noqa: S311  (jitter, not secrets)
                delay = min(delay * 2, 1.0)
        raise AssertionError("unreachable")

    wrapper.__name__ = function.__name__
    wrapper.__qualname__ = function.__qualname__
    wrapper.__doc__ = function.__doc__
    wrapper.__wrapped__ = function  # type: ignore[attr-defined]
    return wrapper
