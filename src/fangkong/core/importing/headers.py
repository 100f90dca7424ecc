"""Finding the header row and mapping columns to fields.

Ledgers start with title rows (XX村返乡人员台账, merged across the sheet), sometimes a
date line, then the header. The header is the row among the first ones whose cells match
the most known column names (aliases, Chinese and English; traditional characters and
decorations such as "*", "（必填）" or full-width letters ignored).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from django_stubs_ext import StrOrPromise

# Decorations around a header's words: required marks, bracketed notes, punctuation.
_BRACKETED = re.compile(r"[(（\[【].*?[)）\]】]")
_NOISE = re.compile(r"[\s*＊:：_\-/、.]+")
MIN_HEADER_MATCHES = 2


@lru_cache(maxsize=4096)
def normalize_header(text: str) -> str:
    """NFKC, simplified, lower case, decorations removed: " 身份證號碼（必填）*" → 身份证号码."""
    from fangkong.geo.names import to_simplified

    cleaned = unicodedata.normalize("NFKC", text).strip()
    without_notes = _BRACKETED.sub("", cleaned)
    # "村(社区)" is itself a name: keep the bracketed words when nothing else is left.
    cleaned = without_notes if _NOISE.sub("", without_notes) else cleaned
    cleaned = _NOISE.sub("", cleaned).lower()
    return to_simplified(cleaned)


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: StrOrPromise
    aliases: tuple[str, ...] = ()
    required: bool = False


@dataclass
class ImportSchema:
    fields: list[FieldSpec]
    _alias_map: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for spec in self.fields:
            for alias in (spec.name, *spec.aliases):
                self._alias_map.setdefault(normalize_header(alias), spec.name)

    def field_for(self, header: Any) -> str | None:
        if header is None:
            return None
        text = str(header)
        if not text.strip():
            return None
        return self._alias_map.get(normalize_header(text))

    def names(self) -> list[str]:
        return [spec.name for spec in self.fields]

    def spec(self, name: str) -> FieldSpec:
        return next(spec for spec in self.fields if spec.name == name)

    def required(self) -> list[FieldSpec]:
        return [spec for spec in self.fields if spec.required]


@dataclass
class HeaderGuess:
    """The header row (index into the sheet's rows), its cells and the column mapping."""

    row_index: int
    header: list[str]
    mapping: dict[int, str]  # column index → field name

    def missing(self, schema: ImportSchema) -> list[FieldSpec]:
        mapped = set(self.mapping.values())
        return [spec for spec in schema.required() if spec.name not in mapped]


def auto_map(header: Sequence[Any], schema: ImportSchema) -> dict[int, str]:
    """Each recognised column to its field; a field claimed twice keeps its first column."""
    mapping: dict[int, str] = {}
    taken: set[str] = set()
    for index, cell in enumerate(header):
        name = schema.field_for(cell)
        if name and name not in taken:
            mapping[index] = name
            taken.add(name)
    return mapping


def find_header(rows: Sequence[Sequence[Any]], schema: ImportSchema) -> HeaderGuess | None:
    """The row with the most recognised columns (at least two), or None."""
    best: HeaderGuess | None = None
    for index, row in enumerate(rows):
        mapping = auto_map(row, schema)
        if len(mapping) >= MIN_HEADER_MATCHES and (
            best is None or len(mapping) > len(best.mapping)
        ):
            header = ["" if cell is None else str(cell).strip() for cell in row]
            best = HeaderGuess(row_index=index, header=header, mapping=mapping)
    return best


def clean_mapping(raw: dict[Any, Any], width: int, schema: ImportSchema) -> dict[int, str]:
    """A user-edited mapping ({"3": "phone"}), cut to known fields and real columns."""
    names = set(schema.names())
    mapping: dict[int, str] = {}
    taken: set[str] = set()
    for key, value in raw.items():
        try:
            index = int(key)
        except (TypeError, ValueError):
            continue
        if 0 <= index < width and value in names and value not in taken:
            mapping[index] = str(value)
            taken.add(str(value))
    return mapping
