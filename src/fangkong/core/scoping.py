"""Region scoping: the single place where "who may see what" is applied (DESIGN rule 1).

Every list, detail, search, export, API route and job passes its queryset through
``restrict``. A user sees a record when the record's region_code starts with the code of
one of their role assignments whose role grants the permission asked for. The test is an
indexed range (``code <= region_code < upper_bound(code)``), never a LIKE.
Out of scope is a 404, never a 403 that confirms the record exists.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db.models import Model, Q, QuerySet
from django.http import Http404

from fangkong.accounts.roles import ROLE_PERMISSIONS
from fangkong.core.regioncodes import minimal_prefixes, upper_bound

M = TypeVar("M", bound=Model)

_CACHE_ATTR = "_fangkong_assignments"


def _assignments(user: Any) -> list[tuple[str, str]]:
    """(role, region_code) pairs, loaded once per user object (so once per request)."""
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is None:
        cached = list(user.role_assignments.values_list("role", "region_code"))
        setattr(user, _CACHE_ATTR, cached)
    return cached


def forget_cached_scope(user: Any) -> None:
    if hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)


def is_unrestricted(user: Any) -> bool:
    return bool(getattr(user, "is_superuser", False) and user.is_active)


def scope_codes(user: Any, permission: str) -> list[str] | None:
    """Region prefixes where ``user`` holds ``permission``; None means everywhere."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return []
    if is_unrestricted(user):
        return None
    codes = [
        code
        for role, code in _assignments(user)
        if permission in ROLE_PERMISSIONS.get(role, frozenset())
    ]
    return minimal_prefixes(codes)


def has_permission(user: Any, permission: str, region_code: str | None = None) -> bool:
    """Whether the user holds ``permission`` anywhere, or over ``region_code`` if given."""
    codes = scope_codes(user, permission)
    if codes is None:
        return True
    if region_code is None:
        return bool(codes)
    return any(region_code.startswith(code) for code in codes)


def restrict(
    queryset: QuerySet[M], user: Any, action: str, field: str | None = None
) -> QuerySet[M]:
    """Limit ``queryset`` to the records ``user`` may ``action`` (a permission name).

    ``field`` defaults to the model's SCOPE_FIELD (``region_code`` for most models).
    """
    scope_field = field or getattr(queryset.model, "SCOPE_FIELD", "region_code")
    codes = scope_codes(user, action)
    if codes is None:
        return queryset
    if not codes:
        return queryset.none()
    condition = Q()
    for code in codes:
        condition |= Q(**{f"{scope_field}__gte": code, f"{scope_field}__lt": upper_bound(code)})
    return queryset.filter(condition)


def require_permission(
    actor: Any, permission: str, region_code: str | None = None, message: str | None = None
) -> None:
    """For actions: PermissionDenied unless ``actor`` holds ``permission`` (over
    ``region_code`` when given). ``actor`` None is the system (the demo, the operator's
    CLI, jobs), which may do anything."""
    if actor is not None and not has_permission(actor, permission, region_code):
        raise PermissionDenied(message) if message else PermissionDenied


def ensure_permission_somewhere(user: Any, permission: str) -> None:
    """403 for a user whose roles never grant ``permission``.

    A page that exists for every holder (a list, a form) hides nothing by refusing a
    non-holder outright; a holder then sees only the rows of their regions, and a record
    outside them is a 404 (``get_scoped_or_404``).
    """
    if not has_permission(user, permission):
        raise PermissionDenied


def get_scoped_or_404(queryset: QuerySet[M], user: Any, action: str, **lookup: Any) -> M:
    """One record the user may ``action``; a 404 when it is missing or out of scope."""
    try:
        return restrict(queryset, user, action).get(**lookup)
    except (ObjectDoesNotExist, ValueError, TypeError) as exc:
        raise Http404 from exc
