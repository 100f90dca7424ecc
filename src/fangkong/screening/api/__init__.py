"""Mass-testing API under /api/v1/screening: one router per area, mounted here."""

from __future__ import annotations

from ninja import Router

from fangkong.screening.api import boxes, results, rounds, sampling, tracing

router = Router()
router.add_router("/", rounds.router)
router.add_router("/", sampling.router)
router.add_router("/", boxes.router)
router.add_router("/", results.router)
router.add_router("/", tracing.router)
