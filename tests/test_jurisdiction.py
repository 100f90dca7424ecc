"""The foundation's promise, end to end: nobody sees outside their jurisdiction.

The 蒋台屯村 cadre cannot see 东正寺村 records in pages, API, search or exports; the 高庄镇
officer sees both; the 汤阴县 officer sees neither.
"""

from __future__ import annotations

import pytest

from fangkong.accounts.roles import Role
from fangkong.geo.models import Site
from tests.conftest import DONGZHENGSI, GAOZHUANG, JIANGTAITUN, TANGYIN_COUNTY
from tests.support.access import assert_absent, assert_present, body_text

pytestmark = pytest.mark.django_db

JIANG_SITE = "蒋台屯村东口卡点"
DONG_SITE = "东正寺村南口卡点"


@pytest.fixture
def world(regions):
    jiang = Site.objects.create(name=JIANG_SITE, kind="checkpoint", region_code=JIANGTAITUN)
    dong = Site.objects.create(name=DONG_SITE, kind="checkpoint", region_code=DONGZHENGSI)
    return jiang, dong


def _views(client, site: Site) -> dict[str, int]:
    return {
        "site page": client.get(f"/geo/sites/{site.pk}/").status_code,
        "site api": client.get(f"/api/v1/geo/sites/{site.pk}").status_code,
        "region page": client.get(f"/geo/regions/{site.region_code}/").status_code,
        "region api": client.get(f"/api/v1/geo/regions/{site.region_code}").status_code,
    }


LIST_URLS = [
    ("/geo/sites/", {}),
    ("/api/v1/geo/sites", {}),
    ("/geo/regions/search/", {"q": "正寺"}),
    ("/api/v1/geo/regions", {"q": "东正寺"}),
    ("/geo/regions/", {}),
]


def test_village_cadre_sees_own_village_only(world, make_user, client_for) -> None:
    jiang, dong = world
    client = client_for(make_user(role=Role.VILLAGE_CADRE, region=JIANGTAITUN))
    assert set(_views(client, jiang).values()) == {200}
    assert set(_views(client, dong).values()) == {404}
    for url, params in LIST_URLS:
        assert_absent(client, url, "东正寺", **params)
    assert_present(client, "/geo/sites/", JIANG_SITE)
    assert_present(client, "/api/v1/geo/sites", JIANG_SITE)
    # Cadres may not export lists at all (a township's decision); nothing leaks either way.
    response = client.get("/geo/sites/export/", {"format": "csv"})
    assert response.status_code == 403
    assert DONG_SITE not in body_text(response)


def test_township_officer_sees_both(world, make_user, client_for) -> None:
    jiang, dong = world
    client = client_for(make_user(role=Role.TOWNSHIP_OFFICER, region=GAOZHUANG))
    assert set(_views(client, jiang).values()) == {200}
    assert set(_views(client, dong).values()) == {200}
    for url in ("/geo/sites/", "/api/v1/geo/sites"):
        assert_present(client, url, JIANG_SITE)
        assert_present(client, url, DONG_SITE)
    assert_present(client, "/api/v1/geo/regions", "东正寺村", q="东正寺")
    export = body_text(client.get("/geo/sites/export/", {"format": "csv"}))
    assert JIANG_SITE in export and DONG_SITE in export


def test_other_county_officer_sees_neither(world, make_user, client_for) -> None:
    jiang, dong = world
    client = client_for(make_user(role=Role.TOWNSHIP_OFFICER, region=TANGYIN_COUNTY))
    assert set(_views(client, jiang).values()) == {404}
    assert set(_views(client, dong).values()) == {404}
    for url in ("/geo/sites/", "/api/v1/geo/sites"):
        assert_absent(client, url, JIANG_SITE)
        assert_absent(client, url, DONG_SITE)
    assert_absent(client, "/api/v1/geo/regions", "东正寺", q="东正寺")
    assert_absent(client, "/geo/regions/search/", "东正寺", q="东正寺")
    export = body_text(client.get("/geo/sites/export/", {"format": "csv"}))
    assert JIANG_SITE not in export and DONG_SITE not in export


def test_export_is_logged_under_the_exporters_region(world, make_user, client_for) -> None:
    from fangkong.core.models import AccessLogEntry

    officer = make_user(role=Role.TOWNSHIP_OFFICER, region=GAOZHUANG)
    response = client_for(officer).get("/geo/sites/export/", {"format": "xlsx"})
    assert response.status_code == 200
    b"".join(response.streaming_content)
    entry = AccessLogEntry.objects.get(kind="export")
    assert (entry.user, entry.region_code, entry.row_count) == (officer, GAOZHUANG, 2)


def test_anonymous_export_goes_to_login(world, client_for) -> None:
    response = client_for(None).get("/geo/sites/export/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
