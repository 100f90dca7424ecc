"""Checking an import's rows in a second process while this one writes (D20).

A large import spends about as long reading and checking rows (pure Python, no database)
as writing them. On a machine with two cores the two halves overlap: a forked child
iterates the table and runs the importer's ``check`` batch after batch, and sends each
checked batch through a pipe; the parent writes batch N while the child checks N+1. When
the parent has little to write (a re-import, whose rows are mostly recognised by their
fingerprint), it also checks batches itself from its own copy (``checked_in_child``'s
``share_if``).

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
from collections.abc import Callable, Generator, Iterable, Iterator
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


def _claim_next(claimed: Any) -> int:
    """The index of the lowest batch neither process has taken, now taken."""
    with claimed.get_lock():
        index = int(claimed.value)
        claimed.value = index + 1
        return index


def _advance(walk: Iterator[tuple[int, list[Any]]], index: int) -> list[Any] | None:
    """The rows of batch ``index`` from this process's own walk, past the batches the
    other process took (None past the end)."""
    for at, rows in walk:
        if at == index:
            return rows
    return None


def _child(
    send: Any, batches: Iterable[list[Any]], check: Callable[[list[Any]], Any], claimed: Any
) -> None:
    with contextlib.ExitStack() as stack:
        for alias in connections:
            stack.enter_context(connections[alias].execute_wrapper(_refuse))
        try:
            walk = enumerate(batches)
            while (rows := _advance(walk, _claim_next(claimed))) is not None:
                send.send(("batch", check(rows)))
            send.send(("done", None))
        except ImportFileError as exc:
            send.send(("file_error", str(exc)))
        except BaseException:  # reported to the parent, which raises it
            send.send(("crash", traceback.format_exc()))
    send.close()


def checked_in_child(
    batches: Iterable[list[Any]],
    check: Callable[[list[Any]], Any],
    *,
    share_if: Callable[[Any], bool] | None = None,
    on_alone: Callable[[], None] | None = None,
) -> Generator[Any, None, None]:
    """``check(rows)`` of every batch, computed in a forked child, yielded in order.

    The child takes the batches one after the other from its copy of ``batches``. After
    the first checked batch, ``share_if(batch)`` decides whether this process helps: a
    re-import's batches leave the writer idle, so whenever no checked batch is waiting in
    the pipe, this process takes the next batch nobody has taken (a counter both share)
    and checks it from its own copy, keeping the result until the batches before it have
    been yielded. The child skips the batches taken here. Otherwise ``on_alone()`` runs
    (the caller lets go of the rows it will never read) and this process only receives;
    it must not iterate ``batches`` then (a CSV's file position is shared with the child).

    An ImportFileError raised while reading (a CSV that turns out not to decode) is raised
    here again; any other failure in the child becomes a RuntimeError with its traceback.
    If the parent stops early, the child is terminated.
    """
    context = multiprocessing.get_context("fork")
    claimed = context.Value("q", 0)
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(send, batches, check, claimed), daemon=True)
    child.start()
    send.close()
    finished = False
    sharing = False
    own: dict[int, Any] = {}  # batches checked here, by index, until their turn
    walk = enumerate(batches)  # this process's own copy, read only while sharing
    turn = 0  # the index of the next batch to yield
    try:
        while True:
            if turn in own:
                yield own.pop(turn)
                turn += 1
                continue
            # At most two batches ahead: a changed stretch of the file has full batches.
            if sharing and len(own) < 2 and not receive.poll():
                index = _claim_next(claimed)
                rows = _advance(walk, index)
                if rows is not None:
                    own[index] = check(rows)
                    continue
                sharing = False  # past the last batch: only the child's are left
            try:
                kind, payload = receive.recv()
            except EOFError:
                child.join()
                raise RuntimeError(
                    f"the import's checking process ended early (exit code {child.exitcode})"
                ) from None
            if kind == "batch":
                if turn == 0:
                    sharing = share_if is not None and share_if(payload)
                    if not sharing and on_alone is not None:
                        on_alone()
                yield payload
                turn += 1
            elif kind == "done":
                # What is left was checked here, every index in turn (each batch was
                # taken by one process, and the child's have all arrived).
                while turn in own:
                    yield own.pop(turn)
                    turn += 1
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
