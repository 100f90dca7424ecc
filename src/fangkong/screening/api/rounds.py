"""Placeholder: filled by the rounds work."""

from __future__ import annotations

from ninja import Router

router = Router()
