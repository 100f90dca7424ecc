"""Placeholder: filled by the boxes work."""

from __future__ import annotations

from ninja import Router

router = Router()
