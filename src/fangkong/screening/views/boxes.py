"""Placeholder: filled by the boxes work."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
