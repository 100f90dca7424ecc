"""Smoke: a village cadre of 蒋台屯村 logs in, switches language, sees only their village."""

from __future__ import annotations

import pytest

from fangkong.accounts.roles import Role
from fangkong.geo.models import Site
from tests.conftest import DONGZHENGSI, JIANGTAITUN

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_village_cadre_sees_only_own_village(live_server, page, log_in, regions, make_user):
    Site.objects.create(name="蒋台屯村核酸采样点", kind="testing_site", region_code=JIANGTAITUN)
    Site.objects.create(name="东正寺村核酸采样点", kind="testing_site", region_code=DONGZHENGSI)
    make_user("jiangtaitun", role=Role.VILLAGE_CADRE, region=JIANGTAITUN)

    log_in(page, "jiangtaitun")
    assert page.url.rstrip("/") == live_server.url
    assert page.locator("h1").inner_text() == "我的辖区"
    assert "蒋台屯村" in page.locator("[data-testid=assignments]").inner_text()

    switch = "nav [data-testid=language-form] select"
    with page.expect_navigation():
        page.select_option(switch, "en")
    assert page.locator("h1").inner_text() == "My jurisdiction"
    assert page.locator("html").get_attribute("lang") == "en"
    with page.expect_navigation():
        page.select_option(switch, "zh-hans")
    assert page.locator("h1").inner_text() == "我的辖区"
    home = page.locator("main").inner_text()
    assert "蒋台屯村" in home and "东正寺村" not in home

    page.goto(f"{live_server.url}/geo/sites/")
    sites = page.locator("main").inner_text()
    assert "蒋台屯村核酸采样点" in sites
    assert "东正寺村核酸采样点" not in sites and "东正寺村" not in sites
