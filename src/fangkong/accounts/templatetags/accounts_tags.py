"""Template filters for account pages."""

from __future__ import annotations

import datetime as dt
import math

from django import template

register = template.Library()


@register.filter
def minutes(value: dt.timedelta | None) -> int:
    """Whole minutes in a duration, rounded up (a lockout of 90 s reads "2 minutes")."""
    if not isinstance(value, dt.timedelta):
        return 0
    return max(1, math.ceil(value.total_seconds() / 60))
