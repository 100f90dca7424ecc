"""Pages: counts. (Filled in by the counts work; exposes urlpatterns.)"""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
