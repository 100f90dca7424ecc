"""The home page: the user's jurisdiction at a glance, with a fixed query count."""

from __future__ import annotations

import pytest
from django.urls import reverse

from fangkong.accounts.models import RoleAssignment
from fangkong.accounts.roles import Role
from fangkong.core.models import Job, JobStatus
from fangkong.core.queries import jurisdiction_summary
from fangkong.geo.models import Site
from tests.conftest import DONGZHENGSI, FUDAO, GAOZHUANG, JIANGTAITUN
from tests.support.access import body_text, count_queries

pytestmark = pytest.mark.django_db


def _label(role: str) -> str:
    """The role's name as the page shows it (Simplified Chinese once accounts' catalogue is in)."""
    from django.utils import translation

    with translation.override("zh-hans"):
        return str(Role(role).label)


@pytest.fixture
def sites(regions):
    Site.objects.create(name="蒋台屯村核酸采样点", kind="testing_site", region_code=JIANGTAITUN)
    Site.objects.create(name="蒋台屯村东口卡点", kind="checkpoint", region_code=JIANGTAITUN)
    Site.objects.create(
        name="蒋台屯村旧卡点", kind="checkpoint", region_code=JIANGTAITUN, active=False
    )
    Site.objects.create(name="东正寺村南口卡点", kind="checkpoint", region_code=DONGZHENGSI)
    Site.objects.create(name="伏道镇防疫物资库", kind="warehouse", region_code=FUDAO)


def test_anonymous_goes_to_login(client_for) -> None:
    response = client_for(None).get(reverse("core:home"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_village_cadre_sees_own_village(sites, make_user, client_for) -> None:
    cadre = make_user(role=Role.VILLAGE_CADRE, region=JIANGTAITUN)
    summary = jurisdiction_summary(cadre)
    assert [a.region_name for a in summary["assignments"]] == ["蒋台屯村"]
    assert (summary["townships"], summary["villages"]) == (0, 1)
    assert summary["site_counts"] == {"testing_site": 1, "checkpoint": 1}
    html = body_text(client_for(cadre).get(reverse("core:home")))
    assert "蒋台屯村" in html and _label(Role.VILLAGE_CADRE) in html
    assert "东正寺村" not in html and "伏道" not in html
    assert reverse("geo:site_list") in html and reverse("geo:region_list") in html


def test_township_officer_counts(sites, make_user) -> None:
    officer = make_user(role=Role.TOWNSHIP_OFFICER, region=GAOZHUANG)
    summary = jurisdiction_summary(officer)
    assert (summary["townships"], summary["villages"]) == (1, 4)
    assert summary["site_counts"] == {"testing_site": 1, "checkpoint": 2}
    assert summary["active_sites"] == 3


def test_several_roles_are_listed(sites, make_user, client_for) -> None:
    user = make_user(role=Role.VILLAGE_CADRE, region=JIANGTAITUN)
    RoleAssignment.objects.create(user=user, role=Role.WAREHOUSE_KEEPER, region_code=FUDAO)
    html = body_text(client_for(user).get(reverse("core:home")))
    assert "蒋台屯村" in html and "伏道镇" in html and _label(Role.WAREHOUSE_KEEPER) in html


def test_no_role_says_so(regions, make_user, client_for) -> None:
    html = body_text(client_for(make_user()).get(reverse("core:home")))
    assert "尚未分配角色" in html


def test_recent_jobs_are_the_users_own(sites, make_user, client_for) -> None:
    cadre = make_user(role=Role.VILLAGE_CADRE, region=JIANGTAITUN)
    other = make_user(role=Role.VILLAGE_CADRE, region=JIANGTAITUN)
    Job.objects.create(
        kind="core.selfcheck", title="我的自检", owner=cadre, status=JobStatus.SUCCEEDED
    )
    Job.objects.create(kind="core.selfcheck", title="别人的自检", owner=other)
    html = body_text(client_for(cadre).get(reverse("core:home")))
    assert "我的自检" in html and "别人的自检" not in html


def test_home_query_count_is_fixed(sites, make_user, client_for) -> None:
    user = make_user(role=Role.TOWNSHIP_OFFICER, region=GAOZHUANG)
    client = client_for(user)
    before = count_queries(client, reverse("core:home"))
    for n in range(10):
        RoleAssignment.objects.create(
            user=user, role=Role.INSPECTOR, region_code=f"4105221162{n:02d}"
        )
        Site.objects.create(name=f"卡点{n}", kind="checkpoint", region_code=JIANGTAITUN)
        Job.objects.create(kind="core.selfcheck", title=f"自检{n}", owner=user)
    after = count_queries(client, reverse("core:home"))
    assert before == after
    assert after <= 12
