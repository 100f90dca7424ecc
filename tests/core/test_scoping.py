"""restrict(): the one scoping rule."""

from __future__ import annotations

import pytest

from fangkong.accounts.models import RoleAssignment
from fangkong.accounts.roles import Perm, Role
from fangkong.core.regioncodes import minimal_prefixes, parent_code, upper_bound
from fangkong.core.scoping import get_scoped_or_404, has_permission, restrict
from fangkong.geo.models import Region, Site
from tests.conftest import DONGZHENGSI, FUDAO, GAOZHUANG, JIANGTAITUN, TANGYIN_COUNTY

pytestmark = pytest.mark.django_db


def test_upper_bound_covers_exactly_the_subtree() -> None:
    assert upper_bound("410522116") == "410522117"
    assert upper_bound("41059") == "4105:"
    assert upper_bound("410522116") > "410522116215"
    assert not (upper_bound("410522116") > "410522117")


def test_minimal_prefixes_drop_covered_codes() -> None:
    assert minimal_prefixes(["410522116215", "410522", "410523106"]) == ["410522", "410523106"]


def test_parent_code() -> None:
    assert parent_code("410522116215") == "410522116"
    assert parent_code("410522116") == "410522"
    assert parent_code("41") is None


def _sites() -> None:
    Site.objects.create(name="蒋台屯村东卡点", kind="checkpoint", region_code=JIANGTAITUN)
    Site.objects.create(name="东正寺村卡点", kind="checkpoint", region_code=DONGZHENGSI)
    Site.objects.create(name="伏道镇物资库", kind="warehouse", region_code=FUDAO)


def test_cadre_sees_only_own_village(regions, make_user) -> None:
    _sites()
    cadre = make_user(role=Role.VILLAGE_CADRE, region=JIANGTAITUN)
    names = set(restrict(Site.objects.all(), cadre, Perm.VIEW_SITES).values_list("name", flat=True))
    assert names == {"蒋台屯村东卡点"}


def test_township_officer_sees_both_villages(regions, make_user) -> None:
    _sites()
    officer = make_user(role=Role.TOWNSHIP_OFFICER, region=GAOZHUANG)
    names = set(
        restrict(Site.objects.all(), officer, Perm.VIEW_SITES).values_list("name", flat=True)
    )
    assert names == {"蒋台屯村东卡点", "东正寺村卡点"}


def test_other_county_sees_neither(regions, make_user) -> None:
    _sites()
    tangyin = make_user(role=Role.TOWNSHIP_OFFICER, region=TANGYIN_COUNTY)
    names = set(
        restrict(Site.objects.all(), tangyin, Perm.VIEW_SITES).values_list("name", flat=True)
    )
    assert names == {"伏道镇物资库"}


def test_permission_comes_from_the_role(regions, make_user) -> None:
    cadre = make_user(role=Role.VILLAGE_CADRE, region=JIANGTAITUN)
    assert not has_permission(cadre, Perm.MANAGE_USERS)
    assert restrict(Site.objects.all(), cadre, Perm.MANAGE_SITES).count() == 0
    assert has_permission(cadre, Perm.VIEW_SITES, JIANGTAITUN)
    assert not has_permission(cadre, Perm.VIEW_SITES, DONGZHENGSI)


def test_region_model_scoped_on_its_code(regions, make_user) -> None:
    cadre = make_user(role=Role.VILLAGE_CADRE, region=JIANGTAITUN)
    codes = list(
        restrict(Region.objects.all(), cadre, Perm.VIEW_REGIONS).values_list("code", flat=True)
    )
    assert codes == [JIANGTAITUN]


def test_no_assignment_sees_nothing(regions, make_user) -> None:
    _sites()
    nobody = make_user()
    assert restrict(Site.objects.all(), nobody, Perm.VIEW_SITES).count() == 0


def test_inactive_user_sees_nothing(regions, make_user) -> None:
    _sites()
    user = make_user(role=Role.HQ_COMMANDER, region="41")
    user.is_active = False
    assert restrict(Site.objects.all(), user, Perm.VIEW_SITES).count() == 0


def test_several_assignments_union(regions, make_user) -> None:
    _sites()
    user = make_user(role=Role.VILLAGE_CADRE, region=JIANGTAITUN)
    RoleAssignment.objects.create(user=user, role=Role.WAREHOUSE_KEEPER, region_code=FUDAO)
    user = type(user).objects.get(pk=user.pk)
    names = set(restrict(Site.objects.all(), user, Perm.VIEW_SITES).values_list("name", flat=True))
    assert names == {"蒋台屯村东卡点", "伏道镇物资库"}


def test_get_scoped_or_404(regions, make_user) -> None:
    from django.http import Http404

    _sites()
    cadre = make_user(role=Role.VILLAGE_CADRE, region=JIANGTAITUN)
    other = Site.objects.get(name="东正寺村卡点")
    with pytest.raises(Http404):
        get_scoped_or_404(Site.objects.all(), cadre, Perm.VIEW_SITES, pk=other.pk)
    with pytest.raises(Http404):
        get_scoped_or_404(Site.objects.all(), cadre, Perm.VIEW_SITES, pk="not-a-number")


def test_restrict_is_an_indexed_range_not_like(regions, make_user) -> None:
    cadre = make_user(role=Role.VILLAGE_CADRE, region=JIANGTAITUN)
    sql = str(restrict(Site.objects.all(), cadre, Perm.VIEW_SITES).query)
    assert "LIKE" not in sql.upper()
    assert ">=" in sql and "<" in sql
