"""Login, logout, lockout (django-axes), password change, hashing and session settings."""

from __future__ import annotations

import importlib

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from fangkong.accounts import actions
from fangkong.core.models import AuditEntry
from tests.accounts.conftest import GOOD_PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
PASSWORD = "test-pass-123"  # make_user's default


def _login(client: Client, username: str, password: str):
    return client.post(LOGIN, {"username": username, "password": password})


def test_login_page_is_phone_friendly(client) -> None:
    response = client.get(LOGIN)
    body = response.content.decode()
    assert response.status_code == 200
    assert 'name="viewport"' in body
    assert 'autocapitalize="none"' in body
    assert 'autocomplete="current-password"' in body


def test_login_and_logout(cadre) -> None:
    client = Client()
    response = _login(client, "cadre_jiang", PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == reverse("core:home")
    assert client.get("/").status_code == 200
    assert client.get(reverse("accounts:logout")).status_code == 405  # POST only
    response = client.post(reverse("accounts:logout"))
    assert response.status_code == 302
    assert client.get("/").status_code == 302


def test_login_ignores_case_and_full_width(cadre) -> None:
    client = Client()
    assert _login(client, "ＣＡＤＲＥ_Jiang ", PASSWORD).status_code == 302


def test_wrong_password_shows_message_in_chinese(cadre) -> None:
    response = _login(Client(), "cadre_jiang", "nope")
    assert response.status_code == 200
    assert "请输入一个正确的" in response.content.decode()


def test_inactive_user_cannot_log_in(cadre) -> None:
    cadre.is_active = False
    cadre.save()
    response = _login(Client(), "cadre_jiang", PASSWORD)
    assert response.status_code == 200
    assert "_auth_user_id" not in Client().session


def test_lockout_after_five_failures_even_with_right_password(cadre) -> None:
    client = Client()
    for _ in range(4):
        assert _login(client, "cadre_jiang", "wrong").status_code == 200
    locked = _login(client, "cadre_jiang", "wrong")
    assert locked.status_code == 429
    body = locked.content.decode()
    assert 'data-testid="locked-out"' in body
    assert "30 分钟" in body  # how long to wait, in Chinese
    right = _login(client, "cadre_jiang", PASSWORD)
    assert right.status_code == 429
    assert 'data-testid="locked-out"' in right.content.decode()
    assert client.get("/").status_code == 302  # still not logged in


def test_lockout_counts_case_variants_as_one_username(cadre) -> None:
    client = Client()
    for name in ("cadre_jiang", "Cadre_jiang", "CADRE_JIANG", "cadre_JIANG", "Cadre_Jiang"):
        response = _login(client, name, "wrong")
    assert response.status_code == 429


def test_lockout_page_in_english_too(cadre) -> None:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    for _ in range(5):
        response = _login(client, "cadre_jiang", "wrong")
    assert "Please try again in 30 minutes." in response.content.decode()


def test_successful_login_resets_failures(cadre) -> None:
    client = Client()
    for _ in range(4):
        _login(client, "cadre_jiang", "wrong")
    assert _login(client, "cadre_jiang", PASSWORD).status_code == 302
    client.post(reverse("accounts:logout"))
    for _ in range(4):
        assert _login(client, "cadre_jiang", "wrong").status_code == 200
    assert _login(client, "cadre_jiang", PASSWORD).status_code == 302


def test_password_reset_by_hq_lifts_lockout(hq_anyang, cadre) -> None:
    client = Client()
    for _ in range(5):
        _login(client, "cadre_jiang", "wrong")
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        actions.set_password(actor=hq_anyang, user=cadre, password=GOOD_PASSWORD)
    assert _login(client, "cadre_jiang", GOOD_PASSWORD).status_code == 302


def test_api_token_unaffected_by_lockout(cadre) -> None:
    _token, raw = actions.create_token(actor=cadre, user=cadre, name="scanner")
    client = Client()
    for _ in range(6):
        _login(client, "cadre_jiang", "wrong")
    response = client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 200
    assert response.json()["username"] == "cadre_jiang"


def test_password_change(cadre, client_for) -> None:
    client = client_for(cadre)
    url = reverse("accounts:password_change")
    assert client.get(url).status_code == 200
    # Wrong old password, mismatch, weak: each a field message, no change.
    for data in (
        {"old_password": "x", "new_password1": GOOD_PASSWORD, "new_password2": GOOD_PASSWORD},
        {"old_password": PASSWORD, "new_password1": GOOD_PASSWORD, "new_password2": "other"},
        {"old_password": PASSWORD, "new_password1": "12345678", "new_password2": "12345678"},
    ):
        response = client.post(url, data)
        assert response.status_code == 200
        assert "invalid-feedback" in response.content.decode()
    cadre.refresh_from_db()
    assert cadre.check_password(PASSWORD)
    response = client.post(
        url,
        {"old_password": PASSWORD, "new_password1": GOOD_PASSWORD, "new_password2": GOOD_PASSWORD},
    )
    assert response.status_code == 302
    cadre.refresh_from_db()
    assert cadre.check_password(GOOD_PASSWORD)
    assert client.get("/").status_code == 200  # the session survives its own change
    entry = AuditEntry.objects.get(action="accounts.set_password")
    assert entry.actor == cadre and entry.object_id == str(cadre.pk)


def test_password_change_needs_login(client) -> None:
    response = client.get(reverse("accounts:password_change"))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_product_hashes_with_argon2() -> None:
    product = importlib.import_module("fangkong.settings")
    assert product.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"


def test_argon2_is_usable() -> None:
    from django.contrib.auth.hashers import Argon2PasswordHasher

    encoded = Argon2PasswordHasher().encode("secret-value", Argon2PasswordHasher().salt())
    assert encoded.startswith("argon2$")


def test_sessions_expire() -> None:
    product = importlib.import_module("fangkong.settings")
    assert product.SESSION_EXPIRE_AT_BROWSER_CLOSE is True
    assert 0 < product.SESSION_COOKIE_AGE <= 24 * 3600
    assert product.AXES_FAILURE_LIMIT == 5


def test_over_long_username_is_a_plain_failed_login(cadre) -> None:
    """Django's login form does not enforce its max_length; axes' column would overflow."""
    response = _login(Client(), "x" * 300, "wrong")
    assert response.status_code == 200
    assert "请输入一个正确的" in response.content.decode()
