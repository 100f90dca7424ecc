"""Pages: catalogue. (Filled in by the catalogue work; exposes urlpatterns.)"""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
