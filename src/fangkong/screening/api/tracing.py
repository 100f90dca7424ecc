"""Placeholder: filled by the tracing work."""

from __future__ import annotations

from ninja import Router

router = Router()
