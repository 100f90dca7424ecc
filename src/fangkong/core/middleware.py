"""Request id for audit entries and logs."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from fangkong.core import context_vars

SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9\-]{8,36}$")


class RequestIdMiddleware:
    """Tags each request (X-Request-ID from a proxy, else a new one) and its audit entries."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        rid = incoming if SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = rid  # type: ignore[attr-defined]
        source = "api" if request.path.startswith("/api/") else "web"
        rid_token = context_vars.request_id.set(rid)
        source_token = context_vars.source.set(source)
        try:
            response = self.get_response(request)
        finally:
            context_vars.request_id.reset(rid_token)
            context_vars.source.reset(source_token)
        response["X-Request-ID"] = rid
        return response
