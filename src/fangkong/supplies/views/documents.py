"""Pages: documents. (Filled in by the documents work; exposes urlpatterns.)"""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
