"""Template context for the shell: navigation entries the user's roles allow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise

from fangkong.accounts.roles import Perm
from fangkong.core.scoping import has_permission


@dataclass(frozen=True)
class NavEntry:
    label: StrOrPromise
    url_name: str
    permission: str | None  # None: every logged-in user
    icon: str = ""


# Later apps add their entries here, each guarded by the permission its list page needs.
NAVIGATION: list[NavEntry] = [
    NavEntry(_("Home"), "core:home", None, "house"),
    NavEntry(_("Regions"), "geo:region_list", Perm.VIEW_REGIONS, "diagram-3"),
    NavEntry(_("Sites"), "geo:site_list", Perm.VIEW_SITES, "geo-alt"),
    NavEntry(_("People"), "people:person_list", Perm.VIEW_PEOPLE, "person-vcard"),
    NavEntry(_("Import"), "people:import_upload", Perm.IMPORT_PEOPLE, "upload"),
    NavEntry(_("Testing"), "screening:round_list", Perm.VIEW_SCREENING, "eyedropper"),
    NavEntry(_("Positives"), "screening:case_list", Perm.TRACE_POSITIVES, "exclamation-octagon"),
    NavEntry(_("Supplies"), "supplies:home", Perm.VIEW_STOCK, "box-seam"),
    NavEntry(_("Donations"), "supplies:donation_list", Perm.MANAGE_DONATIONS, "gift"),
    NavEntry(_("Users"), "accounts:user_list", Perm.MANAGE_USERS, "people"),
    NavEntry(_("Audit log"), "core:audit_list", Perm.VIEW_AUDIT, "journal-text"),
    NavEntry(_("Access log"), "core:access_log", Perm.VIEW_ACCESS_LOG, "eye"),
    NavEntry(_("Jobs"), "core:job_list", None, "hourglass-split"),
]


def shell(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_entries": []}
    entries = []
    for entry in NAVIGATION:
        if entry.permission is not None and not has_permission(user, entry.permission):
            continue
        try:
            url = reverse(entry.url_name)
        except NoReverseMatch:  # an app not yet built has no URL: leave it out
            continue
        entries.append({"label": entry.label, "url": url, "icon": entry.icon})
    return {"nav_entries": entries}
