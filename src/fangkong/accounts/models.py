"""Users, their role assignments on regions, and API tokens."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from fangkong.accounts.roles import Role


class User(AbstractUser):
    """A person who logs in (工作人员). Scope comes from role assignments, not from here."""

    display_name = models.CharField(_("name"), max_length=64, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    organization = models.CharField(_("work unit"), max_length=128, blank=True)
    # The region the account belongs to: decides which HQ may manage it.
    region_code = models.CharField(_("home region"), max_length=15, db_index=True, blank=True)

    SCOPE_FIELD = "region_code"

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.display_name or self.username


class RoleAssignment(models.Model):
    """A role held on a region code (角色授权): the role applies to that whole subtree."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="role_assignments"
    )
    role = models.CharField(_("role"), max_length=32, choices=Role.choices)
    region_code = models.CharField(_("region code"), max_length=15, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    SCOPE_FIELD = "region_code"

    class Meta:
        verbose_name = _("role assignment")
        verbose_name_plural = _("role assignments")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "role", "region_code"], name="unique_role_assignment"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.role}@{self.region_code}"


class ApiToken(models.Model):
    """A personal API token. Only a SHA-256 of the secret is stored; it is shown once."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(_("name"), max_length=64)
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
