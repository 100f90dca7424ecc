"""accounts.actions: who may manage whom, validation, audit."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from fangkong.accounts import actions
from fangkong.accounts.models import ApiToken, RoleAssignment, User
from fangkong.accounts.roles import Role
from fangkong.core.api import hash_secret, user_for_token
from fangkong.core.models import AuditEntry
from tests.accounts.conftest import GOOD_PASSWORD
from tests.conftest import (
    ANYANG_COUNTY,
    DONGZHENGSI,
    FUDAO,
    FUDAO_ERJIE,
    GAOZHUANG,
    HENAN,
    JIANGTAITUN,
    TANGYIN_COUNTY,
)

pytestmark = pytest.mark.django_db


def _create(actor, **overrides):
    fields = {
        "username": "li_si",
        "password": GOOD_PASSWORD,
        "region_code": GAOZHUANG,
        "display_name": "李四",
        "roles": [(Role.TOWNSHIP_OFFICER, GAOZHUANG)],
    }
    fields.update(overrides)
    return actions.create_user(actor=actor, **fields)


def test_hq_creates_user_in_scope_with_roles_and_audit(hq_anyang) -> None:
    user = _create(hq_anyang)
    assert user.region_code == GAOZHUANG
    assert user.check_password(GOOD_PASSWORD)
    assert list(user.role_assignments.values_list("role", "region_code")) == [
        ("township_officer", GAOZHUANG)
    ]
    assert user.role_assignments.get().created_by == hq_anyang
    entries = AuditEntry.objects.filter(object_type="accounts.user", object_id=str(user.pk))
    assert set(entries.values_list("action", flat=True)) == {
        "accounts.create_user",
        "accounts.assign_role",
    }
    created = entries.get(action="accounts.create_user")
    assert created.actor == hq_anyang
    assert "password" not in created.after


def test_system_actor_is_audited_as_system(regions) -> None:
    user = _create(None)
    entry = AuditEntry.objects.get(action="accounts.create_user", object_id=str(user.pk))
    assert entry.actor is None
    assert entry.actor_name == "system"


def test_hq_of_anyang_cannot_create_user_for_tangyin(hq_anyang) -> None:
    with pytest.raises(ValidationError) as info:
        _create(hq_anyang, region_code=TANGYIN_COUNTY, roles=[])
    assert "region_code" in info.value.message_dict
    assert "410523" in " ".join(info.value.message_dict["region_code"])
    assert not User.objects.filter(username="li_si").exists()


def test_hq_cannot_grant_a_role_outside_or_above_scope(hq_anyang) -> None:
    for code in (FUDAO, HENAN, "4105"):
        with pytest.raises(ValidationError) as info:
            _create(hq_anyang, roles=[(Role.HQ_COMMANDER, code)])
        assert "roles" in info.value.message_dict
    assert not User.objects.filter(username="li_si").exists()


def test_village_cadre_cannot_manage_users(cadre) -> None:
    with pytest.raises(PermissionDenied):
        _create(cadre, region_code=JIANGTAITUN, roles=[])


@pytest.mark.parametrize(
    ("username", "stored"),
    [
        ("  wang_wu  ", "wang_wu"),
        ("ｗａｎｇ．ｗｕ", "wang.wu"),  # full-width letters fold under NFKC
        ("張偉國", "張偉國"),  # traditional characters are accepted
        ("王-5.x", "王-5.x"),
    ],
)
def test_username_is_trimmed_and_normalized(regions, username, stored) -> None:
    user = _create(None, username=username)
    assert user.username == stored


@pytest.mark.parametrize(
    "username", ["ab", "x" * 65, "bad name", "a@b.c", "名字!", "", "   ", "a\x00bc"]
)
def test_bad_usernames_are_clear_errors(regions, username) -> None:
    with pytest.raises(ValidationError) as info:
        _create(None, username=username)
    assert info.value.message_dict["username"]


def test_duplicate_username_is_case_insensitive(regions, make_user) -> None:
    make_user("LiSi", region=GAOZHUANG)
    with pytest.raises(ValidationError) as info:
        _create(None, username="lisi")
    assert "lisi" in info.value.message_dict["username"][0]


def test_unknown_and_malformed_region_codes(regions) -> None:
    with pytest.raises(ValidationError) as info:
        _create(None, region_code="410599")
    assert "410599" in info.value.message_dict["region_code"][0]
    with pytest.raises(ValidationError) as info:
        _create(None, region_code="41052")
    assert info.value.message_dict["region_code"]


def test_full_width_region_code_is_normalized(regions) -> None:
    user = _create(None, region_code="４１０５２２ １１６", roles=[("hq", "４１０５２２")])
    assert user.region_code == GAOZHUANG
    assert user.role_assignments.get().region_code == ANYANG_COUNTY


def test_unknown_role_lists_valid_roles(regions) -> None:
    with pytest.raises(ValidationError) as info:
        _create(None, roles=[("boss", GAOZHUANG)])
    message = info.value.message_dict["roles"][0]
    assert "boss" in message and "village_cadre" in message


def test_password_goes_through_django_validators(regions) -> None:
    for weak in ("short", "12345678901", "password123", "li_si1234"):
        with pytest.raises(ValidationError) as info:
            _create(None, password=weak)
        assert info.value.message_dict["password"]


def test_errors_of_several_fields_come_together(regions) -> None:
    with pytest.raises(ValidationError) as info:
        _create(None, username="a", region_code="x", password="1", phone="call me")
    assert {"username", "region_code", "phone"} <= set(info.value.message_dict)


def test_update_user_in_scope_and_audited(hq_anyang, cadre) -> None:
    actions.update_user(
        actor=hq_anyang, user=cadre, display_name=" 張三 ", phone="１３８１２３４５６７８"
    )
    cadre.refresh_from_db()
    assert cadre.display_name == "張三"
    assert cadre.phone == "13812345678"
    entry = AuditEntry.objects.get(action="accounts.update_user")
    assert entry.before["display_name"] == "蒋台屯张三"
    assert entry.after["display_name"] == "張三"


def test_update_without_change_writes_no_audit(hq_anyang, cadre) -> None:
    actions.update_user(actor=hq_anyang, user=cadre, display_name=cadre.display_name)
    assert not AuditEntry.objects.filter(action="accounts.update_user").exists()


def test_update_cannot_move_user_out_of_scope(hq_anyang, cadre) -> None:
    with pytest.raises(ValidationError):
        actions.update_user(actor=hq_anyang, user=cadre, region_code=FUDAO)


def test_update_rejects_unknown_fields(hq_anyang, cadre) -> None:
    with pytest.raises(ValueError, match="is_superuser"):
        actions.update_user(actor=hq_anyang, user=cadre, is_superuser=True)


def test_other_county_cannot_touch_user(hq_tangyin, cadre) -> None:
    with pytest.raises(PermissionDenied):
        actions.update_user(actor=hq_tangyin, user=cadre, display_name="x")
    with pytest.raises(PermissionDenied):
        actions.set_password(actor=hq_tangyin, user=cadre, password=GOOD_PASSWORD)
    with pytest.raises(PermissionDenied):
        actions.set_user_active(actor=hq_tangyin, user=cadre, active=False)
    with pytest.raises(PermissionDenied):
        actions.assign_role(actor=hq_tangyin, user=cadre, role="inspector", region_code=FUDAO)


def test_township_hq_cannot_take_over_a_county_commander(make_user, regions, hq_anyang) -> None:
    """Living in a township does not put a county commander under that township's HQ."""
    township_hq = make_user("hq_gz", role=Role.HQ_COMMANDER, region=GAOZHUANG)
    boss = make_user("boss", role=Role.HQ_COMMANDER, region=ANYANG_COUNTY)
    boss.region_code = GAOZHUANG
    boss.save()
    with pytest.raises(PermissionDenied):
        actions.set_password(actor=township_hq, user=boss, password=GOOD_PASSWORD)
    actions.set_password(actor=hq_anyang, user=boss, password=GOOD_PASSWORD)


def test_assign_and_revoke_role(hq_anyang, cadre) -> None:
    assignment = actions.assign_role(
        actor=hq_anyang, user=cadre, role="inspector", region_code=DONGZHENGSI
    )
    assert assignment.created_by == hq_anyang
    with pytest.raises(ValidationError):  # the same role twice
        actions.assign_role(actor=hq_anyang, user=cadre, role="inspector", region_code=DONGZHENGSI)
    with pytest.raises(ValidationError) as info:
        actions.assign_role(actor=hq_anyang, user=cadre, role="inspector", region_code=FUDAO_ERJIE)
    assert "region_code" in info.value.message_dict
    with pytest.raises(ValidationError) as info:
        actions.assign_role(actor=hq_anyang, user=cadre, role="janitor", region_code=DONGZHENGSI)
    assert "role" in info.value.message_dict
    actions.revoke_role(actor=hq_anyang, assignment=assignment)
    assert not RoleAssignment.objects.filter(pk=assignment.pk).exists()
    actions_done = list(
        AuditEntry.objects.filter(object_id=str(cadre.pk)).values_list("action", flat=True)
    )
    assert "accounts.assign_role" in actions_done and "accounts.revoke_role" in actions_done


def test_revoke_role_granted_above_scope_is_refused(make_user, regions) -> None:
    township_hq = make_user("hq_gz", role=Role.HQ_COMMANDER, region=GAOZHUANG)
    user = make_user("worker", role=Role.INSPECTOR, region=JIANGTAITUN)
    # Granted by the county: covers more than the township HQ manages.
    broad = RoleAssignment.objects.create(user=user, role=Role.INSPECTOR, region_code=ANYANG_COUNTY)
    with pytest.raises(PermissionDenied):
        actions.revoke_role(actor=township_hq, assignment=broad)


def test_nobody_removes_their_own_roles_or_deactivates_themselves(hq_anyang) -> None:
    with pytest.raises(ValidationError):
        actions.revoke_role(actor=hq_anyang, assignment=hq_anyang.role_assignments.get())
    with pytest.raises(ValidationError):
        actions.set_user_active(actor=hq_anyang, user=hq_anyang, active=False)
    hq_anyang.refresh_from_db()
    assert hq_anyang.is_active


def test_deactivate_and_reactivate(hq_anyang, cadre) -> None:
    actions.set_user_active(actor=hq_anyang, user=cadre, active=False)
    cadre.refresh_from_db()
    assert not cadre.is_active
    actions.set_user_active(actor=hq_anyang, user=cadre, active=True)
    cadre.refresh_from_db()
    assert cadre.is_active
    assert list(
        AuditEntry.objects.filter(object_id=str(cadre.pk)).values_list("action", flat=True)
    )[:2] == ["accounts.activate_user", "accounts.deactivate_user"]


def test_set_password_by_self_and_by_manager(hq_anyang, cadre) -> None:
    actions.set_password(actor=cadre, user=cadre, password=GOOD_PASSWORD)
    cadre.refresh_from_db()
    assert cadre.check_password(GOOD_PASSWORD)
    actions.set_password(actor=hq_anyang, user=cadre, password="Another-pass-42")
    cadre.refresh_from_db()
    assert cadre.check_password("Another-pass-42")
    with pytest.raises(ValidationError):
        actions.set_password(actor=hq_anyang, user=cadre, password="123")
    assert AuditEntry.objects.filter(action="accounts.set_password").count() == 2


def test_token_is_stored_hashed_and_shown_once(cadre) -> None:
    token, raw = actions.create_token(actor=cadre, user=cadre, name="扫码枪 1")
    assert raw.startswith(f"fk_{token.prefix}_")
    secret = raw.split("_", 2)[2]
    stored = ApiToken.objects.get(pk=token.pk)
    assert stored.secret_hash == hash_secret(secret)
    assert secret not in stored.secret_hash and raw not in str(list(ApiToken.objects.values_list()))
    assert user_for_token(raw) == cadre
    entry = AuditEntry.objects.get(action="accounts.create_token")
    assert secret not in str(entry.after)


def test_only_owner_creates_tokens(hq_anyang, cadre) -> None:
    with pytest.raises(PermissionDenied):
        actions.create_token(actor=hq_anyang, user=cadre, name="x")
    with pytest.raises(ValidationError):
        actions.create_token(actor=cadre, user=cadre, name="   ")
    with pytest.raises(ValidationError):
        actions.create_token(actor=cadre, user=cadre, name="x" * 65)


def test_revoke_token_by_owner_or_manager_only(hq_anyang, hq_tangyin, cadre) -> None:
    token, raw = actions.create_token(actor=cadre, user=cadre, name="phone")
    with pytest.raises(PermissionDenied):
        actions.revoke_token(actor=hq_tangyin, token=token)
    actions.revoke_token(actor=hq_anyang, token=token)
    assert user_for_token(raw) is None
    actions.revoke_token(actor=cadre, token=token)  # twice: no error, one audit entry
    assert AuditEntry.objects.filter(action="accounts.revoke_token").count() == 1
