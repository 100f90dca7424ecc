"""Supplies API under /api/v1/supplies: one router per area, mounted here."""

from __future__ import annotations

from ninja import Router

from fangkong.supplies.api import catalogue, counts, documents, donations, reports, requests, runs

router = Router()
router.add_router("/", reports.router)
router.add_router("/", catalogue.router)
router.add_router("/", documents.router)
router.add_router("/", requests.router)
router.add_router("/", runs.router)
router.add_router("/", counts.router)
router.add_router("/", donations.router)
