"""API: counts. (Filled in by the counts work.)"""

from __future__ import annotations

from ninja import Router

router = Router(tags=["supplies"])
