"""Per-request context that actions read without it being passed through every call."""

from __future__ import annotations

from contextvars import ContextVar

request_id: ContextVar[str] = ContextVar("fangkong_request_id", default="")
source: ContextVar[str] = ContextVar("fangkong_source", default="cli")
