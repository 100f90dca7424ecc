"""Search keys of a person's name: simplified form, full pinyin and initials.

Computed once per distinct name (a village repeats surnames and given names constantly),
so a 100,000-row import pays for a few thousand pinyin conversions, not 100,000. Most
names are also cheap to convert: when no part of a name is a word in pypinyin's phrase
dictionary, pypinyin reads it character by character, so the keys are joined from a
per-character cache (the same result, about 30x faster than segmenting each name).
"""

from __future__ import annotations

import gc
import unicodedata
from functools import lru_cache

# Longer names (Latin ones, transliterations) take the general path.
_FAST_MAX_LENGTH = 8


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
    simplified = to_simplified(name)
    keys = _per_character(simplified)
    if keys is None:
        keys = _segmented(simplified)
    return simplified, *keys


def _segmented(simplified: str) -> tuple[str, str]:
    # pypinyin's dictionaries take ~30 MB: loaded on first use, not in every process.
    from pypinyin import Style, lazy_pinyin

    full = "".join(lazy_pinyin(simplified, errors="ignore")).lower()
    initials = "".join(lazy_pinyin(simplified, style=Style.FIRST_LETTER, errors="ignore")).lower()
    return full, initials


def load_dictionaries() -> None:
    """Load what name keys need (pypinyin's dictionaries, the t2s converter) now: an
    import does it while its file is read (core.importing.readers.open_table), and a
    checking process forked afterwards shares them instead of loading its own."""
    _dictionaries()
    to_simplified("張")


@lru_cache(maxsize=1)
def _dictionaries() -> tuple[dict[int, str], dict[str, list[list[str]]]]:
    from pypinyin.constants import PHRASES_DICT, PINYIN_DICT

    _segmented("中文")  # pypinyin builds its segmenter's prefix index on first use
    # Loaded once and kept for the life of the process: about a million lists and dicts
    # that every full collection would otherwise walk again (0.45 s in a 100,000-row
    # import). gc.freeze() moves everything alive now out of the collector's way, as
    # fangkong.wsgi does at start; only a reference cycle alive at this moment would never
    # be collected.
    gc.freeze()
    return PINYIN_DICT, PHRASES_DICT


@lru_cache(maxsize=50_000)
def _character(char: str) -> tuple[str, str]:
    return _segmented(char)


def _per_character(text: str) -> tuple[str, str] | None:
    """The keys joined per character, or None when pypinyin would segment the name
    differently (a phrase inside it, or a character it has no reading for)."""
    if not text or len(text) > _FAST_MAX_LENGTH:
        return None
    characters, phrases = _dictionaries()
    for char in text:
        if ord(char) not in characters:
            return None
    length = len(text)
    for start in range(length - 1):
        for end in range(start + 2, length + 1):
            if text[start:end] in phrases:
                return None
    parts = [_character(char) for char in text]
    return "".join(p[0] for p in parts), "".join(p[1] for p in parts)
