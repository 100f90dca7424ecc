"""Supplies pages under /supplies/: each area's view module brings its own patterns."""

from __future__ import annotations

from fangkong.supplies.views import catalogue, counts, documents, donations, reports, requests, runs

app_name = "supplies"

urlpatterns = [
    *reports.urlpatterns,  # "" is the stock-on-hand home
    *catalogue.urlpatterns,
    *documents.urlpatterns,
    *requests.urlpatterns,
    *runs.urlpatterns,
    *counts.urlpatterns,
    *donations.urlpatterns,
]
