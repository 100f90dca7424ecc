"""Placeholder: filled by the sampling work."""

from __future__ import annotations

from ninja import Router

router = Router()
