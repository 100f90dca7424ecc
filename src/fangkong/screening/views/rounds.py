"""Placeholder: filled by the rounds work."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
