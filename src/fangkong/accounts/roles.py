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
    SAMPLER = "sampler", _("Sampler")  # 采样扫码员


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
    VIEW_STOCK = "supplies.view_stock"
    POST_STOCK = "supplies.post_stock"
    MANAGE_CATALOGUE = "supplies.manage_catalogue"
    REQUEST_SUPPLIES = "supplies.request_supplies"
    APPROVE_REQUESTS = "supplies.approve_requests"
    RUN_DELIVERIES = "supplies.run_deliveries"
    CONFIRM_DELIVERIES = "supplies.confirm_deliveries"
    COUNT_STOCK = "supplies.count_stock"
    MANAGE_DONATIONS = "supplies.manage_donations"
    VIEW_SCREENING = "screening.view"
    SAMPLE = "screening.sample"
    MANAGE_ROUNDS = "screening.manage_rounds"
    IMPORT_RESULTS = "screening.import_results"
    TRACE_POSITIVES = "screening.trace"


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
    Perm.VIEW_STOCK: _("View stock, documents and supply reports"),
    Perm.POST_STOCK: _("Post receipts, issues, transfers and adjustments"),
    Perm.MANAGE_CATALOGUE: _("Manage the item catalogue, lots and minimum levels"),
    Perm.REQUEST_SUPPLIES: _("Request supplies"),
    Perm.APPROVE_REQUESTS: _("Approve supply requests"),
    Perm.RUN_DELIVERIES: _("Plan and dispatch delivery runs"),
    Perm.CONFIRM_DELIVERIES: _("Confirm deliveries at a stop"),
    Perm.COUNT_STOCK: _("Run stock-takes"),
    Perm.MANAGE_DONATIONS: _("Record donations and print acknowledgements"),
    Perm.VIEW_SCREENING: _("View testing rounds, tubes, coverage and the round dashboard"),
    Perm.SAMPLE: _("Open tubes, scan people into them, pack boxes and hand them to a lab"),
    Perm.MANAGE_ROUNDS: _("Plan, start and close testing rounds"),
    Perm.IMPORT_RESULTS: _("Import lab results"),
    Perm.TRACE_POSITIVES: _("Trace positive tubes: members, re-sampling and control"),
}

_EVERYONE = frozenset({Perm.VIEW_REGIONS, Perm.VIEW_SITES})
# Villages keep their own ledgers; townships and HQ keep theirs over the villages.
_LEDGER = frozenset({Perm.VIEW_PEOPLE, Perm.EDIT_PEOPLE, Perm.IMPORT_PEOPLE})
# Whoever keeps a store posts its movements: the depot, and a village at its own point
# (flour per household). Requests go up, approvals come from the township or HQ.
_DEPOT = frozenset(
    {
        Perm.VIEW_STOCK,
        Perm.POST_STOCK,
        Perm.RUN_DELIVERIES,
        Perm.CONFIRM_DELIVERIES,
        Perm.COUNT_STOCK,
        Perm.MANAGE_DONATIONS,
    }
)

# Mass testing: whoever works a site samples; townships and HQ run rounds and results;
# villages trace their own members of a positive tube.
_SCREENING_ALL = frozenset(
    {
        Perm.VIEW_SCREENING,
        Perm.SAMPLE,
        Perm.MANAGE_ROUNDS,
        Perm.IMPORT_RESULTS,
        Perm.TRACE_POSITIVES,
    }
)

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
        *_DEPOT,
        Perm.MANAGE_CATALOGUE,
        Perm.REQUEST_SUPPLIES,
        Perm.APPROVE_REQUESTS,
        *_SCREENING_ALL,
    },
    Role.TOWNSHIP_OFFICER: _EVERYONE
    | _LEDGER
    | _DEPOT
    | {
        Perm.MANAGE_SITES,
        Perm.REVEAL_IDENTITY,
        Perm.EXPORT,
        Perm.VIEW_AUDIT,
        Perm.REQUEST_SUPPLIES,
        Perm.APPROVE_REQUESTS,
        *_SCREENING_ALL,
    },
    # Cadres phone their villagers daily, so they may reveal (each reveal is logged),
    # but a whole-village export stays with the township.
    Role.VILLAGE_CADRE: _EVERYONE
    | _LEDGER
    | {
        Perm.REVEAL_IDENTITY,
        Perm.VIEW_STOCK,
        Perm.POST_STOCK,
        Perm.REQUEST_SUPPLIES,
        Perm.CONFIRM_DELIVERIES,
        Perm.VIEW_SCREENING,
        Perm.SAMPLE,
        Perm.TRACE_POSITIVES,
    },
    Role.WAREHOUSE_KEEPER: _EVERYONE | _DEPOT | {Perm.MANAGE_CATALOGUE, Perm.EXPORT},
    # Inspectors check ledgers on their visits (台账督导) but change nothing.
    Role.INSPECTOR: _EVERYONE | {Perm.VIEW_PEOPLE, Perm.VIEW_STOCK, Perm.VIEW_SCREENING},
    # A unit (e.g. 安阳市社科联) records what it gives and prints the acknowledgement; its
    # assignment is often city-wide, so it does not see the depots' stock.
    Role.UNIT_ADMIN: _EVERYONE | {Perm.MANAGE_DONATIONS},
    Role.AUDITOR: _EVERYONE | {Perm.VIEW_AUDIT, Perm.VIEW_ACCESS_LOG, Perm.VIEW_STOCK},
    # A sampler (often a volunteer or a medical worker from outside) scans at the sites of
    # the region they are assigned to; the scan shows a masked identity only.
    Role.SAMPLER: _EVERYONE | {Perm.VIEW_SCREENING, Perm.SAMPLE},
}


def roles_with(permission: str) -> list[str]:
    return [role for role, perms in ROLE_PERMISSIONS.items() if permission in perms]


def role_label(role: str) -> str:
    try:
        return str(Role(role).label)
    except ValueError:
        return role
