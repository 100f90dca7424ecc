"""Checking an import's rows in a second process while this one writes (D20).

A large import spends about as long reading and checking rows (pure Python, no database)
as writing them. On a machine with two cores the two halves overlap: a forked child
iterates the table and runs the importer's ``check`` batch after batch, and sends each
checked batch through a pipe; the parent writes batch N while the child checks N+1.

The child never touches the database: a connection must not be used on both sides of a
fork (SQLite's rule, and psycopg's socket would be shared), so every connection refuses
queries in the child, and the child leaves with ``os._exit`` (multiprocessing's fork
start does this), which neither closes nor collects the connections it inherited.

Forking is used only where it is safe and worth it (``may_check_in_child``): on Linux,
from a process with a single thread (the job worker, the CLI; never a threaded web
server, where another thread may hold a lock at the moment of the fork), for a table
known to be large.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import sys
import threading
import traceback
from collections.abc import Callable, Generator, Iterable
from typing import Any

from django.conf import settings
from django.db import connections

from fangkong.core.importing.readers import ImportFileError

# Below this many rows the fork and the pipeline's start cost more than they save.
CHILD_MIN_ROWS = 20_000


def may_check_in_child(total_rows: int | None) -> bool:
    return (
        settings.IMPORT_CHECK_IN_CHILD
        and sys.platform.startswith("linux")
        and total_rows is not None
        and total_rows >= CHILD_MIN_ROWS
        and threading.active_count() == 1
    )


class NoDatabaseInChild(RuntimeError):
    """A query was attempted in the checking process (a bug in an importer's check)."""


def _refuse(*_args: Any) -> Any:
    raise NoDatabaseInChild("the checking process must not use the database")


def _child(send: Any, batches: Iterable[list[Any]], check: Callable[[list[Any]], Any]) -> None:
    with contextlib.ExitStack() as stack:
        for alias in connections:
            stack.enter_context(connections[alias].execute_wrapper(_refuse))
        try:
            for rows in batches:
                send.send(("batch", check(rows)))
            send.send(("done", None))
        except ImportFileError as exc:
            send.send(("file_error", str(exc)))
        except BaseException:  # reported to the parent, which raises it
            send.send(("crash", traceback.format_exc()))
    send.close()


def checked_in_child(
    batches: Iterable[list[Any]], check: Callable[[list[Any]], Any]
) -> Generator[Any, None, None]:
    """``check(rows)`` of every batch, computed in a forked child, yielded in order.

    The parent must not iterate ``batches`` itself: the child consumes them from its copy.
    An ImportFileError raised while reading (a CSV that turns out not to decode) is raised
    here again; any other failure in the child becomes a RuntimeError with its traceback.
    If the parent stops early, the child is terminated.
    """
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(send, batches, check), daemon=True)
    child.start()
    send.close()
    finished = False
    try:
        while True:
            try:
                kind, payload = receive.recv()
            except EOFError:
                child.join()
                raise RuntimeError(
                    f"the import's checking process ended early (exit code {child.exitcode})"
                ) from None
            if kind == "batch":
                yield payload
            elif kind == "done":
                finished = True
                return
            elif kind == "file_error":
                raise ImportFileError(payload)
            else:
                raise RuntimeError(f"the import's checking process failed:\n{payload}")
    finally:
        receive.close()
        if not finished and child.is_alive():
            child.terminate()
        child.join()
