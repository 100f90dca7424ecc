"""Placeholder: filled by the results work."""

from __future__ import annotations

from ninja import Router

router = Router()
