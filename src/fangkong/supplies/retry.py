"""Retry a whole transaction when the database says "try again" (lock, deadlock, serialization).

Postings lock balance rows in one fixed order, so deadlocks should not happen; but SQLite's
single write lock can time out under a burst, and PostgreSQL may still abort one side of
a conflict. No such error reaches a user: the action is re-run from the start, with
jittered exponential backoff, a bounded number of times.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from django.db import OperationalError, connection
from django.db.utils import DatabaseError

P = ParamSpec("P")
T = TypeVar("T")

logger = logging.getLogger("fangkong.supplies")

ATTEMPTS = 8
FIRST_DELAY = 0.02

_RETRYABLE_PG = {"40001", "40P01", "55P03"}  # serialization, deadlock, lock not available


def is_retryable(exc: BaseException) -> bool:
    cause = exc.__cause__ or exc
    sqlstate = getattr(cause, "sqlstate", None)
    if sqlstate in _RETRYABLE_PG:
        return True
    if isinstance(exc, OperationalError):
        message = str(exc).lower()
        return "locked" in message or "busy" in message
    return False


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
