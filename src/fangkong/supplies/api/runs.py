"""API: runs. (Filled in by the runs work.)"""

from __future__ import annotations

from ninja import Router

router = Router(tags=["supplies"])
