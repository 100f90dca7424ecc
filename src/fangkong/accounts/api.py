"""Accounts API at /api/v1/accounts: users and role assignments (HQ), own API tokens.

Users outside the caller's scope answer 404 exactly like missing ones. Responses never
carry password hashes or token hashes: the schemas below list every field sent.
"""

# No `from __future__ import annotations`: ninja reads the parameter annotations at import.
import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from fangkong.accounts import actions, queries
from fangkong.accounts.filters import UserFilter
from fangkong.accounts.models import ApiToken, RoleAssignment, User
from fangkong.accounts.roles import Perm
from fangkong.core.pagination import PageNumber
from fangkong.core.scoping import has_permission

router = Router(tags=["accounts"])


# ---------------------------------------------------------------- schemas


class AssignmentOut(Schema):
    id: int
    role: str
    region_code: str
    region_name: str | None = None

    @staticmethod
    def resolve_region_name(obj: RoleAssignment) -> str | None:
        return getattr(obj, "region_name", None)


class UserOut(Schema):
    id: int
    username: str
    display_name: str
    phone: str
    organization: str
    email: str
    region_code: str
    is_active: bool
    date_joined: dt.datetime
    last_login: dt.datetime | None
    assignments: list[AssignmentOut]

    @staticmethod
    def resolve_assignments(obj: User) -> list[RoleAssignment]:
        return list(obj.role_assignments.all())


class UserDetailOut(UserOut):
    active_tokens: int

    @staticmethod
    def resolve_active_tokens(obj: User) -> int:
        return obj.api_tokens.filter(revoked_at__isnull=True).count()


class RoleIn(Schema):
    role: str = Field(..., max_length=64, examples=["village_cadre"])
    region_code: str = Field(..., max_length=40, examples=["410522116215"])


class UserCreateIn(Schema):
    username: str = Field(..., max_length=200)
    password: str = Field(..., max_length=200)
    region_code: str = Field(..., max_length=40, description="home region: decides who manages")
    display_name: str = Field("", max_length=200)
    phone: str = Field("", max_length=64)
    organization: str = Field("", max_length=300)
    email: str = Field("", max_length=300)
    roles: list[RoleIn] = Field(default_factory=list, max_length=50)


class UserPatchIn(Schema):
    display_name: str | None = Field(None, max_length=200)
    phone: str | None = Field(None, max_length=64)
    organization: str | None = Field(None, max_length=300)
    email: str | None = Field(None, max_length=300)
    region_code: str | None = Field(None, max_length=40)
    is_active: bool | None = None


class UserFilterIn(Schema):
    q: str | None = Field(None, max_length=100, description="username, name or work unit")
    role: str | None = Field(None, max_length=64)
    region: str | None = Field(None, max_length=40, description="home region code and below")
    active: bool | None = None


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None
    is_active: bool


class TokenIn(Schema):
    name: str = Field(..., max_length=200)


class TokenCreatedOut(Schema):
    token: TokenOut
    raw: str = Field(..., description="the token itself: shown only in this response")


# ---------------------------------------------------------------- helpers


def _require_manager(request: HttpRequest) -> None:
    if not has_permission(request.user, Perm.MANAGE_USERS):
        raise PermissionDenied


def _managed_user(request: HttpRequest, user_id: int) -> User:
    _require_manager(request)
    user = queries.user_list(request.user).filter(pk=user_id).first()
    if user is None:
        raise Http404
    return user


# ---------------------------------------------------------------- users


@router.get("/users", response=list[UserOut])
@paginate(PageNumber)
def list_users(request: HttpRequest, filters: Query[UserFilterIn]) -> Any:
    """Users the caller manages, filtered like the user list page."""
    _require_manager(request)
    data = filters.dict(exclude_none=True)
    if "active" in data:
        data["active"] = "true" if data["active"] else "false"
    filterset = UserFilter(data, queryset=queries.user_list(request.user))
    if not filterset.is_valid():
        raise ValidationError({name: list(errors) for name, errors in filterset.errors.items()})
    return filterset.qs


@router.get("/users/{user_id}", response=UserDetailOut)
def get_user(request: HttpRequest, user_id: int) -> Any:
    return _managed_user(request, user_id)


@router.post("/users", response={201: UserDetailOut})
def create_user(request: HttpRequest, payload: UserCreateIn) -> Any:
    """Create a user with its role assignments (each inside the caller's scope)."""
    _require_manager(request)
    user = actions.create_user(
        actor=request.user,
        username=payload.username,
        password=payload.password,
        region_code=payload.region_code,
        display_name=payload.display_name,
        phone=payload.phone,
        organization=payload.organization,
        email=payload.email,
        roles=[(r.role, r.region_code) for r in payload.roles],
    )
    return Status(201, _managed_user(request, user.pk))


@router.patch("/users/{user_id}", response=UserDetailOut)
def update_user(request: HttpRequest, user_id: int, payload: UserPatchIn) -> Any:
    """Change profile fields, the home region, or is_active (deactivate / reactivate)."""
    user = _managed_user(request, user_id)
    fields = payload.dict(exclude_unset=True)
    active = fields.pop("is_active", None)
    with transaction.atomic():
        if fields:
            actions.update_user(actor=request.user, user=user, **fields)
        if active is not None:
            actions.set_user_active(actor=request.user, user=user, active=active)
    refreshed = queries.user_list(request.user).filter(pk=user_id).first()
    if refreshed is None:  # moved out of the caller's own scope: nothing more to show
        raise Http404
    return refreshed


@router.post("/users/{user_id}/assignments", response={201: AssignmentOut})
def add_assignment(request: HttpRequest, user_id: int, payload: RoleIn) -> Any:
    user = _managed_user(request, user_id)
    assignment = actions.assign_role(
        actor=request.user, user=user, role=payload.role, region_code=payload.region_code
    )
    return Status(201, assignment)


@router.delete("/assignments/{assignment_id}", response={204: None})
def delete_assignment(request: HttpRequest, assignment_id: int) -> Any:
    _require_manager(request)
    assignment = queries.managed_assignment(request.user, assignment_id)
    if assignment is None:
        raise Http404
    actions.revoke_role(actor=request.user, assignment=assignment)
    return Status(204, None)


# ---------------------------------------------------------------- tokens


@router.get("/tokens", response=list[TokenOut])
@paginate(PageNumber)
def list_tokens(request: HttpRequest) -> Any:
    """The caller's own tokens (never their secrets)."""
    return queries.tokens_of(request.user)  # type: ignore[arg-type]


@router.post("/tokens", response={201: TokenCreatedOut})
def create_token(request: HttpRequest, payload: TokenIn) -> Any:
    """A new token for the caller; ``raw`` is returned only here, store it now."""
    token, raw = actions.create_token(actor=request.user, user=request.user, name=payload.name)  # type: ignore[arg-type]
    return Status(201, {"token": token, "raw": raw})


@router.delete("/tokens/{token_id}", response={204: None})
def revoke_token(request: HttpRequest, token_id: int) -> Any:
    """Revoke one of the caller's tokens, or a token of a user the caller manages."""
    token: ApiToken | None = queries.managed_token(request.user, token_id)
    if token is None:
        raise Http404
    actions.revoke_token(actor=request.user, token=token)
    return Status(204, None)
