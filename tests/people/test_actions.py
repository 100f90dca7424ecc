"""Actions: identity derivation, one person one record, merge, tags, returns, households."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from fangkong.accounts.roles import Role
from fangkong.core.models import AuditEntry
from fangkong.people import actions, queries
from fangkong.people.models import Household, Person, PersonTag, ReturneeRecord
from tests.conftest import DONGZHENGSI, FUDAO_ERJIE, JIANGTAITUN
from tests.people.conftest import ZHANG_ID, make_id

pytestmark = pytest.mark.django_db


def test_mainland_id_gives_sex_birth_and_keys(zhang: Person) -> None:
    assert zhang.sex == "M"
    assert zhang.birth_date == dt.date(1990, 1, 1)
    assert (zhang.name_key, zhang.name_pinyin, zhang.name_initials) == ("张三", "zhangsan", "zs")
    assert zhang.id_reversed == ZHANG_ID[::-1]
    assert zhang.phone_reversed == "87654321831"
    entry = AuditEntry.objects.get(action="people.create_person", object_id=str(zhang.pk))
    assert entry.actor_name == "system"
    assert "name" in entry.after and "import_fingerprint" not in entry.after


def test_id_normalized_from_what_people_type(regions: Any) -> None:
    number = make_id("19851231", "00") + ""  # placeholder replaced below
    number = make_id("19851231", "001")
    if number.endswith("X"):
        typed = number[:-1].replace("1", "１") + "x"
    else:
        typed = " ".join([number[:6], number[6:14], number[14:]]).replace("1", "１")
    person = actions.create_person(
        actor=None, name="王 五", id_number=typed, region_code=JIANGTAITUN
    )
    assert person.id_number == number
    assert person.name == "王五"


def test_contradicting_sex_and_birth_are_field_errors(regions: Any) -> None:
    with pytest.raises(ValidationError) as info:
        actions.create_person(
            actor=None,
            name="赵六",
            id_number=make_id("19900101", "123"),
            sex="F",
            birth_date=dt.date(1991, 1, 1),
            region_code=JIANGTAITUN,
        )
    assert set(info.value.message_dict) == {"sex", "birth_date"}


@pytest.mark.parametrize(
    ("id_type", "number", "field"),
    [
        ("mainland", "410522199001011230", "id_number"),  # bad check digit
        ("mainland", "4.10522e17", "id_number"),  # Excel float
        ("mainland", "41052219900101123", "id_number"),  # 17 characters
        ("mainland", "410522199013011234", "id_number"),  # month 13
        ("legacy15", "41052290010112", "id_number"),
        ("passport", "E1", "id_number"),
        ("none", "E12345678", "id_number"),
        ("alien", "E12345678", "id_type"),
        ("mainland", "", "id_number"),
    ],
)
def test_bad_documents(regions: Any, id_type: str, number: str, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        actions.create_person(
            actor=None, name="错号", id_type=id_type, id_number=number, region_code=JIANGTAITUN
        )
    assert field in info.value.message_dict


def test_other_documents_and_none(regions: Any) -> None:
    passport = actions.create_person(
        actor=None,
        name="John Smith",
        id_type="passport",
        id_number="e-1234 5678",
        region_code=JIANGTAITUN,
        sex="M",
    )
    assert passport.id_number == "E12345678"
    baby = actions.create_person(
        actor=None,
        name="小宝",
        id_type="none",
        region_code=JIANGTAITUN,
        birth_date=dt.date(2021, 12, 1),
    )
    assert baby.id_number == "" and baby.id_reversed == ""


def test_region_must_be_a_village_in_scope(regions: Any, make_user: Any) -> None:
    with pytest.raises(ValidationError) as info:
        actions.create_person(actor=None, name="张三", id_type="none", region_code="410522116")
    assert "region_code" in info.value.message_dict
    cadre = make_user(role=Role.VILLAGE_CADRE, region=DONGZHENGSI)
    with pytest.raises(PermissionDenied):
        actions.create_person(actor=cadre, name="张三", id_type="none", region_code=JIANGTAITUN)
    inspector = make_user(role=Role.INSPECTOR, region=JIANGTAITUN)
    with pytest.raises(PermissionDenied):
        actions.create_person(actor=inspector, name="张三", id_type="none", region_code=JIANGTAITUN)


def test_mainland_id_unique_install_wide(zhang: Person) -> None:
    with pytest.raises(actions.DuplicatePerson) as info:
        actions.create_person(
            actor=None, name="张三", id_number=ZHANG_ID.lower(), region_code=FUDAO_ERJIE
        )
    assert info.value.existing.pk == zhang.pk
    assert Person.objects.count() == 1


def test_update_audits_before_and_after(zhang: Person, make_user: Any) -> None:
    cadre = make_user(role=Role.VILLAGE_CADRE, region=JIANGTAITUN)
    actions.update_person(actor=cadre, person=zhang, phone="139 0000 1111", name="張三丰")
    zhang.refresh_from_db()
    assert zhang.phone == "13900001111"
    assert zhang.name_key == "张三丰" and zhang.name_initials == "zsf"
    entry = AuditEntry.objects.get(action="people.update_person")
    assert entry.before["phone"] == "13812345678" and entry.after["phone"] == "13900001111"
    assert entry.actor_name == cadre.username
    assert "import_fingerprint" not in entry.before | entry.after  # bookkeeping, not data
    # Nothing changed: no entry.
    actions.update_person(actor=cadre, person=zhang, name="張三丰")
    assert AuditEntry.objects.filter(action="people.update_person").count() == 1


def test_update_to_someone_elses_id_is_a_duplicate(zhang: Person, li: Person) -> None:
    with pytest.raises(actions.DuplicatePerson):
        actions.update_person(actor=None, person=li, id_number=ZHANG_ID, sex="", birth_date=None)


def test_merge_moves_tags_returns_household(regions: Any) -> None:
    keep = actions.create_person(actor=None, name="孙七", id_type="none", region_code=JIANGTAITUN)
    dup = actions.create_person(
        actor=None, name="孙七", id_type="none", phone="13700000001", region_code=JIANGTAITUN
    )
    household = actions.create_household(actor=None, head=dup)
    actions.tag_persons(actor=None, persons=[dup], group="elderly_alone")
    actions.tag_persons(actor=None, persons=[keep, dup], group="chronic")
    actions.add_returnee(actor=None, person=dup, origin="郑州市", arrival_date=dt.date(2022, 1, 10))
    kept = actions.merge_persons(actor=None, keep=keep, duplicate=dup)
    dup.refresh_from_db()
    household.refresh_from_db()
    assert dup.merged_into_id == kept.pk
    assert kept.phone == "13700000001"
    assert household.head_id == kept.pk and kept.household_id == household.pk
    assert set(PersonTag.objects.filter(person=kept).values_list("group__code", flat=True)) == {
        "elderly_alone",
        "chronic",
    }
    assert not PersonTag.objects.filter(person=dup).exists()
    assert ReturneeRecord.objects.get().person_id == kept.pk
    assert AuditEntry.objects.filter(action__startswith="people.merge_").count() == 2
    assert queries.visible_persons(None).count() == 0  # anonymous sees nothing
    with pytest.raises(ValidationError):
        actions.merge_persons(actor=None, keep=kept, duplicate=dup)


def test_tags_bulk_and_untag(zhang: Person, li: Person) -> None:
    assert actions.tag_persons(actor=None, persons=[zhang, li], group="chronic") == 2
    assert actions.tag_persons(actor=None, persons=[zhang, li], group="chronic") == 0
    assert actions.untag(actor=None, person=zhang, group="chronic")
    assert not actions.untag(actor=None, person=zhang, group="chronic")
    with pytest.raises(ValidationError):
        actions.tag_persons(actor=None, persons=[zhang], group="nope")
    with pytest.raises(ValidationError):
        actions.tag_persons(
            actor=None,
            persons=[zhang],
            group="child",
            since=dt.date(2022, 1, 2),
            until=dt.date(2022, 1, 1),
        )


def test_returnee_duplicate_and_bad_dates(zhang: Person) -> None:
    actions.add_returnee(
        actor=None,
        person=zhang,
        origin="西安市",
        arrival_date=dt.date(2022, 1, 5),
        origin_risk="high",
    )
    with pytest.raises(ValidationError):
        actions.add_returnee(
            actor=None, person=zhang, origin="西安市", arrival_date=dt.date(2022, 1, 5)
        )
    with pytest.raises(ValidationError):
        actions.add_returnee(
            actor=None,
            person=zhang,
            origin="",
            arrival_date=dt.date(1999, 1, 5),
            origin_risk="extreme",
        )


def test_household_in_same_village_only(zhang: Person, li: Person) -> None:
    household = actions.create_household(actor=None, head=zhang)
    assert Household.objects.get().head_id == zhang.pk
    with pytest.raises(ValidationError):
        actions.set_household(actor=None, person=li, household=household)


def test_possible_duplicates_without_id(regions: Any, make_user: Any) -> None:
    first = actions.create_person(
        actor=None,
        name="周小明",
        id_type="none",
        phone="13611112222",
        region_code=JIANGTAITUN,
        birth_date=dt.date(2015, 5, 5),
    )
    officer = make_user(role=Role.TOWNSHIP_OFFICER, region="410522116")
    assert queries.possible_duplicates(officer, name="周小明", phone="13611112222") == [first]
    assert queries.possible_duplicates(officer, name="週小明", birth_date=dt.date(2015, 5, 5)) == [
        first
    ]
    assert queries.possible_duplicates(officer, name="周小明", phone="13600000000") == []
    outsider = make_user(role=Role.VILLAGE_CADRE, region=DONGZHENGSI)
    assert queries.possible_duplicates(outsider, name="周小明", phone="13611112222") == []
