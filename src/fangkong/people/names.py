"""Search keys of a person's name: simplified form, full pinyin and initials.

Computed once per distinct name (a village repeats surnames and given names constantly),
so a 100,000-row import pays for a few thousand pinyin conversions, not 100,000.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache


@lru_cache(maxsize=1)
def _t2s():  # type: ignore[no-untyped-def]
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    return str(_t2s().convert(text))


def clean_name(raw: object) -> str:
    """NFKC, inner spaces removed for Chinese names (张 三 → 张三), kept for Latin ones."""
    text = " ".join(unicodedata.normalize("NFKC", str(raw or "")).split())
    if text and not text.isascii():
        text = text.replace(" ", "")
    return text


@lru_cache(maxsize=200_000)
def name_keys(name: str) -> tuple[str, str, str]:
    """(simplified name, full pinyin, initials): 張三 → (张三, zhangsan, zs)."""
    # pypinyin's dictionaries take ~57 MB: loaded on first use, not in every process at start.
    from pypinyin import Style, lazy_pinyin

    simplified = to_simplified(name)
    full = "".join(lazy_pinyin(simplified, errors="ignore")).lower()
    initials = "".join(lazy_pinyin(simplified, style=Style.FIRST_LETTER, errors="ignore")).lower()
    return simplified, full, initials
