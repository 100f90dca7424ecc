"""The printable personal code card: scoped like the person, QR without the ID number."""

from __future__ import annotations

from typing import Any

from fangkong.screening.codes import make_person_qr, parse_person_qr
from tests.conftest import DONGZHENGSI, JIANGTAITUN
from tests.screening.conftest import Gaozhuang
from tests.support.access import AccessCase, check_access_matrix


def test_card_access_matrix(gz: Gaozhuang, make_user: Any, client_for: Any) -> None:
    person = gz.jiangtaitun[2]
    case = AccessCase(
        url=f"/screening/people/{person.pk}/card/",
        role="village_cadre",
        region=JIANGTAITUN,
        other_region=DONGZHENGSI,
        wrong_role="sampler",
    )
    results = check_access_matrix(case, make_user, client_for)
    body = results["allowed"].content.decode()
    assert person.name in body
    assert "<svg" in body
    assert person.id_number not in body
    assert person.id_number[-4:] in body  # the masked number keeps the last digits


def test_card_payload_names_the_person(gz: Gaozhuang) -> None:
    person = gz.jiangtaitun[2]
    payload = make_person_qr(person.pk)
    assert person.id_number not in payload
    assert parse_person_qr(payload) == person.pk


def test_person_page_links_the_card(gz: Gaozhuang, make_user: Any, client_for: Any) -> None:
    user = make_user(role="village_cadre", region=JIANGTAITUN)
    person = gz.jiangtaitun[2]
    page = client_for(user).get(f"/people/{person.pk}/")
    assert f"/screening/people/{person.pk}/card/" in page.content.decode()
