"""Pure helpers on NBS division codes (统计用区划代码); no database access.

A code's prefix is its ancestry: 410522116215 (蒋台屯村) lies under 410522116
(高庄镇), 410522 (安阳县), 4105 (安阳市) and 41 (河南省). Village groups (村民小组)
append three digits below a village.
"""

from __future__ import annotations

import re
from enum import IntEnum

from django.utils.translation import gettext_lazy as _

CODE_RE = re.compile(r"^\d{2}(\d{2}(\d{2}(\d{3}(\d{3}(\d{3})?)?)?)?)?$")


class Level(IntEnum):
    """Region level (区划级别)."""

    PROVINCE = 1
    CITY = 2
    COUNTY = 3
    TOWNSHIP = 4
    VILLAGE = 5
    GROUP = 6


LEVEL_BY_LENGTH = {
    2: Level.PROVINCE,
    4: Level.CITY,
    6: Level.COUNTY,
    9: Level.TOWNSHIP,
    12: Level.VILLAGE,
    15: Level.GROUP,
}
LENGTH_BY_LEVEL = {level: length for length, level in LEVEL_BY_LENGTH.items()}

LEVEL_LABELS = {
    Level.PROVINCE: _("Province"),
    Level.CITY: _("City"),
    Level.COUNTY: _("County"),
    Level.TOWNSHIP: _("Township"),
    Level.VILLAGE: _("Village"),
    Level.GROUP: _("Village group"),
}

MAX_CODE_LENGTH = 15


def is_valid_code(code: str) -> bool:
    return bool(CODE_RE.match(code))


def level_of(code: str) -> Level:
    try:
        return LEVEL_BY_LENGTH[len(code)]
    except KeyError:
        raise ValueError(f"not a division code: {code!r}") from None


def parent_code(code: str) -> str | None:
    """The code one level up, or None for a province."""
    length = len(code)
    for shorter in (12, 9, 6, 4, 2):
        if shorter < length:
            return code[:shorter]
    return None


def ancestor_codes(code: str) -> list[str]:
    """Codes from the province down to (not including) this one."""
    return [code[:n] for n in (2, 4, 6, 9, 12) if n < len(code)]


def upper_bound(prefix: str) -> str:
    """The smallest string greater than every string starting with ``prefix``.

    Scoping filters ``prefix <= region_code < upper_bound(prefix)``: a range that a
    B-tree index on region_code answers directly (a LIKE 'prefix%' may not).
    """
    if not prefix:
        raise ValueError("empty prefix has no upper bound")
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def is_within(code: str, prefix: str) -> bool:
    return code.startswith(prefix)


def minimal_prefixes(codes: list[str] | set[str]) -> list[str]:
    """Drop codes already covered by a shorter one in the list (4105 covers 410522)."""
    kept: list[str] = []
    for code in sorted(set(codes), key=lambda c: (len(c), c)):
        if not any(code.startswith(k) for k in kept):
            kept.append(code)
    return sorted(kept)
