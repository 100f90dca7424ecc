"""The menu shows only what the user's roles may use."""

from __future__ import annotations

import pytest

from fangkong.accounts.roles import Role
from fangkong.core.context import NAVIGATION
from tests.conftest import ANYANG_COUNTY, JIANGTAITUN

pytestmark = pytest.mark.django_db


def _menu(client) -> set[str]:
    html = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    nav = html[
        html.index('data-testid="nav"') : html.index("</ul>", html.index('data-testid="nav"'))
    ]
    return {str(entry.label) for entry in NAVIGATION if f"> {entry.label}</a>" in nav}


def test_village_cadre_menu(regions, make_user, client_for) -> None:
    from django.utils import translation

    client = client_for(make_user(role=Role.VILLAGE_CADRE, region=JIANGTAITUN))
    with translation.override("en"):
        assert _menu(client) == {
            "Home",
            "Regions",
            "Sites",
            "People",
            "Import",
            "Testing",
            "Positives",
            "Supplies",
            "Jobs",
        }


def test_hq_menu(regions, make_user, client_for) -> None:
    from django.utils import translation

    client = client_for(make_user(role=Role.HQ_COMMANDER, region=ANYANG_COUNTY))
    with translation.override("en"):
        assert _menu(client) == {
            "Home",
            "Regions",
            "Sites",
            "People",
            "Import",
            "Testing",
            "Positives",
            "Supplies",
            "Donations",
            "Users",
            "Audit log",
            "Access log",
            "Jobs",
        }


def test_auditor_menu(regions, make_user, client_for) -> None:
    from django.utils import translation

    client = client_for(make_user(role=Role.AUDITOR, region=ANYANG_COUNTY))
    with translation.override("en"):
        assert _menu(client) == {
            "Home",
            "Regions",
            "Sites",
            "Supplies",
            "Audit log",
            "Access log",
            "Jobs",
        }


def test_anonymous_has_no_menu(client_for) -> None:
    response = client_for(None).get("/accounts/login/")
    assert 'data-testid="nav"' not in response.content.decode()


def test_sampler_menu(regions, make_user, client_for) -> None:
    from django.utils import translation

    client = client_for(make_user(role=Role.SAMPLER, region=JIANGTAITUN))
    with translation.override("en"):
        assert _menu(client) == {"Home", "Regions", "Sites", "Testing", "Jobs"}
