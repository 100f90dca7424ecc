"""API: requests. (Filled in by the requests work.)"""

from __future__ import annotations

from ninja import Router

router = Router(tags=["supplies"])
