"""No input to any accounts form or API body gives a 500 (hypothesis)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fangkong.accounts.validation import clean_region_code_format, clean_username

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Text as people type it: full-width digits, traditional and simplified names, ideographic
# spaces, emoji, control characters, very long runs.
samples = st.sampled_from(
    [
        "４１０５２２",
        "４１０５２２１１６",
        "410522116215",
        "張偉國",
        "陳國強",
        "蒋台屯村",
        "\u3000张三\u3000",
        "😷",
        "\x00",
        "\t\n",
        "x" * 300,
        "-1",
        "１３８１２３４５６７８",
        "hq_anyang",
        "HQ_ANYANG",
        "",
    ]
)
typed = st.one_of(samples, st.text(max_size=80), st.integers().map(str))


def _ok(response) -> None:
    assert response.status_code < 500, response.content[:500]


@FUZZ
@given(
    username=typed,
    display_name=typed,
    region_code=typed,
    role=st.one_of(typed, st.sampled_from(["hq", "village_cadre"])),
    role_region_code=typed,
    phone=typed,
    organization=typed,
    password=typed,
)
def test_create_user_form_never_500(
    hq_anyang,
    client_for,
    username,
    display_name,
    region_code,
    role,
    role_region_code,
    phone,
    organization,
    password,
) -> None:
    response = client_for(hq_anyang).post(
        reverse("accounts:user_create"),
        {
            "username": username,
            "display_name": display_name,
            "region_code": region_code,
            "role": role,
            "role_region_code": role_region_code,
            "phone": phone,
            "organization": organization,
            "password1": password,
            "password2": password,
        },
    )
    _ok(response)


@FUZZ
@given(display_name=typed, region_code=typed, phone=typed, organization=typed, email=typed)
def test_edit_form_never_500(
    hq_anyang, cadre, client_for, display_name, region_code, phone, organization, email
) -> None:
    response = client_for(hq_anyang).post(
        reverse("accounts:user_edit", args=[cadre.pk]),
        {
            "display_name": display_name,
            "region_code": region_code,
            "phone": phone,
            "organization": organization,
            "email": email,
        },
    )
    _ok(response)


@FUZZ
@given(role=typed, region_code=typed, password=typed, name=typed)
def test_small_forms_never_500(hq_anyang, cadre, client_for, role, region_code, password, name):
    client = client_for(hq_anyang)
    _ok(
        client.post(
            reverse("accounts:assignment_add", args=[cadre.pk]),
            {"role": role, "region_code": region_code},
        )
    )
    _ok(
        client.post(
            reverse("accounts:user_password", args=[cadre.pk]),
            {"password1": password, "password2": password},
        )
    )
    _ok(client.post(reverse("accounts:token_create"), {"name": name}))
    _ok(
        client.post(
            reverse("accounts:password_change"),
            {"old_password": password, "new_password1": name, "new_password2": name},
        )
    )


@FUZZ
@given(q=typed, role=typed, region=typed, active=typed, page=typed, sort=typed)
def test_user_list_filters_never_500(hq_anyang, client_for, q, role, region, active, page, sort):
    params = {"q": q, "role": role, "region": region, "active": active, "page": page, "sort": sort}
    _ok(client_for(hq_anyang).get(reverse("accounts:user_list"), params))
    _ok(client_for(hq_anyang).get("/api/v1/accounts/users", params))


@FUZZ
@given(username=typed, password=typed)
def test_login_never_500(regions, username, password) -> None:
    _ok(Client().post(reverse("accounts:login"), {"username": username, "password": password}))


json_values = st.one_of(
    typed,
    st.none(),
    st.booleans(),
    st.integers(),
    st.lists(typed, max_size=3),
    st.dictionaries(typed, typed, max_size=2),
)


@FUZZ
@given(
    body=st.fixed_dictionaries(
        {},
        optional={
            "username": json_values,
            "password": json_values,
            "region_code": json_values,
            "display_name": json_values,
            "phone": json_values,
            "roles": st.one_of(
                json_values,
                st.lists(
                    st.fixed_dictionaries({"role": json_values, "region_code": json_values}),
                    max_size=3,
                ),
            ),
        },
    )
)
def test_api_create_and_patch_never_500(hq_anyang, cadre, client_for, body) -> None:
    client = client_for(hq_anyang)
    _ok(client.post("/api/v1/accounts/users", body, content_type="application/json"))
    _ok(client.patch(f"/api/v1/accounts/users/{cadre.pk}", body, content_type="application/json"))
    _ok(
        client.post(
            f"/api/v1/accounts/users/{cadre.pk}/assignments", body, content_type="application/json"
        )
    )
    _ok(client.post("/api/v1/accounts/tokens", body, content_type="application/json"))


@given(st.text(max_size=30))
def test_username_cleaning_is_stable(raw: str) -> None:
    """A cleaned name cleans to itself: what is stored is what a later lookup computes."""
    try:
        name = clean_username(raw)
    except Exception as exc:
        assert type(exc).__name__ == "ValidationError"
        return
    assert clean_username(name) == name


@given(st.text(alphabet="0123456789０１２３４５６７８９ ", max_size=20))
def test_full_width_codes_fold_to_ascii(raw: str) -> None:
    try:
        code = clean_region_code_format(raw)
    except Exception as exc:
        assert type(exc).__name__ == "ValidationError"
        return
    assert code.isascii() and code.isdigit()
