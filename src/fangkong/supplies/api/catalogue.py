"""API: catalogue. (Filled in by the catalogue work.)"""

from __future__ import annotations

from ninja import Router

router = Router(tags=["supplies"])
