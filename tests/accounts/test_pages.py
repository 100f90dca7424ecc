"""User management pages: the access matrix, the forms, the list's query count."""

from __future__ import annotations

import pytest
from django.urls import reverse

from fangkong.accounts import actions
from fangkong.accounts.models import RoleAssignment, User
from fangkong.accounts.roles import Role
from fangkong.core.models import AuditEntry
from tests.accounts.conftest import GOOD_PASSWORD
from tests.conftest import (
    ANYANG_COUNTY,
    DONGZHENGSI,
    FUDAO,
    GAOZHUANG,
    JIANGTAITUN,
    TANGYIN_COUNTY,
)
from tests.support.access import (
    AccessCase,
    assert_absent,
    assert_present,
    check_access_matrix,
    count_queries,
)

pytestmark = pytest.mark.django_db

HQ = Role.HQ_COMMANDER
CADRE = Role.VILLAGE_CADRE


def _case(url: str, method: str = "get", data: dict | None = None) -> AccessCase:
    return AccessCase(
        url=url,
        role=HQ,
        region=ANYANG_COUNTY,
        other_region=TANGYIN_COUNTY,
        wrong_role=CADRE,
        method=method,
        data=data or {},
    )


# ---------------------------------------------------------------- access matrix


def test_detail_matrix(cadre, make_user, client_for) -> None:
    results = check_access_matrix(
        _case(reverse("accounts:user_detail", args=[cadre.pk])), make_user, client_for
    )
    assert "蒋台屯张三" in results["allowed"].content.decode()
    assert "蒋台屯张三" not in results["other_region"].content.decode()


@pytest.mark.parametrize("name", ["user_edit", "user_password", "assignment_add"])
def test_form_pages_matrix(cadre, make_user, client_for, name) -> None:
    check_access_matrix(_case(reverse(f"accounts:{name}", args=[cadre.pk])), make_user, client_for)


def test_edit_post_matrix(cadre, make_user, client_for) -> None:
    data = {"display_name": "新名字", "region_code": JIANGTAITUN}
    case = _case(reverse("accounts:user_edit", args=[cadre.pk]), "post", data)
    results = check_access_matrix(case, make_user, client_for)
    assert results["allowed"].status_code == 302
    cadre.refresh_from_db()
    assert cadre.display_name == "新名字"


def test_password_post_matrix(cadre, make_user, client_for) -> None:
    data = {"password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD}
    case = _case(reverse("accounts:user_password", args=[cadre.pk]), "post", data)
    check_access_matrix(case, make_user, client_for)
    cadre.refresh_from_db()
    assert cadre.check_password(GOOD_PASSWORD)
    assert AuditEntry.objects.filter(action="accounts.set_password").count() == 1


def test_assignment_add_post_matrix(cadre, make_user, client_for) -> None:
    data = {"role": "inspector", "region_code": DONGZHENGSI}
    case = _case(reverse("accounts:assignment_add", args=[cadre.pk]), "post", data)
    check_access_matrix(case, make_user, client_for)
    assert cadre.role_assignments.filter(role="inspector", region_code=DONGZHENGSI).count() == 1


def test_assignment_revoke_matrix(cadre, make_user, client_for) -> None:
    assignment = cadre.role_assignments.get()
    case = _case(reverse("accounts:assignment_revoke", args=[assignment.pk]), "post")
    check_access_matrix(case, make_user, client_for)
    assert not RoleAssignment.objects.filter(pk=assignment.pk).exists()


def test_set_active_matrix(cadre, make_user, client_for) -> None:
    case = _case(reverse("accounts:user_set_active", args=[cadre.pk]), "post", {"active": "0"})
    check_access_matrix(case, make_user, client_for)
    cadre.refresh_from_db()
    assert not cadre.is_active


def test_token_revoke_matrix(cadre, make_user, client_for) -> None:
    token, _raw = actions.create_token(actor=cadre, user=cadre, name="phone")
    case = _case(reverse("accounts:token_revoke", args=[token.pk]), "post")
    check_access_matrix(case, make_user, client_for, wrong_role_statuses=(404,))
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_post_only_routes_refuse_get(hq_anyang, cadre, client_for) -> None:
    client = client_for(hq_anyang)
    assignment = cadre.role_assignments.get()
    for url in (
        reverse("accounts:user_set_active", args=[cadre.pk]),
        reverse("accounts:assignment_revoke", args=[assignment.pk]),
    ):
        assert client.get(url).status_code == 405


@pytest.mark.parametrize("name", ["user_list", "user_create"])
def test_manager_pages_refuse_anonymous_and_wrong_role(cadre, client_for, name) -> None:
    url = reverse(f"accounts:{name}")
    response = client_for(None).get(url)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert client_for(cadre).get(url).status_code == 403


def test_user_list_is_scoped(hq_anyang, hq_tangyin, cadre, client_for) -> None:
    url = reverse("accounts:user_list")
    assert_present(client_for(hq_anyang), url, "cadre_jiang")
    assert_absent(client_for(hq_tangyin), url, "cadre_jiang")
    assert_absent(client_for(hq_tangyin), url, "cadre_jiang", q="cadre")
    assert_present(client_for(hq_tangyin), url, "hq_tangyin")


def test_nav_has_users_for_hq_only(hq_anyang, cadre, client_for) -> None:
    users_url = reverse("accounts:user_list")
    assert f'href="{users_url}"' in client_for(hq_anyang).get("/").content.decode()
    assert f'href="{users_url}"' not in client_for(cadre).get("/").content.decode()


# ---------------------------------------------------------------- list filters and queries


def _people(hq_anyang, n: int) -> None:
    for i in range(n):
        actions.create_user(
            actor=hq_anyang,
            username=f"worker{i:03d}",
            password=GOOD_PASSWORD,
            region_code=DONGZHENGSI if i % 2 else JIANGTAITUN,
            display_name=f"工作人员{i}",
            roles=[(Role.INSPECTOR, GAOZHUANG), (Role.VILLAGE_CADRE, JIANGTAITUN)],
        )


def test_user_list_query_count_does_not_grow(hq_anyang, client_for) -> None:
    client = client_for(hq_anyang)
    url = reverse("accounts:user_list")
    _people(hq_anyang, 3)
    few = count_queries(client, url)
    _people_more = [
        actions.create_user(
            actor=hq_anyang,
            username=f"more{i:03d}",
            password=GOOD_PASSWORD,
            region_code=GAOZHUANG,
            roles=[(Role.INSPECTOR, GAOZHUANG)],
        )
        for i in range(30)
    ]
    many = count_queries(client, url)
    assert many == few
    assert many <= 7  # session, user, scope, count, page, assignments (+1 spare)


def test_user_list_filters(hq_anyang, cadre, client_for) -> None:
    _people(hq_anyang, 4)
    client = client_for(hq_anyang)
    url = reverse("accounts:user_list")
    body = client.get(url, {"q": "蔣台屯"}).content.decode()  # traditional spelling finds it
    assert "cadre_jiang" in body and "worker000" not in body
    body = client.get(url, {"region": DONGZHENGSI}).content.decode()
    assert "worker001" in body and "worker000" not in body and "cadre_jiang" not in body
    body = client.get(url, {"region": "４１０５２２１１６２２０"}).content.decode()
    assert "worker001" in body and "worker000" not in body
    body = client.get(url, {"role": "inspector"}).content.decode()
    assert "worker000" in body and "cadre_jiang" not in body
    User.objects.filter(username="worker002").update(is_active=False)
    body = client.get(url, {"active": "false"}).content.decode()
    assert "worker002" in body and "worker000" not in body


@pytest.mark.parametrize(
    "params",
    [
        {"region": "abc"},
        {"region": "4105221"},
        {"role": "boss"},
        {"active": "maybe"},
        {"q": "x" * 500},
        {"page": "999"},
        {"page": "-1"},
        {"sort": "nonexistent"},
        {"q": "\x00"},
    ],
)
def test_user_list_bad_filters_never_500(hq_anyang, client_for, params) -> None:
    response = client_for(hq_anyang).get(reverse("accounts:user_list"), params)
    assert response.status_code in (200, 404)


def test_user_list_bad_region_shows_message(hq_anyang, client_for) -> None:
    response = client_for(hq_anyang).get(reverse("accounts:user_list"), {"region": "abc"})
    assert "invalid-feedback" in response.content.decode()


# ---------------------------------------------------------------- create


def _create_data(**overrides) -> dict:
    data = {
        "username": "wang_wu",
        "display_name": "王五",
        "region_code": GAOZHUANG,
        "role": Role.TOWNSHIP_OFFICER,
        "role_region_code": "",
        "phone": "13812345678",
        "organization": "市直单位",
        "password1": GOOD_PASSWORD,
        "password2": GOOD_PASSWORD,
    }
    data.update(overrides)
    return data


def test_create_user_page(hq_anyang, client_for) -> None:
    client = client_for(hq_anyang)
    url = reverse("accounts:user_create")
    page = client.get(url).content.decode()
    assert 'list="fk-region-codes"' in page and "410522116 高庄镇" in page
    assert "410523" not in page  # the region suggestions stay inside the actor's scope
    response = client.post(url, _create_data())
    user = User.objects.get(username="wang_wu")
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:user_detail", args=[user.pk])
    assert list(user.role_assignments.values_list("role", "region_code")) == [
        ("township_officer", GAOZHUANG)
    ]
    detail = client.get(response["Location"]).content.decode()
    assert "accounts.create_user" in detail and "accounts.assign_role" in detail


def test_create_user_for_other_county_is_refused_on_the_page(hq_anyang, client_for) -> None:
    client = client_for(hq_anyang)
    response = client.post(reverse("accounts:user_create"), _create_data(region_code=FUDAO))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-testid="error-region_code"' in body and FUDAO in body
    response = client.post(
        reverse("accounts:user_create"), _create_data(role_region_code=TANGYIN_COUNTY)
    )
    assert 'data-testid="error-role_region_code"' in response.content.decode()
    assert not User.objects.filter(username="wang_wu").exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("username", "ab"),
        ("username", "x" * 65),
        ("username", "has space"),
        ("username", "hq_anyang"),  # duplicate
        ("username", "HQ_ANYANG"),  # duplicate, other case
        ("region_code", "abc"),
        ("region_code", "410599"),
        ("region_code", "4105221"),
        ("role", "boss"),
        ("role_region_code", "99"),
        ("phone", "call me"),
        ("phone", "1" * 70),
        ("display_name", "名" * 65),
        ("organization", "单" * 129),
        ("password1", "123"),
        ("password2", "different-Pass-1"),
    ],
)
def test_create_user_bad_inputs(hq_anyang, client_for, field, value) -> None:
    data = _create_data(**{field: value})
    if field == "password1":  # typed twice alike, so the validators speak
        data["password2"] = value
    response = client_for(hq_anyang).post(reverse("accounts:user_create"), data)
    assert response.status_code == 200
    assert f'data-testid="error-{field}"' in response.content.decode()
    assert User.objects.count() == 1


def test_create_user_normalizes_full_width_and_accepts_traditional(hq_anyang, client_for) -> None:
    data = _create_data(
        username="陳國強",
        display_name="陳國強",
        region_code="４１０５２２１１６",
        phone="１３８ 1234 5678",
    )
    response = client_for(hq_anyang).post(reverse("accounts:user_create"), data)
    assert response.status_code == 302
    user = User.objects.get(username="陳國強")
    assert user.region_code == GAOZHUANG
    assert user.phone == "13812345678"  # canonical form, whatever was typed


# ---------------------------------------------------------------- other forms


def test_edit_bad_inputs(hq_anyang, cadre, client_for) -> None:
    url = reverse("accounts:user_edit", args=[cadre.pk])
    client = client_for(hq_anyang)
    for field, value in [
        ("region_code", FUDAO),
        ("region_code", "x"),
        ("email", "not-an-email"),
        ("phone", "abc"),
        ("display_name", "x" * 100),
    ]:
        data = {"display_name": "x", "region_code": JIANGTAITUN, field: value}
        response = client.post(url, data)
        assert response.status_code == 200, (field, value)
        assert f'data-testid="error-{field}"' in response.content.decode(), (field, value)
    cadre.refresh_from_db()
    assert cadre.region_code == JIANGTAITUN and cadre.display_name == "蒋台屯张三"


def test_assignment_bad_inputs(hq_anyang, cadre, client_for) -> None:
    url = reverse("accounts:assignment_add", args=[cadre.pk])
    client = client_for(hq_anyang)
    for data, field in [
        ({"role": "boss", "region_code": JIANGTAITUN}, "role"),
        ({"role": CADRE, "region_code": JIANGTAITUN}, "region_code"),  # held already
        ({"role": CADRE, "region_code": FUDAO}, "region_code"),
        ({"role": CADRE, "region_code": "41"}, "region_code"),  # above the HQ's scope
        ({"role": CADRE, "region_code": ""}, "region_code"),
    ]:
        response = client.post(url, data)
        assert response.status_code == 200
        assert f'data-testid="error-{field}"' in response.content.decode(), data
    assert cadre.role_assignments.count() == 1


def test_self_protection_on_pages(hq_anyang, client_for) -> None:
    client = client_for(hq_anyang)
    detail = client.get(reverse("accounts:user_detail", args=[hq_anyang.pk])).content.decode()
    assert "user_set_active" not in detail and "/active/" not in detail
    response = client.post(
        reverse("accounts:user_set_active", args=[hq_anyang.pk]), {"active": "0"}, follow=True
    )
    assert response.status_code == 200
    hq_anyang.refresh_from_db()
    assert hq_anyang.is_active
    own = hq_anyang.role_assignments.get()
    client.post(reverse("accounts:assignment_revoke", args=[own.pk]))
    assert RoleAssignment.objects.filter(pk=own.pk).exists()


def test_reactivate(hq_anyang, cadre, client_for) -> None:
    client = client_for(hq_anyang)
    url = reverse("accounts:user_set_active", args=[cadre.pk])
    client.post(url, {"active": "0"})
    cadre.refresh_from_db()
    assert not cadre.is_active
    detail = client.get(reverse("accounts:user_detail", args=[cadre.pk])).content.decode()
    assert 'data-testid="inactive"' in detail
    client.post(url, {"active": "1"})
    cadre.refresh_from_db()
    assert cadre.is_active


def test_detail_shows_tokens_and_history(hq_anyang, cadre, client_for) -> None:
    actions.create_token(actor=cadre, user=cadre, name="村口扫码")
    actions.update_user(actor=hq_anyang, user=cadre, phone="13900001111")
    body = client_for(hq_anyang).get(reverse("accounts:user_detail", args=[cadre.pk])).content
    text = body.decode()
    assert "村口扫码" in text
    assert "accounts.update_user" in text and "phone=13900001111" in text
    assert "secret_hash" not in text


def test_create_form_reports_every_bad_field_at_once(hq_anyang, client_for) -> None:
    data = _create_data(username="ab", region_code=FUDAO, role="", password1="123", password2="123")
    body = client_for(hq_anyang).post(reverse("accounts:user_create"), data).content.decode()
    for field in ("username", "region_code", "role", "password1"):
        assert f'data-testid="error-{field}"' in body, field
    assert "410523106" in body  # the out-of-scope message names the code


def test_role_select_starts_blank(hq_anyang, cadre, client_for) -> None:
    client = client_for(hq_anyang)
    for url in (
        reverse("accounts:user_create"),
        reverse("accounts:user_detail", args=[cadre.pk]),
    ):
        body = client.get(url).content.decode()
        assert '<option value="" selected>' in body, url
