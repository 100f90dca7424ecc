"""Pages: reports. (Filled in by the reports work; exposes urlpatterns.)"""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
