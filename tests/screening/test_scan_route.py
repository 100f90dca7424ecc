"""The scan's lean route (screening.api.scan_route, D31) answers exactly as the endpoint
behind the token handler does, and hands everything but the everyday call on to it.

Each request goes through fangkong.wsgi.application (which routes a token-authenticated
``POST /api/v1/screening/scan`` to the lean route) and, on the same database state, through
the token handler alone (ninja's ``scan_person``); the two answers must match: status,
JSON body (the new sample's id aside, sequences do not roll back) and headers (the
generated request id aside).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from fangkong.accounts.roles import Role
from fangkong.screening import codes
from fangkong.screening.actions.sampling import open_tube
from fangkong.screening.api import scan_route
from fangkong.screening.api.sampling import MAX_TEXT
from fangkong.screening.models import Sample, Tube
from fangkong.wsgi import application
from tests.conftest import FUDAO, JIANGTAITUN
from tests.screening.conftest import Gaozhuang
from tests.screening.test_sampling_api import token_for
from tests.support.wsgi import Answer, wsgi_call

pytestmark = pytest.mark.django_db

SCAN = "/api/v1/screening/scan"


@pytest.fixture
def tube(gz: Gaozhuang) -> Tube:
    return open_tube(actor=None, round_=gz.round, site=gz.site, barcode="TB0001")


@pytest.fixture
def sampler_token(gz: Gaozhuang, make_user: Any) -> str:
    return token_for(make_user("sampler", role=Role.SAMPLER, region=JIANGTAITUN))


@pytest.fixture
def delegated(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The paths of the requests the lean route handed on to the token handler."""
    route = application.scan_route  # type: ignore[attr-defined]
    seen: list[str] = []
    fallback = route.fallback

    def spy(environ: dict[str, Any], start_response: Any) -> Any:
        seen.append(environ["PATH_INFO"])
        return fallback(environ, start_response)

    monkeypatch.setattr(route, "fallback", spy)
    yield seen


def _post(data: str, headers: dict[str, str]) -> Answer:
    """One scan call through the dispatcher (the lean route), not rolled back."""
    return wsgi_call(application, "POST", SCAN, data=data, headers=headers)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _both(
    data: bytes | str,
    headers: dict[str, str],
    *,
    content_type: str = "application/json",
    environ: dict[str, Any] | None = None,
) -> tuple[Answer, Answer]:
    """(through the dispatcher, through the token handler alone), each rolled back."""
    answers = []
    token_handler = application.token_handler  # type: ignore[attr-defined]
    for app in (application, token_handler):
        with transaction.atomic():
            answers.append(
                wsgi_call(
                    app,
                    "POST",
                    SCAN,
                    data=data,
                    content_type=content_type,
                    headers=headers,
                    environ=environ,
                )
            )
            transaction.set_rollback(True)
    return answers[0], answers[1]


def assert_same(lean: Answer, full: Answer) -> None:
    assert lean.status == full.status, (lean.content, full.content)
    lean_headers, full_headers = dict(lean.headers), dict(full.headers)
    assert "x-request-id" in lean_headers and "x-request-id" in full_headers
    lean_headers.pop("x-request-id"), full_headers.pop("x-request-id")
    # Each length is its own body's: the two calls' sample ids differ (the sequence is not
    # rolled back), and 99 → 100 makes one body a byte longer.
    assert ("content-length" in lean_headers) == ("content-length" in full_headers)
    for answer, answer_headers in ((lean, lean_headers), (full, full_headers)):
        if "content-length" in answer_headers:
            assert int(answer_headers.pop("content-length")) == len(answer.content)
    assert lean_headers == full_headers
    try:
        lean_body, full_body = lean.json(), full.json()
    except ValueError:
        assert lean.content == full.content
        return
    if isinstance(lean_body, dict) and "sample_id" in lean_body:
        assert (lean_body.pop("sample_id") is None) == (full_body.pop("sample_id") is None)
    assert lean_body == full_body


def _scan_body(tube: str, person: str, **more: str) -> str:
    return json.dumps({"tube": tube, "person": person, **more}, ensure_ascii=False)


# --- the everyday call: answered by the lean route, as the endpoint answers -----------


def test_added_by_id_number(
    gz: Gaozhuang, tube: Tube, sampler_token: str, delegated: list[str]
) -> None:
    someone = gz.jiangtaitun[1]
    lean, full = _both(_scan_body("TB0001", someone.id_number), _bearer(sampler_token))
    assert delegated == []
    assert lean.status == 200
    body = lean.json()
    assert body["code"] == "added" and body["ok"] is True
    assert body["person_name"] == someone.name
    assert someone.id_number not in lean.content.decode()
    assert lean.headers["content-type"] == "application/json"
    assert lean.headers["content-language"] == "zh-hans"
    assert int(lean.headers["content-length"]) == len(lean.content)
    assert_same(lean, full)


def test_the_lean_route_writes_the_sample(
    gz: Gaozhuang, tube: Tube, sampler_token: str, delegated: list[str]
) -> None:
    someone = gz.jiangtaitun[2]
    answer = _post(
        _scan_body("TB0001", someone.id_number),
        _bearer(sampler_token),
    )
    assert delegated == []
    sample = Sample.objects.get(pk=answer.json()["sample_id"])
    assert sample.person_id == someone.pk and sample.tube_id == tube.pk
    tube.refresh_from_db()
    assert tube.member_count == 1


@pytest.mark.parametrize(
    "case",
    [
        "qr_code",
        "last_six_and_name",
        "scanner_prefix",
        "invalid_id",
        "unknown_person",
        "tube_unknown",
        "tube_in_another_region",
        "outsider",
        "english",
        "x_api_token_header",
        "request_id",
        "full_width_digits",
    ],
)
def test_outcomes_match_the_endpoint(
    case: str, gz: Gaozhuang, tube: Tube, sampler_token: str, delegated: list[str]
) -> None:
    someone = gz.jiangtaitun[3]
    headers = _bearer(sampler_token)
    body = _scan_body("TB0001", someone.id_number)
    if case == "qr_code":
        body = _scan_body("TB0001", codes.make_person_qr(someone.pk))
    elif case == "last_six_and_name":
        body = _scan_body("TB0001", someone.id_number[-6:], name=someone.name)
    elif case == "scanner_prefix":
        body = _scan_body("]C1TB0001\r", someone.id_number)
    elif case == "invalid_id":
        body = _scan_body("TB0001", someone.id_number[:-1] + "0")
    elif case == "unknown_person":
        body = _scan_body("TB0001", "11010519491231002X")
    elif case == "tube_unknown":
        body = _scan_body("NOPE0001", someone.id_number)
    elif case == "tube_in_another_region":
        open_tube(actor=None, round_=gz.round, site=gz.other_site, barcode="TB0099")
        body = _scan_body("TB0099", someone.id_number)
    elif case == "outsider":
        body = _scan_body("TB0001", gz.outsider.id_number)
    elif case == "english":
        headers["Accept-Language"] = "en"
    elif case == "x_api_token_header":
        headers = {"X-API-Token": sampler_token}
    elif case == "request_id":
        headers["X-Request-ID"] = "scanner-0042-abcdef"
    elif case == "full_width_digits":
        body = _scan_body("ＴＢ０００１", someone.id_number)
    lean, full = _both(body, headers)
    assert delegated == []
    assert_same(lean, full)
    if case == "english":
        assert lean.headers["content-language"] == "en"
        assert lean.json()["message"].isascii()
    if case == "request_id":
        assert lean.headers["x-request-id"] == "scanner-0042-abcdef"
    if case in ("tube_unknown", "tube_in_another_region"):
        assert lean.status == 404 and lean.json()["code"] == "tube_unknown"


def test_already_sampled_then_with_a_reason(
    gz: Gaozhuang, tube: Tube, sampler_token: str, delegated: list[str]
) -> None:
    someone = gz.jiangtaitun[4]
    other = open_tube(actor=None, round_=gz.round, site=gz.site, barcode="TB0002")
    _post(
        _scan_body("TB0001", someone.id_number),
        _bearer(sampler_token),
    )
    from fangkong.screening.actions.sampling import close_tube

    close_tube(actor=None, tube=Tube.objects.get(pk=tube.pk))
    lean, full = _both(_scan_body(other.barcode, someone.id_number), _bearer(sampler_token))
    assert lean.json()["code"] == "already_sampled" and lean.json()["needs_reason"] is True
    assert_same(lean, full)
    lean, full = _both(
        _scan_body(other.barcode, someone.id_number, reason="复检"), _bearer(sampler_token)
    )
    assert lean.json()["code"] == "added"
    assert_same(lean, full)
    assert delegated == []


def test_a_role_that_may_not_sample(gz: Gaozhuang, tube: Tube, make_user: Any) -> None:
    keeper = make_user("keeper", role=Role.WAREHOUSE_KEEPER, region=JIANGTAITUN)
    lean, full = _both(
        _scan_body("TB0001", gz.jiangtaitun[0].id_number), _bearer(token_for(keeper))
    )
    assert lean.status == 403 and lean.json()["code"] == "not_allowed"
    assert_same(lean, full)


def test_a_sampler_elsewhere_gets_404(gz: Gaozhuang, tube: Tube, make_user: Any) -> None:
    elsewhere = make_user("sampler_fudao", role=Role.SAMPLER, region=FUDAO)
    lean, full = _both(
        _scan_body("TB0001", gz.jiangtaitun[0].id_number), _bearer(token_for(elsewhere))
    )
    assert lean.status == 404 and lean.json()["code"] == "tube_unknown"
    assert_same(lean, full)
    assert not Sample.objects.exists()


# --- everything else: handed on, answered by the endpoint ------------------------------


@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        ("{not json", "application/json", 400),
        ('["TB0001", "x"]', "application/json", 422),
        ('{"tube": "TB0001"}', "application/json", 422),
        ('{"tube": "TB0001", "person": 410522195001010011}', "application/json", 422),
        ('{"tube": null, "person": "x"}', "application/json", 422),
        (_scan_body("TB0001", "4" * (MAX_TEXT + 1)), "application/json", 422),
        (_scan_body("TB0001", "x", extra="y"), "application/json", 200),
        ("", "application/json", 422),
        (_scan_body("TB0001", "x"), "text/plain", 200),
        (_scan_body("TB0001", "x").encode("utf-16"), "application/json", 200),
        ("tube=TB0001&person=x", "application/x-www-form-urlencoded", 400),
    ],
)
def test_unusual_bodies_are_handed_on(
    gz: Gaozhuang,
    tube: Tube,
    sampler_token: str,
    delegated: list[str],
    data: str | bytes,
    content_type: str,
    status: int,
) -> None:
    lean, full = _both(data, _bearer(sampler_token), content_type=content_type)
    assert delegated == [SCAN]
    assert lean.status == status, lean.content
    assert_same(lean, full)


def test_an_oversized_body_is_handed_on(
    gz: Gaozhuang, tube: Tube, sampler_token: str, delegated: list[str]
) -> None:
    padding = " " * (scan_route.MAX_BODY + 1)
    lean, full = _both("{" + padding + '"tube": "TB0001", "person": "x"}', _bearer(sampler_token))
    assert delegated == [SCAN]
    assert_same(lean, full)


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer fk_nope1234_wrongsecret"},
        {"X-API-Token": "fk_nope1234_wrongsecret"},
    ],
)
def test_a_wrong_token_gets_the_endpoints_401(
    gz: Gaozhuang, tube: Tube, delegated: list[str], headers: dict[str, str]
) -> None:
    lean, full = _both(_scan_body("TB0001", gz.jiangtaitun[0].id_number), headers)
    assert delegated == [SCAN]
    assert lean.status == 401
    assert_same(lean, full)
    assert not Sample.objects.exists()


def test_a_wrong_bearer_with_a_good_header_token(
    gz: Gaozhuang, tube: Tube, sampler_token: str, delegated: list[str]
) -> None:
    # ninja tries the Bearer token, then X-API-Token: the route does the same.
    headers = {"Authorization": "Bearer fk_nope1234_wrongsecret", "X-API-Token": sampler_token}
    lean, full = _both(_scan_body("TB0001", gz.jiangtaitun[5].id_number), headers)
    assert delegated == []
    assert lean.status == 200 and lean.json()["code"] == "added"
    assert_same(lean, full)


def test_a_deactivated_user_gets_401(
    gz: Gaozhuang, tube: Tube, make_user: Any, delegated: list[str]
) -> None:
    user = make_user("sampler_gone", role=Role.SAMPLER, region=JIANGTAITUN)
    token = token_for(user)
    user.is_active = False
    user.save()
    lean, full = _both(_scan_body("TB0001", gz.jiangtaitun[0].id_number), _bearer(token))
    assert lean.status == 401
    assert_same(lean, full)


def test_a_host_not_allowed_gets_400(
    gz: Gaozhuang, tube: Tube, sampler_token: str, delegated: list[str]
) -> None:
    lean, full = _both(
        _scan_body("TB0001", gz.jiangtaitun[0].id_number),
        _bearer(sampler_token),
        environ={"HTTP_HOST": "evil.example.com"},
    )
    assert delegated == [SCAN]
    assert lean.status == 400
    assert lean.status == full.status
    assert not Sample.objects.exists()


def test_other_methods_and_paths_never_reach_the_route(sampler_token: str) -> None:
    assert scan_route.is_scan_call({"PATH_INFO": SCAN, "REQUEST_METHOD": "POST"})
    assert not scan_route.is_scan_call({"PATH_INFO": SCAN, "REQUEST_METHOD": "GET"})
    assert not scan_route.is_scan_call({"PATH_INFO": SCAN + "/", "REQUEST_METHOD": "POST"})
    answer = wsgi_call(application, "GET", SCAN, headers=_bearer(sampler_token))
    assert answer.status == 405


def test_an_error_inside_the_scan_is_a_logged_500(
    gz: Gaozhuang,
    tube: Tube,
    sampler_token: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(**_kwargs: Any) -> Any:
        raise RuntimeError("database gone")

    monkeypatch.setattr(scan_route, "scan", broken)
    monkeypatch.setattr(scan_route, "scan_with_token", broken)
    with caplog.at_level("ERROR", logger="django.request"):
        answer = _post(
            _scan_body("TB0001", gz.jiangtaitun[0].id_number),
            _bearer(sampler_token),
        )
    assert answer.status == 500
    assert b"database gone" not in answer.content
    assert any("database gone" in str(record.exc_info) for record in caplog.records)


def test_the_route_runs_one_statement_on_postgresql(
    gz: Gaozhuang, tube: Tube, sampler_token: str, delegated: list[str]
) -> None:
    headers = _bearer(sampler_token)
    # The first call prepares the statements on PostgreSQL.
    _post(_scan_body("TB0001", "x"), headers)
    with CaptureQueriesContext(connection) as queries:
        answer = _post(_scan_body("TB0001", gz.jiangtaitun[6].id_number), headers)
    assert answer.json()["code"] == "added"
    assert delegated == []
    sqls = [q["sql"] for q in queries.captured_queries]
    if connection.vendor == "postgresql":
        # The token checked inside the scan's statement: one round trip for the call.
        assert len(queries) == 1, sqls
    else:
        assert any("accounts_apitoken" in sql for sql in sqls)


# --- the token, checked inside the scan's statement on PostgreSQL ----------------------


def test_a_revoked_token_writes_nothing(
    gz: Gaozhuang, tube: Tube, make_user: Any, delegated: list[str]
) -> None:
    from fangkong.accounts.actions import revoke_token
    from fangkong.accounts.models import ApiToken

    user = make_user("sampler_revoked", role=Role.SAMPLER, region=JIANGTAITUN)
    token = token_for(user)
    revoke_token(actor=None, token=ApiToken.objects.get(user=user))
    lean, full = _both(_scan_body("TB0001", gz.jiangtaitun[7].id_number), _bearer(token))
    assert lean.status == 401
    assert_same(lean, full)
    assert delegated == [SCAN]
    assert not Sample.objects.exists()


def test_the_right_prefix_with_a_wrong_secret_writes_nothing(
    gz: Gaozhuang, tube: Tube, sampler_token: str, delegated: list[str]
) -> None:
    forged = sampler_token[: sampler_token.rindex("_") + 1] + "x" * 43
    answer = _post(
        _scan_body("TB0001", gz.jiangtaitun[7].id_number),
        _bearer(forged),
    )
    assert answer.status == 401
    assert delegated == [SCAN]
    assert not Sample.objects.exists()
    tube.refresh_from_db()
    assert tube.member_count == 0


def test_a_superusers_token_samples_anywhere(
    gz: Gaozhuang, tube: Tube, delegated: list[str]
) -> None:
    from fangkong.accounts.models import User

    root = User.objects.create_superuser(username="root_scan", password="x" * 20)
    open_tube(actor=None, round_=gz.round, site=gz.other_site, barcode="TB0100")
    lean, full = _both(_scan_body("TB0100", gz.dongzhengsi[0].id_number), _bearer(token_for(root)))
    assert delegated == []
    assert lean.status == 200 and lean.json()["code"] in ("added", "tube_full_closed")
    assert_same(lean, full)


def test_the_tokens_use_is_recorded_once_a_minute(
    gz: Gaozhuang, tube: Tube, make_user: Any, delegated: list[str]
) -> None:
    import datetime as dt

    from django.utils import timezone

    from fangkong.accounts.models import ApiToken

    user = make_user("sampler_used", role=Role.SAMPLER, region=JIANGTAITUN)
    token = token_for(user)
    stored = ApiToken.objects.get(user=user)
    assert stored.last_used_at is None

    def scan_one(index: int) -> Answer:
        return _post(
            _scan_body("TB0001", gz.jiangtaitun[index].id_number),
            _bearer(token),
        )

    assert scan_one(1).json()["code"] == "added"
    first = ApiToken.objects.get(pk=stored.pk).last_used_at
    assert first is not None
    assert scan_one(2).json()["code"] == "added"
    assert ApiToken.objects.get(pk=stored.pk).last_used_at == first
    earlier = timezone.now() - dt.timedelta(minutes=2)
    ApiToken.objects.filter(pk=stored.pk).update(last_used_at=earlier)
    assert scan_one(3).json()["code"] == "added"
    assert ApiToken.objects.get(pk=stored.pk).last_used_at > earlier
    assert delegated == []
    assert Sample.objects.get(person=gz.jiangtaitun[3]).scanned_by_id == user.pk


def test_the_route_imitates_the_token_middleware_list() -> None:
    # The route answers as this list would; when the list changes, update the route (and
    # this test) together, or every scan silently takes the long way.
    from django.conf import settings

    assert list(settings.API_TOKEN_MIDDLEWARE) == scan_route.IMITATED_MIDDLEWARE
    assert scan_route._plain_stack()
