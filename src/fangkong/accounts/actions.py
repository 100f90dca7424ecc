"""Every write on users, role assignments and API tokens (DESIGN rule 2).

Who may manage whom: an actor holding ``Perm.MANAGE_USERS`` over a region manages the
users whose home region (``User.region_code``) lies in it, and may grant roles only on
regions inside that scope, so nobody can hand out more than they hold. ``actor=None`` is
the system (CLI, demo, jobs): no scope check, audited as "system".
Assignment and token events are audited against the user they concern, so a user's page
can show their whole history with one indexed lookup.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any

from django.contrib.auth import password_validation
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fangkong.accounts.models import ApiToken, RoleAssignment, User
from fangkong.accounts.queries import can_manage
from fangkong.accounts.roles import Perm, role_label
from fangkong.accounts.validation import (
    clean_phone,
    clean_region_code,
    clean_role,
    clean_text,
    clean_username,
    nfkc,
)
from fangkong.core import audit
from fangkong.core.api import TOKEN_PREFIX, hash_secret
from fangkong.core.scoping import (
    forget_cached_scope,
    has_permission,
    require_permission,
    scope_codes,
)

EDITABLE_FIELDS = ("display_name", "phone", "organization", "region_code", "email")
TOKEN_NAME_MAX = 64


# ---------------------------------------------------------------- checks


def _require_manager(actor: Any) -> None:
    require_permission(
        actor, Perm.MANAGE_USERS, None, message=_("Your role does not allow managing users.")
    )


def _require_manages(actor: Any, user: User) -> None:
    _require_manager(actor)
    if not can_manage(actor, user):
        # Same words as a missing record: out of scope must not confirm the user exists.
        raise PermissionDenied(_("This user is outside your jurisdiction."))


def check_grantable(actor: Any, code: str) -> None:
    """Raise a ValidationError unless ``actor`` may grant roles and home users on ``code``.

    Forms call it too, so a page shows this message next to the other field errors.
    """
    if actor is None or has_permission(actor, Perm.MANAGE_USERS, code):
        return
    codes = scope_codes(actor, Perm.MANAGE_USERS) or []
    raise ValidationError(
        _("Region %(code)s is outside your jurisdiction; you manage users only under %(scope)s.")
        % {"code": code, "scope": ", ".join(codes) or "-"},
        code="out_of_scope",
    )


def _scope_region(actor: Any, raw_code: Any, field: str) -> str:
    """A known region code the actor may grant on, or a ValidationError on ``field``."""
    try:
        code = clean_region_code(raw_code)
        check_grantable(actor, code)
    except ValidationError as exc:
        raise ValidationError({field: exc.messages}) from None
    return code


def _username(raw: Any, *, exclude_pk: int | None = None) -> str:
    try:
        name = clean_username(raw)
    except ValidationError as exc:
        raise ValidationError({"username": exc.messages}) from None
    taken = User.objects.filter(username__iexact=name)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise ValidationError(
            {"username": _("The username “%(name)s” is already taken.") % {"name": name}}
        )
    return name


def check_password(password: Any, user: User, field: str = "password") -> str:
    if not isinstance(password, str) or not password:
        raise ValidationError({field: _("Enter a password.")})
    if len(password) > 128:
        raise ValidationError({field: _("A password has at most 128 characters.")})
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({field: exc.messages}) from None
    return password


def _profile_fields(fields: dict[str, Any]) -> dict[str, str]:
    """Cleaned values for the free-text profile fields present in ``fields``."""
    max_lengths = {"display_name": 64, "organization": 128, "email": 254}
    cleaned: dict[str, str] = {}
    errors: dict[str, list[str]] = {}
    for name, value in fields.items():
        try:
            if name == "phone":
                cleaned[name] = clean_phone(value)
            elif name in max_lengths:
                cleaned[name] = clean_text(value, max_length=max_lengths[name])
        except ValidationError as exc:
            errors[name] = exc.messages
    if cleaned.get("email"):
        from django.core.validators import validate_email

        try:
            validate_email(cleaned["email"])
        except ValidationError as exc:
            errors["email"] = exc.messages
    if errors:
        raise ValidationError(errors)
    return cleaned


def _assignment_snapshot(assignment: RoleAssignment) -> dict[str, Any]:
    return {
        "assignment_id": assignment.pk,
        "role": assignment.role,
        "region_code": assignment.region_code,
    }


def _token_snapshot(token: ApiToken) -> dict[str, Any]:
    return {
        "token_id": token.pk,
        "name": token.name,
        "prefix": token.prefix,
        "revoked_at": token.revoked_at,
    }


def _actor_user(actor: Any) -> User | None:
    return actor if isinstance(actor, User) else None


# ---------------------------------------------------------------- users


def create_user(
    *,
    actor: Any,
    username: str,
    password: str,
    region_code: str,
    display_name: str = "",
    phone: str = "",
    organization: str = "",
    roles: Iterable[tuple[str, str]] = (),
    email: str = "",
) -> User:
    """A new active user homed at ``region_code`` with the given (role, region_code) pairs."""
    _require_manager(actor)
    errors: dict[str, list[str]] = {}

    def collect(field: str, check: Any) -> Any:
        try:
            return check()
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                errors.setdefault(name if name != "__all__" else field, []).extend(messages)
            return None

    name = collect("username", lambda: _username(username))
    home = collect("region_code", lambda: _scope_region(actor, region_code, "region_code"))
    profile = collect(
        "display_name",
        lambda: _profile_fields(
            {
                "display_name": display_name,
                "phone": phone,
                "organization": organization,
                "email": email,
            }
        ),
    )
    pairs: list[tuple[str, str]] = []
    for role, code in roles:
        try:
            pairs.append((clean_role(role), _scope_region(actor, code, "roles")))
        except ValidationError as exc:
            messages = exc.messages
            errors.setdefault("roles", []).extend(messages)
    if name is not None and profile is not None:
        probe = User(username=name, **profile)
        collect("password", lambda: check_password(password, probe))
    if errors:
        raise ValidationError(errors)

    with transaction.atomic():
        user = User(username=name, region_code=home, **(profile or {}))
        user.set_password(password)
        try:
            with transaction.atomic():
                user.save()
        except IntegrityError:  # a concurrent create with the same name won the race
            raise ValidationError(
                {"username": _("The username “%(name)s” is already taken.") % {"name": name}}
            ) from None
        audit.record(actor, "accounts.create_user", user, after=audit.snapshot(user))
        for role, code in dict.fromkeys(pairs):
            _add_assignment(actor, user, role, code)
    return user


def update_user(*, actor: Any, user: User, **fields: Any) -> User:
    """Change profile fields (display_name, phone, organization, email, region_code)."""
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"update_user cannot change {sorted(unknown)}")
    _require_manages(actor, user)
    cleaned = _profile_fields({k: v for k, v in fields.items() if k != "region_code"})
    if "region_code" in fields:
        cleaned["region_code"] = _scope_region(actor, fields["region_code"], "region_code")
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        before = audit.snapshot(user)
        for name, value in cleaned.items():
            setattr(user, name, value)
        after = audit.snapshot(user)
        if audit.changed(before, after):
            user.save(update_fields=list(cleaned))
            audit.record(actor, "accounts.update_user", user, before=before, after=after)
    return user


def set_password(*, actor: Any, user: User, password: str) -> None:
    """A new password, by the user themselves or by whoever manages them.

    Also lifts a login lockout for the username: HQ resetting a password is how a locked
    cadre gets back in before the cool-off ends.
    """
    if actor is None or _actor_user(actor) is None or actor.pk != user.pk:
        _require_manages(actor, user)
    check_password(password, user)
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        audit.record(actor, "accounts.set_password", user)
        username = user.get_username()
        transaction.on_commit(lambda: _reset_lockout(username))


def _reset_lockout(username: str) -> None:
    from axes.utils import reset

    reset(username=username)


def set_user_active(*, actor: Any, user: User, active: bool) -> User:
    if _actor_user(actor) is not None and actor.pk == user.pk and not active:
        raise ValidationError(
            _("You cannot deactivate your own account; ask another HQ user to do it.")
        )
    _require_manages(actor, user)
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if user.is_active == bool(active):
            return user
        before = audit.snapshot(user, ["is_active"])
        user.is_active = bool(active)
        user.save(update_fields=["is_active"])
        audit.record(
            actor,
            "accounts.activate_user" if active else "accounts.deactivate_user",
            user,
            before=before,
            after=audit.snapshot(user, ["is_active"]),
        )
    return user


# ---------------------------------------------------------------- role assignments


def _add_assignment(actor: Any, user: User, role: str, code: str) -> RoleAssignment:
    if RoleAssignment.objects.filter(user=user, role=role, region_code=code).exists():
        raise ValidationError(
            {
                "region_code": _("%(user)s already holds %(role)s on %(code)s.")
                % {"user": user.get_username(), "role": role_label(role), "code": code}
            }
        )
    try:
        with transaction.atomic():
            assignment = RoleAssignment.objects.create(
                user=user, role=role, region_code=code, created_by=_actor_user(actor)
            )
    except IntegrityError:
        raise ValidationError(
            {"region_code": _("This role is already assigned on that region.")}
        ) from None
    forget_cached_scope(user)
    audit.record(actor, "accounts.assign_role", user, after=_assignment_snapshot(assignment))
    return assignment


def assign_role(*, actor: Any, user: User, role: str, region_code: str) -> RoleAssignment:
    """Grant ``role`` on ``region_code`` (and its whole subtree) to ``user``."""
    _require_manages(actor, user)
    try:
        clean = clean_role(role)
    except ValidationError as exc:
        raise ValidationError({"role": exc.messages}) from None
    code = _scope_region(actor, region_code, "region_code")
    with transaction.atomic():
        return _add_assignment(actor, user, clean, code)


def revoke_role(*, actor: Any, assignment: RoleAssignment) -> None:
    user = assignment.user
    if _actor_user(actor) is not None and actor.pk == user.pk:
        raise ValidationError(_("You cannot remove your own roles; ask another HQ user to do it."))
    _require_manages(actor, user)
    if actor is not None and not has_permission(actor, Perm.MANAGE_USERS, assignment.region_code):
        raise PermissionDenied(
            _("This role was granted on a region above your jurisdiction; you cannot remove it.")
        )
    with transaction.atomic():
        snapshot = _assignment_snapshot(assignment)
        RoleAssignment.objects.filter(pk=assignment.pk).delete()
        forget_cached_scope(user)
        audit.record(actor, "accounts.revoke_role", user, before=snapshot)


# ---------------------------------------------------------------- API tokens


def _new_prefix() -> str:
    # 8 hex characters: no "_" (the token splits on it), ~4e9 values; retried on a clash.
    for _attempt in range(10):
        prefix = secrets.token_hex(4)
        if not ApiToken.objects.filter(prefix=prefix).exists():
            return prefix
    raise RuntimeError("could not find a free token prefix")


def create_token(*, actor: Any, user: User, name: str) -> tuple[ApiToken, str]:
    """A new token for ``user``; returns it with the raw value, which is never stored.

    Only the owner (or the system) creates a token: a token is a password, and nobody
    else should ever have seen it.
    """
    if actor is not None and (_actor_user(actor) is None or actor.pk != user.pk):
        raise PermissionDenied(_("You can create API tokens only for yourself."))
    if not user.is_active:
        raise ValidationError(_("This account is deactivated."))
    clean_name = nfkc(name)
    if not clean_name:
        raise ValidationError({"name": _("Give the token a name, such as the device using it.")})
    try:
        clean_name = clean_text(clean_name, max_length=TOKEN_NAME_MAX)
    except ValidationError as exc:
        raise ValidationError({"name": exc.messages}) from None
    secret = secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user, name=clean_name, prefix=_new_prefix(), secret_hash=hash_secret(secret)
        )
        audit.record(actor, "accounts.create_token", user, after=_token_snapshot(token))
    return token, f"{TOKEN_PREFIX}{token.prefix}_{secret}"


def revoke_token(*, actor: Any, token: ApiToken) -> ApiToken:
    """Revoke a token (its owner, or whoever manages the owner). Revoking twice is a no-op."""
    owner = token.user
    if actor is not None and (_actor_user(actor) is None or actor.pk != owner.pk):
        _require_manages(actor, owner)
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().get(pk=token.pk)
        if token.revoked_at is not None:
            return token
        before = _token_snapshot(token)
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit.record(
            actor, "accounts.revoke_token", owner, before=before, after=_token_snapshot(token)
        )
    return token
