"""Supplies pages, one module per area; each exposes ``urlpatterns`` (see supplies/urls.py)."""
