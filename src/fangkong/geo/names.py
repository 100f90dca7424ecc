"""Finding regions by what people type: official or short name, no suffix, traditional.

``match_region("蔣台屯", within="410522")`` → 蒋台屯村. The text is normalised first (NFKC,
so full-width letters and digits become plain; all spaces dropped; traditional characters
turned simplified with OpenCC t2s), then tried in tiers, the first tier with a hit wins:

1. a division code (``410522116215``);
2. the short name, or an official name reduced to its short name (蒋台屯村民委员会 and
   蒋台屯村 both give 蒋台屯村, see ``shortnames``);
3. the text plus a place word (蒋台屯 + 村, 高庄 + 镇 ...).

``match_region`` answers only when exactly one region is found: a name shared by two
regions in scope (高庄 is both 高庄镇 and its village 高庄村) gives None, and
``find_regions`` lists them (then also regions whose name merely contains the text).
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from typing import Any

from django.db.models import QuerySet

from fangkong.core.regioncodes import is_valid_code, upper_bound
from fangkong.geo.models import Region
from fangkong.geo.shortnames import PLACE_SUFFIXES, village_short_name

MAX_QUERY_LENGTH = 100


@lru_cache(maxsize=1)
def _t2s() -> Any:
    import opencc

    # Building the converter reads its dictionaries (tens of ms): once per process.
    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    return str(_t2s().convert(text)) if text else text


def normalize_query(text: str | None) -> str:
    """NFKC, no whitespace at all, simplified characters; capped in length."""
    if not text:
        return ""
    cleaned = "".join(unicodedata.normalize("NFKC", str(text)).split())
    cleaned = "".join(ch for ch in cleaned if ch.isprintable())[:MAX_QUERY_LENGTH]
    return to_simplified(cleaned)


def _scope(
    queryset: QuerySet[Region] | None, within: str | None, level: int | None
) -> QuerySet[Region]:
    qs = queryset if queryset is not None else Region.objects.all()
    if within:
        qs = qs.filter(code__gte=within, code__lt=upper_bound(within))
    if level is not None:
        qs = qs.filter(level=level)
    return qs


def _tiers(query: str) -> list[dict[str, Any]]:
    tiers: list[dict[str, Any]] = []
    if query.isdigit() and query.isascii() and is_valid_code(query):
        tiers.append({"code": query})
    tiers.append({"short_name__in": sorted({query, village_short_name(query)})})
    tiers.append({"short_name__in": [query + suffix for suffix in PLACE_SUFFIXES]})
    return tiers


def exact_matches(
    text: str | None,
    within: str | None = None,
    level: int | None = None,
    *,
    queryset: QuerySet[Region] | None = None,
    limit: int = 20,
) -> list[Region]:
    """The regions of the first tier (code, name, name without suffix) that has any."""
    query = normalize_query(text)
    if not query:
        return []
    scoped = _scope(queryset, within, level)
    for lookup in _tiers(query):
        found = list(scoped.filter(**lookup).order_by("level", "code")[:limit])
        if found:
            return found
    return []


def match_region(
    text: str | None,
    within: str | None = None,
    level: int | None = None,
    *,
    queryset: QuerySet[Region] | None = None,
) -> Region | None:
    """The one region ``text`` names within ``within`` (a code prefix), or None.

    None when nothing matches and when the name is ambiguous in that scope. ``queryset``
    narrows further (pass ``restrict(Region.objects.all(), user, perm)`` for a user).
    """
    found = exact_matches(text, within, level, queryset=queryset, limit=2)
    return found[0] if len(found) == 1 else None


def find_regions(
    text: str | None,
    within: str | None = None,
    limit: int = 20,
    *,
    level: int | None = None,
    queryset: QuerySet[Region] | None = None,
) -> list[Region]:
    """Regions for a search box: exact matches first, then names containing the text.

    Ordered by level then code within each group; at most ``limit``.
    """
    query = normalize_query(text)
    if not query or limit <= 0:
        return []
    found = exact_matches(query, within, level, queryset=queryset, limit=limit)
    if len(found) >= limit:
        return found
    seen = {region.code for region in found}
    scoped = _scope(queryset, within, level)
    more = scoped.filter(short_name__contains=query)
    if query.isdigit() and query.isascii():
        # A partial code finds the regions under it (4105 → 安阳市's subtree).
        more = scoped.filter(code__gte=query, code__lt=upper_bound(query))
    for region in more.exclude(code__in=seen).order_by("level", "code")[: limit - len(found)]:
        found.append(region)
    return found
