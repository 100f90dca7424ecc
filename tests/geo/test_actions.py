"""Site and village-group actions: validation, scope, audit."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from fangkong.accounts.roles import Role
from fangkong.core.models import AuditEntry
from fangkong.geo import actions
from fangkong.geo.models import Region, Site
from tests.conftest import DONGZHENGSI, FUDAO, GAOZHUANG, JIANGTAITUN

pytestmark = pytest.mark.django_db


def field_errors(exc: pytest.ExceptionInfo[ValidationError]) -> dict[str, list[str]]:
    return exc.value.message_dict


def test_create_site_by_the_system_is_audited(regions: Any) -> None:
    site = actions.create_site(
        actor=None, name="蒋台屯村东卡点", kind="checkpoint", region_code=JIANGTAITUN
    )
    entry = AuditEntry.objects.get(action="geo.create_site")
    assert entry.actor_name == "system"
    assert entry.object_id == str(site.pk)
    assert entry.region_code == JIANGTAITUN
    assert entry.after["name"] == "蒋台屯村东卡点"
    assert entry.after["kind"] == "checkpoint"
    assert site.active


def test_officer_creates_in_own_township_only(regions: Any, make_user: Any) -> None:
    officer = make_user(role=Role.TOWNSHIP_OFFICER, region=GAOZHUANG)
    site = actions.create_site(
        actor=officer, name="高庄镇指挥部", kind="office", region_code=GAOZHUANG
    )
    assert AuditEntry.objects.get(action="geo.create_site").actor_id == officer.pk
    assert site.region_code == GAOZHUANG
    with pytest.raises(PermissionDenied):
        actions.create_site(actor=officer, name="伏道镇卡点", kind="checkpoint", region_code=FUDAO)
    assert not Site.objects.filter(region_code=FUDAO).exists()


def test_cadre_may_not_manage_sites(regions: Any, make_user: Any) -> None:
    cadre = make_user(role=Role.VILLAGE_CADRE, region=JIANGTAITUN)
    with pytest.raises(PermissionDenied):
        actions.create_site(actor=cadre, name="卡点", kind="checkpoint", region_code=JIANGTAITUN)


def test_out_of_scope_is_refused_even_for_a_missing_region(regions: Any, make_user: Any) -> None:
    officer = make_user(role=Role.TOWNSHIP_OFFICER, region=GAOZHUANG)
    with pytest.raises(PermissionDenied):  # not "no such region": that would leak
        actions.create_site(actor=officer, name="x", kind="office", region_code="999999")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"region_code": "410522116299"}, "region_code"),  # no such village
        ({"region_code": "41x"}, "region_code"),
        ({"region_code": ""}, "region_code"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "卡" * 101}, "name"),
        ({"name": "卡点\x00"}, "name"),
        ({"name": "卡点\x07"}, "name"),
        ({"kind": "castle"}, "kind"),
        ({"kind": ""}, "kind"),
        ({"address": "路" * 201}, "address"),
        ({"contact_name": "张" * 65}, "contact_name"),
        ({"contact_phone": "12345"}, "contact_phone"),
        ({"contact_phone": "call me"}, "contact_phone"),
        ({"contact_phone": "1" * 80}, "contact_phone"),
        ({"notes": "x" * 2001}, "notes"),
        ({"name": 42}, "name"),
    ],
)
def test_create_site_rejects_bad_values(regions: Any, changes: dict, field: str) -> None:
    values = {"name": "东卡点", "kind": "checkpoint", "region_code": JIANGTAITUN, **changes}
    with pytest.raises(ValidationError) as exc:
        actions.create_site(actor=None, **values)
    assert field in field_errors(exc)
    assert not Site.objects.exists()
    assert not AuditEntry.objects.filter(action="geo.create_site").exists()


def test_text_is_normalised(regions: Any) -> None:
    site = actions.create_site(
        actor=None,
        name="  蒋台屯村　东 卡点 ",
        kind="checkpoint",
        region_code="４１０５２２１１６２１５",
        address=" 蒋台屯村东口（Ａ区）",
        notes="  第一行  \n\n 第二行 ",
    )
    assert site.name == "蒋台屯村 东 卡点"
    assert site.region_code == JIANGTAITUN
    assert site.address == "蒋台屯村东口(A区)"
    assert site.notes == "第一行\n\n第二行"


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("13800138000", "13800138000"),
        ("138 0013 8000", "13800138000"),
        ("１３８００１３８０００", "13800138000"),
        ("+86 138-0013-8000", "13800138000"),
        ("0372-5512345", "0372-5512345"),
        ("０３７２－５５１２３４５", "0372-5512345"),
        ("(0372) 5512345", "0372-5512345"),
        ("+852 9123 4567", "+852 9123 4567"),
        ("", ""),
    ],
)
def test_phone_numbers(regions: Any, typed: str, stored: str) -> None:
    site = actions.create_site(
        actor=None, name="卡点", kind="checkpoint", region_code=JIANGTAITUN, contact_phone=typed
    )
    assert site.contact_phone == stored


def test_names_are_unique_per_region(regions: Any) -> None:
    actions.create_site(actor=None, name="东卡点", kind="checkpoint", region_code=JIANGTAITUN)
    for duplicate in ["东卡点", " 东卡点 ", "東卡點", "东 卡点"]:
        with pytest.raises(ValidationError) as exc:
            actions.create_site(actor=None, name=duplicate, kind="office", region_code=JIANGTAITUN)
        assert "东卡点" in field_errors(exc)["name"][0]  # names the site it clashes with
    # Another village may use the same name.
    actions.create_site(actor=None, name="东卡点", kind="checkpoint", region_code=DONGZHENGSI)
    assert Site.objects.filter(name="东卡点").count() == 2


def test_update_site_audits_before_and_after(sites: dict[str, Site], make_user: Any) -> None:
    officer = make_user(role=Role.TOWNSHIP_OFFICER, region=GAOZHUANG)
    site = sites["jiangtaitun"]
    updated = actions.update_site(
        actor=officer, site=site, name="蒋台屯村东口卡点", contact_phone="0372-5512345"
    )
    assert updated.name == "蒋台屯村东口卡点"
    entry = AuditEntry.objects.get(action="geo.update_site")
    assert entry.actor_id == officer.pk
    assert entry.before["name"] == "蒋台屯村东卡点"
    assert entry.after["name"] == "蒋台屯村东口卡点"
    assert entry.before["contact_phone"] == "13800138000"
    assert entry.after["contact_phone"] == "0372-5512345"


def test_update_without_change_writes_nothing(sites: dict[str, Site]) -> None:
    site = sites["jiangtaitun"]
    actions.update_site(actor=None, site=site, name=" 蒋台屯村东卡点 ", kind="checkpoint")
    assert not AuditEntry.objects.filter(action="geo.update_site").exists()


def test_moving_a_site_needs_both_regions(sites: dict[str, Site], make_user: Any) -> None:
    officer = make_user(role=Role.TOWNSHIP_OFFICER, region=GAOZHUANG)
    site = sites["jiangtaitun"]
    with pytest.raises(PermissionDenied):
        actions.update_site(actor=officer, site=site, region_code=FUDAO)
    moved = actions.update_site(actor=officer, site=site, region_code=DONGZHENGSI)
    assert moved.region_code == DONGZHENGSI
    other = make_user(role=Role.TOWNSHIP_OFFICER, region=FUDAO)
    with pytest.raises(PermissionDenied):
        actions.update_site(actor=other, site=moved, name="改名")


def test_moving_onto_a_taken_name_is_refused(sites: dict[str, Site]) -> None:
    actions.create_site(actor=None, name="蒋台屯村东卡点", kind="office", region_code=DONGZHENGSI)
    with pytest.raises(ValidationError) as exc:
        actions.update_site(actor=None, site=sites["jiangtaitun"], region_code=DONGZHENGSI)
    assert "name" in field_errors(exc)


def test_update_rejects_unknown_fields(sites: dict[str, Site]) -> None:
    with pytest.raises(TypeError):
        actions.update_site(actor=None, site=sites["jiangtaitun"], active=False)


def test_deactivate_and_reactivate(sites: dict[str, Site], make_user: Any) -> None:
    officer = make_user(role=Role.TOWNSHIP_OFFICER, region=GAOZHUANG)
    site = sites["jiangtaitun"]
    assert not actions.set_site_active(actor=officer, site=site, active=False).active
    assert not actions.set_site_active(actor=officer, site=site, active=False).active  # no-op
    assert actions.set_site_active(actor=officer, site=site, active=True).active
    verbs = list(
        AuditEntry.objects.filter(object_id=str(site.pk), action__contains="activate")
        .order_by("id")
        .values_list("action", "before", "after")
    )
    assert verbs == [
        ("geo.deactivate_site", {"active": True}, {"active": False}),
        ("geo.reactivate_site", {"active": False}, {"active": True}),
    ]
    cadre = make_user(role=Role.VILLAGE_CADRE, region=JIANGTAITUN)
    with pytest.raises(PermissionDenied):
        actions.set_site_active(actor=cadre, site=site, active=False)
    with pytest.raises(PermissionDenied):
        actions.set_site_active(
            actor=make_user(role=Role.TOWNSHIP_OFFICER, region=FUDAO), site=site, active=False
        )


def test_add_village_groups(regions: Any, make_user: Any) -> None:
    officer = make_user(role=Role.TOWNSHIP_OFFICER, region=GAOZHUANG)
    first = actions.add_village_group(actor=officer, village_code=JIANGTAITUN, name="第一组")
    assert first.code == JIANGTAITUN + "001"
    assert (first.level, first.parent_id, first.short_name) == (6, JIANGTAITUN, "第一组")
    third = actions.add_village_group(
        actor=officer, village_code=JIANGTAITUN, name="第三组", number=3
    )
    assert third.code == JIANGTAITUN + "003"
    second = actions.add_village_group(actor=None, village_code=JIANGTAITUN, name="第二组")
    assert second.code == JIANGTAITUN + "002"
    entry = AuditEntry.objects.filter(action="geo.add_village_group").order_by("id").first()
    assert entry is not None
    assert entry.actor_id == officer.pk
    assert entry.region_code == first.code
    assert entry.after["name"] == "第一组"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"village_code": GAOZHUANG, "name": "一组"}, "village_code"),  # a township
        ({"village_code": "410522116299", "name": "一组"}, "village_code"),
        ({"village_code": "abc", "name": "一组"}, "village_code"),
        ({"village_code": JIANGTAITUN, "name": ""}, "name"),
        ({"village_code": JIANGTAITUN, "name": "组" * 101}, "name"),
        ({"village_code": JIANGTAITUN, "name": "二组", "number": 0}, "number"),
        ({"village_code": JIANGTAITUN, "name": "二组", "number": 1000}, "number"),
        ({"village_code": JIANGTAITUN, "name": "二组", "number": 1}, "number"),  # taken
        ({"village_code": JIANGTAITUN, "name": "一組"}, "name"),  # duplicate (traditional)
    ],
)
def test_add_village_group_bad_input(regions: Any, kwargs: dict, field: str) -> None:
    actions.add_village_group(actor=None, village_code=JIANGTAITUN, name="一组", number=1)
    with pytest.raises(ValidationError) as exc:
        actions.add_village_group(actor=None, **kwargs)
    assert field in field_errors(exc)
    assert Region.objects.filter(level=6).count() == 1


def test_add_village_group_scope(regions: Any, make_user: Any) -> None:
    with pytest.raises(PermissionDenied):
        actions.add_village_group(
            actor=make_user(role=Role.TOWNSHIP_OFFICER, region=FUDAO),
            village_code=JIANGTAITUN,
            name="一组",
        )
    with pytest.raises(PermissionDenied):
        actions.add_village_group(
            actor=make_user(role=Role.VILLAGE_CADRE, region=JIANGTAITUN),
            village_code=JIANGTAITUN,
            name="一组",
        )
