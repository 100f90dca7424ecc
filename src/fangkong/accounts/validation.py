"""Cleaning what people type for accounts: usernames, region codes, roles, phones.

Forms, the API, the CLI and the actions share these, so a value accepted on one path is
accepted on every path, and the message for a bad one is the same everywhere.
Input from phones arrives with full-width digits (４１０５２２) and stray spaces: NFKC
folds them before anything is checked.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from fangkong.accounts.roles import Role
from fangkong.core.cleaning import clean_phone, clean_region_code_format, clean_text, nfkc

USERNAME_MIN = 3
USERNAME_MAX = 64
# ASCII letters and digits, . _ - and CJK ideographs (simplified and traditional both
# live in the unified blocks; extension A covers rarer name characters).
_USERNAME_RE = re.compile(r"^[A-Za-z0-9._\-\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+$")


def clean_username(raw: Any) -> str:
    name = nfkc(raw)
    if not name:
        raise ValidationError(_("Enter a username."), code="required")
    if len(name) < USERNAME_MIN or len(name) > USERNAME_MAX:
        raise ValidationError(
            _("A username has %(min)d to %(max)d characters (this one has %(n)d).")
            % {"min": USERNAME_MIN, "max": USERNAME_MAX, "n": len(name)},
            code="length",
        )
    if not _USERNAME_RE.match(name):
        raise ValidationError(
            _("Use only letters, digits, Chinese characters and . _ - in a username."),
            code="invalid",
        )
    return name


def clean_region_code(raw: Any) -> str:
    """A division code that exists in the loaded region tree."""
    from fangkong.geo.models import Region

    code = clean_region_code_format(raw)
    if not Region.objects.filter(code=code).exists():
        raise ValidationError(
            _(
                "No region has the code %(code)s. Check the digits, or load that "
                "county's divisions first (fangkong geo load)."
            )
            % {"code": code},
            code="unknown_region",
        )
    return code


def valid_roles_text() -> str:
    return ", ".join(f"{role.value} ({role.label})" for role in Role)


def clean_role(raw: Any) -> str:
    value = nfkc(raw)
    try:
        return Role(value).value
    except ValueError:
        raise ValidationError(
            _("Unknown role “%(role)s”. Valid roles: %(roles)s.")
            % {"role": value[:40], "roles": valid_roles_text()},
            code="unknown_role",
        ) from None


__all__ = [
    "clean_phone",
    "clean_region_code",
    "clean_region_code_format",
    "clean_role",
    "clean_text",
    "clean_username",
    "nfkc",
]
