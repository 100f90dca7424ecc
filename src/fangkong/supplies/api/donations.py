"""API: donations. (Filled in by the donations work.)"""

from __future__ import annotations

from ninja import Router

router = Router(tags=["supplies"])
