"""Roles and what each may do: the one table that decides access.

A user holds role assignments on region codes (see ``RoleAssignment``). A permission
granted by a role applies to records whose region_code starts with the assignment's code.
``core.scoping.restrict`` reads this table; nothing else decides access.
Later apps add their permissions here, so the whole matrix stays readable in one place
(rendered into docs/roles.md by ``scripts/roles_doc.py``; tests/test_docs.py keeps them equal).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise


class Role(models.TextChoices):
    HQ_COMMANDER = "hq", _("HQ commander")  # 指挥部
    TOWNSHIP_OFFICER = "township_officer", _("Township officer")  # 乡镇干部
    VILLAGE_CADRE = "village_cadre", _("Village cadre")  # 村干部 / 下沉干部
    WAREHOUSE_KEEPER = "warehouse_keeper", _("Warehouse keeper")  # 仓管员
    INSPECTOR = "inspector", _("Inspector")  # 督导
    UNIT_ADMIN = "unit_admin", _("Unit admin")  # 单位管理员
    AUDITOR = "auditor", _("Auditor")  # 审计


class Perm:
    """Permission names. A permission is a string "<area>.<verb>"."""

    VIEW_REGIONS = "geo.view_region"
    VIEW_SITES = "geo.view_site"
    MANAGE_SITES = "geo.manage_site"
    LOAD_DIVISIONS = "geo.load_divisions"
    MANAGE_USERS = "accounts.manage_users"
    VIEW_AUDIT = "core.view_audit"
    VIEW_ACCESS_LOG = "core.view_access_log"
    REVEAL_IDENTITY = "core.reveal_identity"
    EXPORT = "core.export"
    VIEW_PEOPLE = "people.view_person"
    EDIT_PEOPLE = "people.edit_person"
    IMPORT_PEOPLE = "people.import_people"
    MANAGE_KEY_GROUPS = "people.manage_key_groups"


PERMISSION_LABELS: dict[str, StrOrPromise] = {
    Perm.VIEW_REGIONS: _("View regions"),
    Perm.VIEW_SITES: _("View sites"),
    Perm.MANAGE_SITES: _("Create and edit sites"),
    Perm.LOAD_DIVISIONS: _("Load division codes"),
    Perm.MANAGE_USERS: _("Manage users and role assignments"),
    Perm.VIEW_AUDIT: _("Read the audit log"),
    Perm.VIEW_ACCESS_LOG: _("Read the reveal and export log"),
    Perm.REVEAL_IDENTITY: _("Reveal identity numbers, phones and addresses"),
    Perm.EXPORT: _("Export lists"),
    Perm.VIEW_PEOPLE: _("View the people ledger"),
    Perm.EDIT_PEOPLE: _("Register and edit people"),
    Perm.IMPORT_PEOPLE: _("Import people ledgers"),
    Perm.MANAGE_KEY_GROUPS: _("Configure key groups"),
}

_EVERYONE = frozenset({Perm.VIEW_REGIONS, Perm.VIEW_SITES})
# Villages keep their own ledgers; townships and HQ keep theirs over the villages.
_LEDGER = frozenset({Perm.VIEW_PEOPLE, Perm.EDIT_PEOPLE, Perm.IMPORT_PEOPLE})

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.HQ_COMMANDER: _EVERYONE
    | {
        Perm.MANAGE_SITES,
        Perm.LOAD_DIVISIONS,
        Perm.MANAGE_USERS,
        Perm.VIEW_AUDIT,
        Perm.VIEW_ACCESS_LOG,
        Perm.REVEAL_IDENTITY,
        Perm.EXPORT,
        *_LEDGER,
        Perm.MANAGE_KEY_GROUPS,
    },
    Role.TOWNSHIP_OFFICER: _EVERYONE
    | _LEDGER
    | {Perm.MANAGE_SITES, Perm.REVEAL_IDENTITY, Perm.EXPORT, Perm.VIEW_AUDIT},
    # Cadres phone their villagers daily, so they may reveal (each reveal is logged),
    # but a whole-village export stays with the township.
    Role.VILLAGE_CADRE: _EVERYONE | _LEDGER | {Perm.REVEAL_IDENTITY},
    Role.WAREHOUSE_KEEPER: _EVERYONE,
    # Inspectors check ledgers on their visits (台账督导) but change nothing.
    Role.INSPECTOR: _EVERYONE | {Perm.VIEW_PEOPLE},
    Role.UNIT_ADMIN: _EVERYONE,
    Role.AUDITOR: _EVERYONE | {Perm.VIEW_AUDIT, Perm.VIEW_ACCESS_LOG},
}


def roles_with(permission: str) -> list[str]:
    return [role for role, perms in ROLE_PERMISSIONS.items() if permission in perms]


def role_label(role: str) -> str:
    try:
        return str(Role(role).label)
    except ValueError:
        return role
