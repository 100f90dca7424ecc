"""API: documents. (Filled in by the documents work.)"""

from __future__ import annotations

from ninja import Router

router = Router(tags=["supplies"])
