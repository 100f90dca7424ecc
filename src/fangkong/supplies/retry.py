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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

from django.db import OperationalError, connection
from django.db.utils import DatabaseError

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


def _lock_file(path: str) -> int | None:
    """An open file next to the database, one per process (a fork reopens its own)."""
    key = (os.getpid(), path)
    if key not in _lock_files:
        try:
            _lock_files[key] = os.open(f"{path}-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            return None
    return _lock_files[key]


@contextmanager
def writer_turn() -> Iterator[None]:
    """Wait for this writer's turn on SQLite; nothing on PostgreSQL (row locks queue)."""
    if connection.vendor != "sqlite":
        yield
        return
    with _turn:
        depth = getattr(_held, "depth", 0)
        name = str(connection.settings_dict["NAME"])
        handle = None
        if depth == 0 and "memory" not in name and name != "":
            try:
                import fcntl
            except ImportError:  # pragma: no cover - Windows: threads queue, processes poll
                fcntl = None  # type: ignore[assignment]
            handle = _lock_file(name) if fcntl is not None else None
            if handle is not None:
                fcntl.flock(handle, fcntl.LOCK_EX)
        _held.depth = depth + 1
        try:
            yield
        finally:
            _held.depth = depth
            if handle is not None:
                import fcntl

                fcntl.flock(handle, fcntl.LOCK_UN)


def with_retry(function: Callable[P, T]) -> Callable[P, T]:
    """Decorate an action whose body is one ``transaction.atomic`` block.

    Only the outermost call retries: inside another transaction the error propagates,
    since the enclosing transaction is already lost.
    """

    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        if connection.in_atomic_block:
            return function(*args, **kwargs)
        delay = FIRST_DELAY
        for attempt in range(1, ATTEMPTS + 1):
            try:
                with writer_turn():
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
