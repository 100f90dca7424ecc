"""Core API routes: who am I, jobs, audit (read-only)."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router

router = Router(tags=["core"])


@router.get("/me")
def me(request: HttpRequest) -> dict:
    """The caller, and the role assignments that decide what it sees."""
    user = request.user
    return {
        "username": user.get_username(),
        "display_name": getattr(user, "display_name", ""),
        "assignments": [
            {"role": role, "region_code": code}
            for role, code in user.role_assignments.values_list("role", "region_code")  # type: ignore[union-attr]
        ],
    }
