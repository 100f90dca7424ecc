"""Masking of identity numbers, phones and addresses (DESIGN rule 3).

A model names its sensitive fields in ``MASKED_FIELDS = {"field": "id" | "phone" |
"address"}``; a model without the attribute gets the fields whose names say what they
hold (``*id_number*``, ``*phone*``, ``*address*``). Sites are places, so geo's Site
declares its own map and its address stays readable.
"""

from __future__ import annotations

from typing import Any

ID, PHONE, ADDRESS = "id", "phone", "address"

_NAME_HINTS = (
    ("id_number", ID),
    ("identity", ID),
    ("id_card", ID),
    ("phone", PHONE),
    ("mobile", PHONE),
    ("address", ADDRESS),
)


def mask_id_number(value: str) -> str:
    """410522199001011234 → 410522********1234 (the common practice)."""
    text = str(value)
    if len(text) <= 10:
        return "*" * len(text)
    return text[:6] + "*" * (len(text) - 10) + text[-4:]


def mask_phone(value: str) -> str:
    """13812345678 → 138****5678."""
    text = str(value)
    if len(text) <= 7:
        return "*" * len(text)
    return text[:3] + "*" * (len(text) - 7) + text[-4:]


def mask_address(value: str) -> str:
    """Keeps the first six characters (usually the township or village), hides the rest."""
    text = str(value)
    if len(text) <= 6:
        return text[:2] + "*" * max(0, len(text) - 2)
    return text[:6] + "****"


MASKERS = {ID: mask_id_number, PHONE: mask_phone, ADDRESS: mask_address}


def mask(kind: str, value: Any) -> Any:
    if value in (None, "") or not isinstance(value, (str, int)):
        return value
    return MASKERS[kind](str(value))


def sensitive_fields(model: Any, field_names: list[str] | None = None) -> dict[str, str]:
    """{field name: kind} for a model class (or None: decide by the names alone)."""
    declared = getattr(model, "MASKED_FIELDS", None) if model is not None else None
    if declared is not None:
        return dict(declared)
    names = field_names
    if names is None and model is not None:
        names = [f.name for f in model._meta.concrete_fields]
    found: dict[str, str] = {}
    for name in names or []:
        lowered = name.lower()
        for hint, kind in _NAME_HINTS:
            if hint in lowered:
                found[name] = kind
                break
    return found


def mask_snapshot(model: Any, data: dict[str, Any] | None) -> dict[str, Any] | None:
    """An audit snapshot with its sensitive values masked."""
    if not isinstance(data, dict):
        return data
    kinds = sensitive_fields(model, list(data))
    return {key: mask(kinds[key], value) if key in kinds else value for key, value in data.items()}
