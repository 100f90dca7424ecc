"""The sampling API: the scan a handheld app makes with a token, tubes, removals, walk-ins.

Every route: the access matrix (anonymous 401, wrong role 403, right role elsewhere 404,
right role here allowed), bad input (never a 500), and the scan's query count.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from fangkong.accounts.models import ApiToken
from fangkong.accounts.roles import Role
from fangkong.core.api import TOKEN_PREFIX, hash_secret
from fangkong.core.models import AuditEntry
from fangkong.people.models import Person
from fangkong.screening.actions.sampling import open_tube
from fangkong.screening.actions.scan import scan
from fangkong.screening.models import RoundStatus, Sample, Tube, TubeStatus
from tests.conftest import FUDAO, JIANGTAITUN
from tests.people.conftest import make_id
from tests.screening.conftest import Gaozhuang
from tests.support.access import AccessCase, check_access_matrix

BASE = "/api/v1/screening"
JSON = "application/json"


def token_for(user: Any) -> str:
    secret = secrets.token_urlsafe(32)
    prefix = secrets.token_hex(4)
    ApiToken.objects.create(
        user=user, name="扫码枪", prefix=prefix, secret_hash=hash_secret(secret)
    )
    return f"{TOKEN_PREFIX}{prefix}_{secret}"


def post(client: Client, url: str, data: Any) -> Any:
    body = data if isinstance(data, (str, bytes)) else json.dumps(data)
    return client.post(url, body, content_type=JSON)


@pytest.fixture
def tube(gz: Gaozhuang) -> Tube:
    return open_tube(actor=None, round_=gz.round, site=gz.site, barcode="TB0001")


@pytest.fixture
def sampler(gz: Gaozhuang, make_user: Any) -> Any:
    return make_user("sampler", role=Role.SAMPLER, region=JIANGTAITUN)


@pytest.fixture
def api(sampler: Any) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {token_for(sampler)}")


# --- POST /scan ------------------------------------------------------------------------


def test_scan_with_a_token(gz: Gaozhuang, tube: Tube, api: Client) -> None:
    someone = gz.jiangtaitun[0]
    response = post(api, f"{BASE}/scan", {"tube": "]C1TB0001\r", "person": someone.id_number})
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True and body["code"] == "added" and body["level"] == "ok"
    assert body["tube_barcode"] == "TB0001" and body["tube_member_count"] == 1
    assert body["person_name"] == someone.name
    assert someone.id_number not in response.content.decode()
    assert body["person_id_masked"].startswith(someone.id_number[:6] + "****")
    assert Sample.objects.get(pk=body["sample_id"]).person_id == someone.pk
    assert response["Content-Type"].startswith("application/json")


def test_scan_refusals_are_200_with_ok_false(gz: Gaozhuang, tube: Tube, api: Client) -> None:
    number = gz.jiangtaitun[0].id_number
    assert post(api, f"{BASE}/scan", {"tube": "TB0001", "person": number}).json()["ok"]
    again = post(api, f"{BASE}/scan", {"tube": "TB0001", "person": number})
    assert again.status_code == 200
    assert again.json()["ok"] is False and again.json()["code"] == "duplicate_in_tube"
    unknown = post(api, f"{BASE}/scan", {"tube": "TB0001", "person": make_id("19900101", "999")})
    assert (unknown.status_code, unknown.json()["code"]) == (200, "unknown_person")
    bad = post(api, f"{BASE}/scan", {"tube": "TB0001", "person": number[:17] + "Z"})
    assert (bad.status_code, bad.json()["code"]) == (200, "invalid_id")


def test_scan_other_header_and_revoked_token(gz: Gaozhuang, tube: Tube, sampler: Any) -> None:
    raw = token_for(sampler)
    header = Client(HTTP_X_API_TOKEN=raw)
    body = {"tube": "TB0001", "person": gz.jiangtaitun[1].id_number}
    assert post(header, f"{BASE}/scan", body).status_code == 200
    ApiToken.objects.filter(prefix=raw.split("_")[1]).update(revoked_at="2022-01-20T08:00:00Z")
    assert post(header, f"{BASE}/scan", body).status_code == 401
    assert (
        post(Client(HTTP_AUTHORIZATION="Bearer fk_nope_nope"), f"{BASE}/scan", body).status_code
        == 401
    )


def test_scan_access_matrix(gz: Gaozhuang, tube: Tube, make_user: Any, client_for: Any) -> None:
    case = AccessCase(
        url=f"{BASE}/scan",
        method="post",
        data={"tube": "TB0001", "person": gz.jiangtaitun[0].id_number},
        content_type=JSON,
        role=Role.SAMPLER,
        region=JIANGTAITUN,
        other_region=FUDAO,
        wrong_role=Role.INSPECTOR,
        api=True,
    )
    results = check_access_matrix(case, make_user, client_for)
    assert results["wrong_role"].status_code == 403
    assert results["wrong_role"].json()["code"] == "not_allowed"
    other = results["other_region"].json()
    assert other["code"] == "tube_unknown" and other["person_name"] == ""
    assert other["tube_capacity"] == 0 and other["message"]
    assert results["allowed"].json()["code"] == "added"
    assert Tube.objects.get(pk=tube.pk).member_count == 1


def test_scan_query_count_is_auth_plus_one_statement(
    gz: Gaozhuang, tube: Tube, api: Client
) -> None:
    post(api, f"{BASE}/scan", {"tube": "TB0001", "person": gz.jiangtaitun[0].id_number})  # warm
    with CaptureQueriesContext(connection) as ctx:
        response = post(
            api, f"{BASE}/scan", {"tube": "TB0001", "person": gz.jiangtaitun[1].id_number}
        )
    assert response.json()["code"] == "added"
    sqls = [q["sql"] for q in ctx.captured_queries]
    if connection.vendor == "postgresql":
        # The token (with its user) and the scan statement: nothing else.
        assert len(sqls) == 2, sqls
        assert "accounts_apitoken" in sqls[0] and sqls[1].startswith("/* scan */")
    else:
        # SQLite's plain path: token, role assignments, then in its transaction (a
        # savepoint inside the test's) tube, person, region, samples, zone, target,
        # guarded update, insert, target update (fine for a township; PostgreSQL serves
        # mass testing).
        assert len(sqls) == 13, sqls
    # A refusal costs the same.
    with CaptureQueriesContext(connection) as ctx:
        post(api, f"{BASE}/scan", {"tube": "TB0001", "person": gz.jiangtaitun[1].id_number})
    if connection.vendor == "postgresql":
        assert len(ctx.captured_queries) == 2


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"tube": "TB0001"},
        {"person": "x"},
        {"tube": 1, "person": "x"},
        {"tube": "TB0001", "person": 410522199001011234},
        {"tube": "TB0001", "person": None},
        {"tube": ["TB0001"], "person": "x"},
        {"tube": "TB0001", "person": "x" * 513},
        {"tube": "TB0001", "person": "x", "reason": "长" * 600},
        "not json",
        "[]",
        "",
    ],
)
def test_scan_bad_bodies(gz: Gaozhuang, tube: Tube, api: Client, body: Any) -> None:
    response = post(api, f"{BASE}/scan", body)
    assert response.status_code in (400, 422), response.content
    assert "code" in response.json()
    assert Tube.objects.get(pk=tube.pk).member_count == 0


@pytest.mark.parametrize(
    ("tube_code", "person", "name", "expected"),
    [
        ("ＴＢ０００１", "full-width", "", "added"),
        ("TB0001", "tail-traditional", "", "added"),
        ("TB0001", "\x00\x01", "", "invalid_id"),
        ("TB0001", "\ud800", "", "invalid"),  # a lone surrogate is not a string: 422
        ("TB0001", "410522199001011234\u200b", "", "invalid_id"),
        ("管子", "full-width", "", "tube_unknown"),
        ("TB0001\x00", "full-width", "", "added"),
    ],
)
def test_scan_odd_input(
    gz: Gaozhuang,
    tube: Tube,
    api: Client,
    tube_code: str,
    person: str,
    name: str,
    expected: str,
) -> None:
    someone = gz.jiangtaitun[2]
    if person == "full-width":
        person = "".join(chr(ord(c) + 0xFEE0) for c in someone.id_number)
    elif person == "tail-traditional":
        person, name = someone.id_number[-6:], "張偉"  # 张伟
    body = json.dumps({"tube": tube_code, "person": person, "name": name}, ensure_ascii=True)
    response = post(api, f"{BASE}/scan", body)
    assert response.status_code in (200, 404, 422)
    assert response.json()["code"] == expected


# --- tubes -----------------------------------------------------------------------------


def test_open_tube(gz: Gaozhuang, api: Client) -> None:
    response = post(
        api, f"{BASE}/tubes", {"round": gz.round.pk, "site": gz.site.pk, "barcode": " tb0002\r\n"}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["barcode"] == "TB0002" and body["capacity"] == 10 and body["status"] == "open"
    assert body["site_name"] == gz.site.name and body["round_name"] == gz.round.name
    tube = Tube.objects.get(barcode="TB0002")
    assert AuditEntry.objects.filter(action="screening.open_tube", object_id=str(tube.pk)).exists()
    household = post(
        api,
        f"{BASE}/tubes",
        {"round": gz.round.pk, "site": gz.site.pk, "barcode": "HH1", "capacity": 0},
    )
    assert household.json()["household_mode"] is True and household.json()["capacity"] == 20
    typed = post(
        api,
        f"{BASE}/tubes",
        {
            "round": gz.round.pk,
            "site": gz.site.pk,
            "barcode": "TB0003",
            "typed": True,
            "confirm_barcode": "tb0003",
            "capacity": 5,
        },
    )
    assert typed.status_code == 201 and typed.json()["capacity"] == 5


def test_open_tube_access_matrix(gz: Gaozhuang, make_user: Any, client_for: Any) -> None:
    case = AccessCase(
        url=f"{BASE}/tubes",
        method="post",
        data={"round": gz.round.pk, "site": gz.site.pk, "barcode": "TB0100"},
        content_type=JSON,
        role=Role.SAMPLER,
        region=JIANGTAITUN,
        other_region=FUDAO,
        wrong_role=Role.INSPECTOR,
        api=True,
    )
    results = check_access_matrix(case, make_user, client_for)
    assert results["wrong_role"].status_code == 403
    assert results["allowed"].status_code == 201
    assert Tube.objects.filter(barcode="TB0100").count() == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"barcode": "管0001"}, "barcode"),
        ({"barcode": ""}, "barcode"),
        ({"barcode": "TB0001"}, "barcode"),  # already used
        ({"capacity": 21}, "capacity"),
        ({"capacity": -1}, "capacity"),
        ({"capacity": 101}, "capacity"),
        ({"capacity": "ten"}, "capacity"),
        ({"typed": True}, "confirm_barcode"),
        ({"typed": True, "confirm_barcode": "TB0O02"}, "confirm_barcode"),
        ({"round": 0}, "round"),
        ({"round": 2**70}, "round"),
        ({"site": "x"}, "site"),
        ({"barcode": "x" * 600}, "barcode"),
    ],
)
def test_open_tube_bad_input(
    gz: Gaozhuang, tube: Tube, api: Client, change: dict[str, Any], field: str
) -> None:
    data = {"round": gz.round.pk, "site": gz.site.pk, "barcode": "TB0002", **change}
    response = post(api, f"{BASE}/tubes", data)
    assert response.status_code == 422, response.content
    assert field in response.json()["fields"], response.json()
    assert not Tube.objects.filter(barcode="TB0002").exists()


def test_open_tube_round_format_and_status(gz: Gaozhuang, api: Client) -> None:
    type(gz.round).objects.filter(pk=gz.round.pk).update(barcode_prefix="AY", barcode_length=8)
    data = {"round": gz.round.pk, "site": gz.site.pk}
    assert post(api, f"{BASE}/tubes", {**data, "barcode": "BX000001"}).status_code == 422
    assert post(api, f"{BASE}/tubes", {**data, "barcode": "AY00001"}).status_code == 422
    assert post(api, f"{BASE}/tubes", {**data, "barcode": "AY000001"}).status_code == 201
    type(gz.round).objects.filter(pk=gz.round.pk).update(status=RoundStatus.CLOSED)
    closed = post(api, f"{BASE}/tubes", {**data, "barcode": "AY000002"})
    assert closed.status_code == 422 and "round" in closed.json()["fields"]


def test_open_tube_unknown_round_or_site(gz: Gaozhuang, api: Client) -> None:
    assert (
        post(
            api, f"{BASE}/tubes", {"round": 10**9, "site": gz.site.pk, "barcode": "X1"}
        ).status_code
        == 404
    )
    assert (
        post(
            api, f"{BASE}/tubes", {"round": gz.round.pk, "site": 10**9, "barcode": "X1"}
        ).status_code
        == 404
    )


def test_get_tube_with_masked_members(
    gz: Gaozhuang, tube: Tube, api: Client, make_user: Any, client_for: Any
) -> None:
    for someone in gz.jiangtaitun[:3]:
        scan(actor=None, tube_barcode="TB0001", person_code=someone.id_number)
    response = api.get(f"{BASE}/tubes/tb0001")
    assert response.status_code == 200
    body = response.json()
    assert body["member_count"] == 3 and len(body["members"]) == 3
    assert [m["name"] for m in body["members"]] == [p.name for p in gz.jiangtaitun[:3]]
    text = response.content.decode()
    assert all(p.id_number not in text for p in gz.jiangtaitun[:3])
    assert body["members"][0]["id_number"].count("*") == 8
    case = AccessCase(
        url=f"{BASE}/tubes/TB0001",
        role=Role.INSPECTOR,
        region=JIANGTAITUN,
        other_region=FUDAO,
        wrong_role=Role.WAREHOUSE_KEEPER,
        api=True,
    )
    check_access_matrix(case, make_user, client_for)
    assert api.get(f"{BASE}/tubes/NOPE").status_code == 404
    assert api.get(f"{BASE}/tubes/%E7%AE%A1").status_code == 404


def test_get_tube_query_count_does_not_grow(gz: Gaozhuang, tube: Tube, api: Client) -> None:
    scan(actor=None, tube_barcode="TB0001", person_code=gz.jiangtaitun[0].id_number)
    api.get(f"{BASE}/tubes/TB0001")  # warm the token's last use
    with CaptureQueriesContext(connection) as small:
        api.get(f"{BASE}/tubes/TB0001")
    for someone in gz.jiangtaitun[1:9]:
        scan(actor=None, tube_barcode="TB0001", person_code=someone.id_number)
    with CaptureQueriesContext(connection) as big:
        response = api.get(f"{BASE}/tubes/TB0001")
    assert len(response.json()["members"]) == 9
    assert len(small.captured_queries) == len(big.captured_queries) == 4


def test_close_tube(
    gz: Gaozhuang, tube: Tube, api: Client, make_user: Any, client_for: Any
) -> None:
    empty = post(api, f"{BASE}/tubes/TB0001/close", {})
    assert empty.status_code == 422 and "tube" in empty.json()["fields"]
    scan(actor=None, tube_barcode="TB0001", person_code=gz.jiangtaitun[0].id_number)
    case = AccessCase(
        url=f"{BASE}/tubes/TB0001/close",
        method="post",
        content_type=JSON,
        role=Role.SAMPLER,
        region=JIANGTAITUN,
        other_region=FUDAO,
        wrong_role=Role.INSPECTOR,
        api=True,
    )
    results = check_access_matrix(case, make_user, client_for)
    assert results["wrong_role"].status_code == 403
    assert results["allowed"].json()["status"] == "closed"
    assert Tube.objects.get(pk=tube.pk).status == TubeStatus.CLOSED
    assert AuditEntry.objects.filter(action="screening.close_tube").count() == 1
    again = post(api, f"{BASE}/tubes/TB0001/close", {})
    assert again.status_code == 422
    # Scanning into it now says closed.
    out = post(api, f"{BASE}/scan", {"tube": "TB0001", "person": gz.jiangtaitun[1].id_number})
    assert out.json()["code"] == "tube_closed"


def test_set_tube_capacity(
    gz: Gaozhuang, tube: Tube, api: Client, make_user: Any, client_for: Any
) -> None:
    scan(actor=None, tube_barcode="TB0001", person_code=gz.jiangtaitun[0].id_number)
    case = AccessCase(
        url=f"{BASE}/tubes/TB0001/capacity",
        method="post",
        data={"capacity": 5},
        content_type=JSON,
        role=Role.SAMPLER,
        region=JIANGTAITUN,
        other_region=FUDAO,
        wrong_role=Role.INSPECTOR,
        api=True,
    )
    results = check_access_matrix(case, make_user, client_for)
    assert results["wrong_role"].status_code == 403
    body = results["allowed"].json()
    assert body["capacity"] == 5 and body["status"] == "open"
    assert AuditEntry.objects.filter(action="screening.set_tube_capacity").count() == 1
    url = f"{BASE}/tubes/TB0001/capacity"
    for bad in ({"capacity": "five"}, {"capacity": -1}, {"capacity": 101}, {}, "{not json"):
        response = post(api, url, bad)
        assert response.status_code in (400, 422), (bad, response.content)
    for refused in ({"capacity": 21}, {"capacity": 0}):
        response = post(api, url, refused)
        assert response.status_code == 422 and "capacity" in response.json()["fields"]
    assert post(api, f"{BASE}/tubes/NOPE/capacity", {"capacity": 5}).status_code == 404
    # Down to its one member: full, closed.
    closed = post(api, url, {"capacity": 1})
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert post(api, url, {"capacity": 5}).status_code == 422


def test_remove_sample(
    gz: Gaozhuang, tube: Tube, api: Client, make_user: Any, client_for: Any
) -> None:
    first = scan(actor=None, tube_barcode="TB0001", person_code=gz.jiangtaitun[0].id_number)
    scan(actor=None, tube_barcode="TB0001", person_code=gz.jiangtaitun[1].id_number)
    url = f"{BASE}/samples/{first.sample_id}/remove"
    blank = post(api, url, {"reason": "  "})
    assert blank.status_code == 422 and "reason" in blank.json()["fields"]
    assert post(api, url, {}).status_code == 422
    case = AccessCase(
        url=url,
        method="post",
        data={"reason": "扫错人"},
        content_type=JSON,
        role=Role.SAMPLER,
        region=JIANGTAITUN,
        other_region=FUDAO,
        wrong_role=Role.INSPECTOR,
        api=True,
    )
    results = check_access_matrix(case, make_user, client_for)
    body = results["allowed"].json()
    assert body["member_count"] == 1
    removed = [m for m in body["members"] if m["sample_id"] == first.sample_id]
    assert removed[0]["removed_at"] is not None
    entry = AuditEntry.objects.get(action="screening.remove_sample")
    assert entry.after["reason"] == "扫错人"
    assert post(api, url, {"reason": "again"}).status_code == 422  # already removed
    # The target is no longer sampled.
    from fangkong.screening.models import RoundTarget

    target = RoundTarget.objects.get(round=gz.round, person=gz.jiangtaitun[0])
    assert target.first_sampled_at is None
    # A closed tube keeps its members.
    Tube.objects.filter(pk=tube.pk).update(status=TubeStatus.CLOSED)
    other = Sample.objects.get(tube=tube, person=gz.jiangtaitun[1])
    closed = post(api, f"{BASE}/samples/{other.pk}/remove", {"reason": "x"})
    assert closed.status_code == 422
    for bad in (0, 2**63, -1):
        assert post(api, f"{BASE}/samples/{bad}/remove", {"reason": "x"}).status_code in (404, 422)


# --- walk-ins --------------------------------------------------------------------------


def test_walk_in_then_scan(gz: Gaozhuang, tube: Tube, api: Client) -> None:
    number = make_id("19910909", "919", "410523")
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in number)
    response = post(
        api,
        f"{BASE}/walk-ins",
        {
            "round": gz.round.pk,
            "site": gz.site.pk,
            "name": "趙 六",
            "id_type": "mainland",
            "id_number": full_width,
            "phone": "139 1234 5678",
            "address": "汤阴县伏道镇侯庄村东街1号",
            "region_code": "410523106202",
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "趙六" and body["id_number"] == number[:6] + "********" + number[-4:]
    assert body["phone"] == "139****5678" and number not in response.content.decode()
    person = Person.objects.get(pk=body["id"])
    assert person.id_number == number and person.region_code == "410523106202"
    entry = AuditEntry.objects.get(action="screening.register_walk_in")
    assert entry.object_id == str(person.pk) and entry.actor_name
    out = post(api, f"{BASE}/scan", {"tube": "TB0001", "person": body["qr_payload"]})
    assert out.json()["code"] == "added" and out.json()["out_of_area"] is True
    dup = post(
        api,
        f"{BASE}/walk-ins",
        {"round": gz.round.pk, "site": gz.site.pk, "name": "赵六", "id_number": number},
    )
    assert dup.status_code == 409 and dup.json()["code"] == "conflict"


def test_walk_in_defaults_to_the_site_village(gz: Gaozhuang, api: Client) -> None:
    response = post(
        api,
        f"{BASE}/walk-ins",
        {
            "round": gz.round.pk,
            "site": gz.site.pk,
            "name": "新生儿",
            "id_type": "none",
            "id_number": "",
        },
    )
    assert response.status_code == 201
    assert response.json()["region_code"] == JIANGTAITUN


def test_walk_in_access_matrix(gz: Gaozhuang, make_user: Any, client_for: Any) -> None:
    case = AccessCase(
        url=f"{BASE}/walk-ins",
        method="post",
        data={
            "round": gz.round.pk,
            "site": gz.site.pk,
            "name": "钱七",
            "id_number": make_id("19920202", "222"),
        },
        content_type=JSON,
        role=Role.SAMPLER,
        region=JIANGTAITUN,
        other_region=FUDAO,
        wrong_role=Role.INSPECTOR,
        api=True,
    )
    results = check_access_matrix(case, make_user, client_for)
    assert results["wrong_role"].status_code == 403
    assert results["allowed"].status_code == 201


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"id_number": "410522199001011230"}, "id_number"),  # check digit
        ({"id_number": "4105221990"}, "id_number"),
        ({"id_number": ""}, "id_number"),
        ({"id_type": "alien"}, "id_type"),
        ({"name": ""}, "name"),
        ({"name": "x\x00y"}, "name"),
        ({"phone": "123"}, "phone"),
        ({"region_code": "999999999999"}, "region_code"),
        ({"region_code": "41052"}, "region_code"),
        ({"region_code": "410522116"}, "region_code"),  # a township, not a village
    ],
)
def test_walk_in_bad_input(gz: Gaozhuang, api: Client, change: dict[str, Any], field: str) -> None:
    data = {
        "round": gz.round.pk,
        "site": gz.site.pk,
        "name": "钱七",
        "id_number": make_id("19920202", "222"),
        **change,
    }
    before = Person.objects.count()
    response = post(api, f"{BASE}/walk-ins", data)
    assert response.status_code == 422, response.content
    assert field in response.json()["fields"], response.json()
    assert Person.objects.count() == before
