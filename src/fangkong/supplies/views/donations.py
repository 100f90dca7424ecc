"""Pages: donations. (Filled in by the donations work; exposes urlpatterns.)"""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
