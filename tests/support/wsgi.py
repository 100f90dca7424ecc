"""Calling fangkong.wsgi's application (or one of its handlers) as granian would.

django.test.Client does not go through fangkong.wsgi, so tests of the dispatcher, the
token handler and the scan's lean route build environ dicts with RequestFactory.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import RequestFactory

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass
class Answer:
    status: int
    headers: dict[str, str]  # lower-case names
    content: bytes

    def json(self) -> Any:
        return json.loads(self.content)


@contextmanager
def connections_kept() -> Iterator[None]:
    """As django.test.Client does: a request's end must not close the test's connection
    (it would break the transaction each test runs in)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def wsgi_call(
    app: WSGIApp,
    method: str,
    path: str,
    *,
    data: bytes | str = b"",
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
    environ: dict[str, Any] | None = None,
) -> Answer:
    """One request through ``app``; ``environ`` adds or overrides raw environ keys."""
    request = RequestFactory().generic(
        method, path, data=data, content_type=content_type, headers=headers or {}
    )
    env = dict(request.environ)
    env.update(environ or {})
    started: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]], *_: Any) -> None:
        started["status"] = int(status.split()[0])
        started["headers"] = {name.lower(): value for name, value in response_headers}

    with connections_kept():
        chunks = app(env, start_response)
        try:
            content = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
    return Answer(started["status"], started["headers"], content)
