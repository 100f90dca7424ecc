"""API: reports. (Filled in by the reports work.)"""

from __future__ import annotations

from ninja import Router

router = Router(tags=["supplies"])
