"""The demo's synthetic population (built by the people work)."""

from __future__ import annotations

from typing import Any


def populate(ctx: Any) -> None:
    """Placeholder until the synthetic population lands."""
