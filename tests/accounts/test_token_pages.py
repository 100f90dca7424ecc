"""The API token pages: own list, create (raw shown once), revoke."""

from __future__ import annotations

import pytest
from django.urls import reverse

from fangkong.accounts import actions
from fangkong.accounts.models import ApiToken
from fangkong.core.api import user_for_token

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name", ["token_list", "token_create"])
def test_token_pages_need_login(client_for, name) -> None:
    response = client_for(None).get(reverse(f"accounts:{name}"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_token_revoke_needs_login(cadre, client_for) -> None:
    token, _raw = actions.create_token(actor=cadre, user=cadre, name="phone")
    response = client_for(None).post(reverse("accounts:token_revoke", args=[token.pk]))
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is None


def test_create_shows_raw_once_and_list_never(cadre, client_for) -> None:
    client = client_for(cadre)
    response = client.post(reverse("accounts:token_create"), {"name": "扫码枪 1"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    body = response.content.decode()
    token = ApiToken.objects.get(user=cadre)
    start = body.index('value="fk_') + len('value="')
    raw = body[start : body.index('"', start)]
    assert raw.startswith(f"fk_{token.prefix}_")
    assert user_for_token(raw) == cadre
    listing = client.get(reverse("accounts:token_list")).content.decode()
    assert "扫码枪 1" in listing and token.prefix in listing
    assert raw not in listing
    assert raw.split("_", 2)[2] not in listing


def test_every_role_has_own_tokens_only(cadre, hq_anyang, client_for) -> None:
    actions.create_token(actor=hq_anyang, user=hq_anyang, name="HQ 笔记本")
    body = client_for(cadre).get(reverse("accounts:token_list")).content.decode()
    assert "HQ 笔记本" not in body


@pytest.mark.parametrize("name", ["", "   ", "x" * 65, "\x00", "名" * 300])
def test_create_bad_names(cadre, client_for, name) -> None:
    response = client_for(cadre).post(reverse("accounts:token_create"), {"name": name})
    assert response.status_code == 200
    assert 'data-testid="error-name"' in response.content.decode()
    assert not ApiToken.objects.exists()


def test_traditional_name_accepted(cadre, client_for) -> None:
    client_for(cadre).post(reverse("accounts:token_create"), {"name": "村口掃碼槍"})
    assert ApiToken.objects.get().name == "村口掃碼槍"


def test_owner_revokes_from_list(cadre, client_for) -> None:
    token, raw = actions.create_token(actor=cadre, user=cadre, name="phone")
    client = client_for(cadre)
    response = client.post(reverse("accounts:token_revoke", args=[token.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:token_list")
    assert user_for_token(raw) is None
    assert "已吊销" in client.get(reverse("accounts:token_list")).content.decode()


def test_hq_revokes_from_user_page(hq_anyang, cadre, client_for) -> None:
    token, raw = actions.create_token(actor=cadre, user=cadre, name="phone")
    client = client_for(hq_anyang)
    detail = client.get(reverse("accounts:user_detail", args=[cadre.pk])).content.decode()
    assert reverse("accounts:token_revoke", args=[token.pk]) in detail
    response = client.post(reverse("accounts:token_revoke", args=[token.pk]))
    assert response["Location"] == reverse("accounts:user_detail", args=[cadre.pk])
    assert user_for_token(raw) is None


def test_revoke_is_post_only(cadre, client_for) -> None:
    token, _raw = actions.create_token(actor=cadre, user=cadre, name="phone")
    assert (
        client_for(cadre).get(reverse("accounts:token_revoke", args=[token.pk])).status_code == 405
    )
