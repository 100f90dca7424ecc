"""Reads on users, role assignments and tokens, always through the actor's scope.

A user is managed by whoever holds ``Perm.MANAGE_USERS`` over the user's home region,
provided every role the user holds also lies inside that scope: a township HQ must not be
able to reset the password of a county commander who happens to live in its township.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.utils.translation import gettext_lazy as _

from fangkong.accounts.models import ApiToken, RoleAssignment, User
from fangkong.accounts.roles import Perm
from fangkong.core.models import AuditEntry
from fangkong.core.regioncodes import upper_bound
from fangkong.core.scoping import restrict, scope_codes


def _within(field: str, codes: list[str]) -> Q:
    condition = Q()
    for code in codes:
        condition |= Q(**{f"{field}__gte": code, f"{field}__lt": upper_bound(code)})
    return condition


def managed_users(actor: Any) -> QuerySet[User]:
    """Users ``actor`` may see and change on the user pages and API."""
    users = restrict(User.objects.all(), actor, Perm.MANAGE_USERS)
    codes = scope_codes(actor, Perm.MANAGE_USERS)
    if not codes:  # None: unrestricted; []: restrict already returned nothing
        return users
    outside = RoleAssignment.objects.filter(user=OuterRef("pk")).exclude(
        _within("region_code", codes)
    )
    return users.exclude(Exists(outside))


def can_manage(actor: Any, user: User) -> bool:
    if actor is None:
        return True
    return managed_users(actor).filter(pk=user.pk).exists()


def user_list(actor: Any) -> QuerySet[User]:
    """Managed users with what the list shows, in a fixed number of queries."""
    from django.db.models import Prefetch

    from fangkong.geo.models import Region

    region_name = Region.objects.filter(code=OuterRef("region_code")).values("short_name")[:1]
    assignments = RoleAssignment.objects.annotate(region_name=Subquery(region_name)).order_by(
        "region_code", "role"
    )
    return (
        managed_users(actor)
        .annotate(home_region_name=Subquery(region_name))
        .prefetch_related(Prefetch("role_assignments", queryset=assignments))
        .order_by("region_code", "username")
    )


def assignments_with_names(user: User) -> list[RoleAssignment]:
    from fangkong.geo.models import Region

    region_name = Region.objects.filter(code=OuterRef("region_code")).values("short_name")[:1]
    return list(
        user.role_assignments.annotate(region_name=Subquery(region_name))
        .select_related("created_by")
        .order_by("region_code", "role")
    )


def tokens_of(user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("revoked_at", "-created_at")


def managed_token(actor: Any, pk: Any) -> ApiToken | None:
    """A token the actor may revoke: their own, or one of a user they manage."""
    try:
        token = ApiToken.objects.select_related("user").get(pk=pk)
    except (ApiToken.DoesNotExist, ValueError, TypeError):
        return None
    if token.user_id == getattr(actor, "pk", None) or can_manage(actor, token.user):
        return token
    return None


def managed_assignment(actor: Any, pk: Any) -> RoleAssignment | None:
    """An assignment of a managed user (404 otherwise)."""
    try:
        assignment = RoleAssignment.objects.select_related("user").get(pk=pk)
    except (RoleAssignment.DoesNotExist, ValueError, TypeError):
        return None
    if actor is not None and not can_manage(actor, assignment.user):
        return None
    return assignment


def audit_about(actor: Any, user: User, limit: int = 20) -> list[AuditEntry]:
    """Recent audit entries whose object is ``user`` (the actor must read the audit log)."""
    entries = AuditEntry.objects.filter(object_type="accounts.user", object_id=str(user.pk))
    rows = list(restrict(entries, actor, Perm.VIEW_AUDIT).order_by("-created_at", "-id")[:limit])
    for entry in rows:
        entry.changes = _changes(entry.before, entry.after)  # type: ignore[attr-defined]
        entry.label = ACTION_LABELS.get(entry.action, entry.action)  # type: ignore[attr-defined]
    return rows


ACTION_LABELS = {
    "accounts.create_user": _("User created"),
    "accounts.update_user": _("Profile changed"),
    "accounts.set_password": _("Password set"),
    "accounts.activate_user": _("Reactivated"),
    "accounts.deactivate_user": _("Deactivated"),
    "accounts.assign_role": _("Role assigned"),
    "accounts.revoke_role": _("Role removed"),
    "accounts.create_token": _("API token created"),
    "accounts.revoke_token": _("API token revoked"),
}

# Snapshot fields nobody edits through fangkong: left out of the history on the user page.
_QUIET_FIELDS = {"id", "last_login", "is_superuser", "first_name", "last_name", "is_staff"}


def _changes(before: Any, after: Any) -> list[tuple[str, Any]]:
    """The values worth showing: what differs between before and after, else what was set."""
    before = before if isinstance(before, dict) else {}
    after = after if isinstance(after, dict) else {}
    if before and after:
        return [(k, v) for k, v in after.items() if before.get(k) != v]
    return [
        (k, v)
        for k, v in (after or before).items()
        if k not in _QUIET_FIELDS and v not in ("", None) and k != "date_joined"
    ]


def region_choices(actor: Any, limit: int = 500) -> list[tuple[str, str]]:
    """(code, "code name") for regions down to township level inside the actor's scope."""
    from fangkong.geo.models import Region

    regions = restrict(Region.objects.filter(level__lte=4), actor, Perm.MANAGE_USERS)
    return [
        (code, f"{code} {name}")
        for code, name in regions.order_by("code").values_list("code", "short_name")[:limit]
    ]
