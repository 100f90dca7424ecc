"""The one search box of the ledger: name, pinyin, initials, phone, ID, or their tails.

Every kind is an indexed prefix range (``key >= q AND key < upper_bound(q)``) or an
equality on one of Person's search-key columns, never a leading-wildcard LIKE: the tails
of IDs and phones are prefixes of the reversed numbers. The caller combines the result
with the scope range of ``core.scoping.restrict``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from django.db.models import Q

from fangkong.core.regioncodes import upper_bound
from fangkong.people.identity import reversed_key
from fangkong.people.names import clean_name, to_simplified

MAX_QUERY = 64
_NUMBER_NOISE = re.compile(r"[\s\-‐‑–—_/.·()（）+]")
_LETTERS = re.compile(r"^[a-z]+$")
_ID_LIKE = re.compile(r"^\d{5,17}[\dX]$")


@dataclass(frozen=True)
class SearchPlan:
    kind: str  # name, pinyin, phone, id, tail, none
    # Each part is one indexed range or equality and the column it runs on. Their OR is
    # ``condition`` (for filtering a list); the search box runs the parts one by one,
    # each in its own index order with a LIMIT, because with an OR and "ORDER BY ...
    # LIMIT" PostgreSQL may walk one index in order and filter by the other (measured:
    # p95 1.7 s for initials over 1M rows, against a few ms per part).
    parts: tuple[tuple[Q, str], ...]

    @property
    def condition(self) -> Q | None:
        if not self.parts:
            return None
        combined = Q()
        for part, _field in self.parts:
            combined |= part
        return combined


def _prefix(field: str, value: str) -> tuple[Q, str]:
    return Q(**{f"{field}__gte": value, f"{field}__lt": upper_bound(value)}), field


def _equal(field: str, value: str) -> tuple[Q, str]:
    return Q(**{field: value}), field


def plan(text: str) -> SearchPlan:
    """Decide what the text is and the indexed condition that finds it."""
    raw = unicodedata.normalize("NFKC", str(text or ""))[: MAX_QUERY * 2]
    # Control characters and lone surrogates match nothing (PostgreSQL refuses a NUL).
    raw = "".join(ch for ch in raw if unicodedata.category(ch) not in {"Cc", "Cs"})
    raw = raw.strip()[:MAX_QUERY]
    if not raw:
        return SearchPlan("none", ())
    compact = _NUMBER_NOISE.sub("", raw).upper()
    if compact.isascii() and compact.isdigit() and len(compact) == 11:
        # A mobile number (or an 11-character tail of an ID, rare but cheap to include).
        tail = reversed_key(compact)
        return SearchPlan("phone", (_equal("phone_reversed", tail), _prefix("id_reversed", tail)))
    if compact.isascii() and len(compact) in (15, 18) and _ID_LIKE.match(compact):
        return SearchPlan("id", (_equal("id_reversed", reversed_key(compact)),))
    if compact.isascii() and compact.isdigit() and len(compact) >= 3:
        tail = reversed_key(compact)
        return SearchPlan("tail", (_prefix("id_reversed", tail), _prefix("phone_reversed", tail)))
    if compact.isascii() and len(compact) >= 3 and _ID_LIKE.match("00000" + compact):
        # An ID tail ending in X (such as 123X).
        return SearchPlan("tail", (_prefix("id_reversed", reversed_key(compact)),))
    letters = raw.lower().replace(" ", "").replace("'", "")
    if _LETTERS.match(letters):
        return SearchPlan(
            "pinyin", (_prefix("name_pinyin", letters), _prefix("name_initials", letters))
        )
    name = to_simplified(clean_name(raw))
    if name and not name.isascii():
        return SearchPlan("name", (_prefix("name_key", name),))
    return SearchPlan("none", ((Q(pk__in=[]), "id"),))
