"""Short display names of divisions (简称), derived from the official NBS names.

Rules, applied to villages (level 5) only; provinces, cities, counties and townships keep
their official name (高庄镇, 安阳县, 市辖区):

1. A trailing parenthetical is dropped: 宋场村委会（宋新场） → 宋场村委会 → 宋场村.
2. The committee suffix becomes the place word, longest suffix first:

   ========================================  ==========
   official ending                           short
   ========================================  ==========
   社区居民委员会, 社区居委会, 社区居民委会,       社区
   社区委员会
   居民委员会, 居民委会, 居委会               社区  (合阳居委会 → 合阳社区: a residents'
                                             committee is the committee of a 社区)
   嘎查村民委员会, 嘎查村委员会, 嘎查村委会      嘎查村
   嘎查委员会, 嘎查委会                       嘎查
   村民委员会, 村委员会, 村委会                村
   ========================================  ==========

   When the committee suffix is 村 and the remaining stem already ends in 村, no second 村
   is added: 黄石村村委会 → 黄石村, 韩村村民委员会 → 韩村, but 蒋台屯村民委员会 → 蒋台屯村.
3. Any other name (生活区, 管理区, 牧委会, 家委会, 多福巷社区, ...) is kept as it is, and so is
   a name that would be left with an empty stem.

The same function is applied to search text, so typing an official name, a 居委会 form or
the short form all land on the same ``short_name``.
"""

from __future__ import annotations

import re

# (official ending, replacement)
_SUFFIX_TABLE: tuple[tuple[str, str], ...] = (
    ("社区居民委员会", "社区"),
    ("嘎查村民委员会", "嘎查村"),
    ("社区居民委会", "社区"),
    ("嘎查村委员会", "嘎查村"),
    ("社区居委会", "社区"),
    ("社区委员会", "社区"),
    ("居民委员会", "社区"),
    ("村民委员会", "村"),
    ("嘎查委员会", "嘎查"),
    ("嘎查村委会", "嘎查村"),
    ("村委员会", "村"),
    ("居民委会", "社区"),
    ("嘎查委会", "嘎查"),
    ("居委会", "社区"),
    ("村委会", "村"),
)
_REPLACEMENTS = dict(_SUFFIX_TABLE)
# Longest endings are tried first, so 社区居委会 wins over 居委会 and 嘎查村委会 over 村委会.
_LENGTHS = sorted({len(ending) for ending in _REPLACEMENTS}, reverse=True)
# Every committee ending closes with one of these two characters: a cheap first test
# (this runs for each of the 620,573 villages of a full load).
_LAST_TWO = {ending[-2:] for ending in _REPLACEMENTS}
_TRAILING_PARENS = re.compile(r"(?:[（(][^（）()]*[）)])+$")

VILLAGE_LEVEL = 5


def village_short_name(name: str) -> str:
    """The short form of a village-level name (see the module docstring for the rules)."""
    if name.endswith(("）", ")")):
        name = _TRAILING_PARENS.sub("", name) or name
    if name[-2:] not in _LAST_TWO:
        return name
    for length in _LENGTHS:
        replacement = _REPLACEMENTS.get(name[-length:])
        if replacement is not None:
            stem = name[:-length]
            if not stem:
                return name
            if stem.endswith(replacement):
                return stem
            return stem + replacement
    return name


def short_name(name: str, level: int) -> str:
    """The display name for a division at ``level`` (1 province ... 5 village)."""
    if level == VILLAGE_LEVEL:
        return village_short_name(name)
    return name


# Place words a user may leave off: 蒋台屯 → 蒋台屯村, 高庄 → 高庄镇.
PLACE_SUFFIXES: tuple[str, ...] = (
    "村",
    "社区",
    "嘎查",
    "嘎查村",
    "镇",
    "乡",
    "街道",
    "县",
    "区",
    "市",
    "旗",
    "省",
    "自治县",
    "自治区",
)
