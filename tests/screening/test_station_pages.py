"""The sampling station (采样点扫码页): access, the scan round trip, every bad input."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from fangkong.accounts.roles import Role
from fangkong.core.models import AuditEntry
from fangkong.people.models import Person
from fangkong.screening.actions.rounds import ZoneInput, create_round
from fangkong.screening.models import Round, RoundStatus, Sample, Tube, TubeStatus
from fangkong.screening.views.sampling import split_person_code
from tests.conftest import DONGZHENGSI, GAOZHUANG, JIANGTAITUN
from tests.people.conftest import make_id
from tests.screening.conftest import Gaozhuang
from tests.screening.station_support import sampled_tube, station_url
from tests.support.access import AccessCase, body_text, check_access_matrix

pytestmark = pytest.mark.django_db

SCAN = "/screening/station/scan/"
CLOSE = "/screening/station/close/"
REMOVE = "/screening/station/remove/"
CAPACITY = "/screening/station/capacity/"
WALK_IN = "/screening/station/walk-in/"
XHR = {"X-Station": "1"}


def result_of(response: Any) -> tuple[str, str]:
    """(level, code) of the result panel."""
    html = body_text(response)
    match = re.search(r'data-testid="station-result" data-level="(\w+)" data-code="(\w+)"', html)
    assert match, html[:2000]
    return match.group(1), match.group(2)


def state_of(response: Any) -> dict[str, str]:
    html = body_text(response)
    match = re.search(
        r'id="station-state" hidden data-set-tube="([^"]*)" data-mode="(\w*)" '
        r'data-pending="([^"]*)"',
        html,
    )
    assert match, html[:2000]
    return {"tube": match.group(1), "mode": match.group(2), "pending": match.group(3)}


class Station:
    """A logged-in client at gz's 蒋台屯 site."""

    def __init__(self, client: Any, gz: Gaozhuang) -> None:
        self.client = client
        self.gz = gz
        self.tube = ""

    def post(self, url: str, **data: Any) -> Any:
        payload = {"round": self.gz.round.pk, "site": self.gz.site.pk, "tube": self.tube, **data}
        response = self.client.post(url, payload, headers=XHR)
        if response.get("X-Station-Part") == "live":
            self.tube = state_of(response)["tube"]
        return response

    def scan(self, code: str, **data: Any) -> Any:
        return self.post(SCAN, code=code, **data)


@pytest.fixture
def sampler(make_user: Any) -> Any:
    return make_user("sampler", role=Role.SAMPLER, region=JIANGTAITUN)


@pytest.fixture
def station(gz: Gaozhuang, sampler: Any, client_for: Any) -> Station:
    return Station(client_for(sampler), gz)


# ----------------------------------------------------------------------------- access


def test_station_page_access_matrix(gz: Gaozhuang, make_user: Any, client_for: Any) -> None:
    case = AccessCase(
        url=station_url(gz.round, gz.site),
        role=Role.SAMPLER,
        region=JIANGTAITUN,
        other_region=DONGZHENGSI,
        wrong_role=Role.INSPECTOR,
    )
    results = check_access_matrix(case, make_user, client_for, wrong_role_statuses=(403,))
    assert 'data-testid="station-input"' in body_text(results["allowed"])
    cadre = make_user(role=Role.VILLAGE_CADRE, region=JIANGTAITUN)
    assert client_for(cadre).get(case.url).status_code == 200
    other_cadre = make_user(role=Role.VILLAGE_CADRE, region=DONGZHENGSI)
    assert client_for(other_cadre).get(case.url).status_code == 404


@pytest.mark.parametrize(
    ("url", "data"),
    [
        (SCAN, {"code": "T0001"}),
        (CLOSE, {"tube": "T0001"}),
        (REMOVE, {"tube": "T0001", "sample": "1", "reason": "x"}),
        (WALK_IN, {"name": "新来"}),
    ],
)
def test_station_writes_access_matrix(
    gz: Gaozhuang, make_user: Any, client_for: Any, url: str, data: dict[str, str]
) -> None:
    case = AccessCase(
        url=url,
        role=Role.SAMPLER,
        region=JIANGTAITUN,
        other_region=DONGZHENGSI,
        wrong_role=Role.INSPECTOR,
        method="post",
        data={"round": gz.round.pk, "site": gz.site.pk, **data},
        allowed_status=(200, 422),
    )
    check_access_matrix(case, make_user, client_for, wrong_role_statuses=(403,))


def test_get_on_a_write_route_is_refused(station: Station) -> None:
    assert station.client.get(SCAN).status_code == 405


def test_picker_lists_rounds_and_only_the_sites_in_scope(
    gz: Gaozhuang, sampler: Any, client_for: Any, make_user: Any
) -> None:
    client = client_for(sampler)
    response = client.get("/screening/station/")
    html = body_text(response)
    assert response.status_code == 200
    assert gz.round.name in html  # the only round is preselected
    assert gz.site.name in html
    assert gz.other_site.name not in html
    officer = make_user(role=Role.TOWNSHIP_OFFICER, region=GAOZHUANG)
    html = body_text(client_for(officer).get("/screening/station/", {"round": gz.round.pk}))
    assert gz.site.name in html and gz.other_site.name in html


def test_picker_without_rounds(make_user: Any, client_for: Any, regions: Any) -> None:
    user = make_user(role=Role.SAMPLER, region=JIANGTAITUN)
    response = client_for(user).get("/screening/station/")
    assert 'data-testid="no-rounds"' in body_text(response)


@pytest.mark.parametrize(
    "params",
    [
        {"round": "abc", "site": "1"},
        {"round": "1", "site": "９９"},
        {"round": str(2**70), "site": "1"},
        {"round": "-1", "site": "1"},
        {"round": "1\x00", "site": "1"},
    ],
)
def test_bad_station_parameters_are_404(station: Station, params: dict[str, str]) -> None:
    assert station.client.get("/screening/station/", params).status_code == 404
    response = station.client.post(SCAN, {**params, "code": "T1"}, headers=XHR)
    assert response.status_code == 404


def test_round_not_sampling_and_site_outside_the_round_are_404(
    station: Station, gz: Gaozhuang, regions: Any
) -> None:
    Round.objects.filter(pk=gz.round.pk).update(status=RoundStatus.AWAITING_RESULTS)
    assert station.client.get(station_url(gz.round, gz.site)).status_code == 404
    Round.objects.filter(pk=gz.round.pk).update(status=RoundStatus.SAMPLING)
    import datetime as dt

    from django.utils import timezone

    other = create_round(
        actor=None,
        name="东正寺单独一轮",
        starts_at=timezone.now(),
        ends_at=timezone.now() + dt.timedelta(hours=3),
        zones=[ZoneInput(DONGZHENGSI, 1)],
    )
    Round.objects.filter(pk=other.pk).update(status=RoundStatus.SAMPLING)
    assert station.client.get(station_url(other, gz.site)).status_code == 404


# ----------------------------------------------------------------------------- the scan


def test_open_a_tube_and_scan_two_people(station: Station, gz: Gaozhuang) -> None:
    response = station.scan("GZ0000001")
    assert response.status_code == 200
    assert result_of(response) == ("ok", "tube_opened")
    assert state_of(response) == {"tube": "GZ0000001", "mode": "person", "pending": ""}
    first, second = gz.jiangtaitun[2], gz.jiangtaitun[3]
    response = station.scan(first.id_number)
    assert result_of(response) == ("ok", "added")
    html = body_text(response)
    assert first.name in html
    assert "1/10" in html
    response = station.scan(second.id_number.lower())
    html = body_text(response)
    assert result_of(response) == ("ok", "added")
    assert 'data-testid="result-counter">2/10<' in html
    assert 'data-testid="tube-counter">2/10<' in html
    assert html.count('data-testid="tube-member"') == 2
    # Masked: the first 6 and last 4 only, on the panel and in the list.
    for person in (first, second):
        assert person.id_number not in html
        assert person.id_number[:6] + "********" + person.id_number[-4:] in html
    tube = Tube.objects.get(barcode="GZ0000001")
    assert tube.member_count == 2 and tube.capacity == 10 and tube.opened_by is not None


def test_invalid_id_is_a_red_error(station: Station, gz: Gaozhuang) -> None:
    station.scan("GZ0000002")
    bad = gz.jiangtaitun[2].id_number[:-1] + (
        "0" if gz.jiangtaitun[2].id_number[-1] != "0" else "1"
    )
    response = station.scan(bad)
    assert result_of(response) == ("error", "invalid_id")
    assert state_of(response)["tube"] == "GZ0000002"  # the tube stays open
    assert Tube.objects.get(barcode="GZ0000002").member_count == 0


def test_barcode_with_scanner_prefix_and_stray_characters(station: Station) -> None:
    response = station.scan("]C1\x02ｇｚ-0000003\r\t")
    assert result_of(response) == ("ok", "tube_opened")
    assert Tube.objects.filter(barcode="GZ-0000003").exists()


@pytest.mark.parametrize(
    "code",
    ["GZ 000*0004!", "条码0004", "A" * 40, "\x00\x01"],
)
def test_bad_tube_barcodes_open_nothing(station: Station, code: str) -> None:
    response = station.scan(code)
    assert response.status_code == 200
    level, _code = result_of(response)
    assert level == "error"
    assert state_of(response)["tube"] == ""
    assert not Tube.objects.exists()


@pytest.mark.parametrize("code", ["", "   ", "\r\n", "9" * 201])
def test_empty_and_oversized_input(station: Station, code: str) -> None:
    response = station.scan(code)
    assert response.status_code == 200
    assert result_of(response)[0] == "error"
    assert not Tube.objects.exists()


def test_typed_tube_barcode_must_be_typed_twice(station: Station) -> None:
    response = station.scan("GZ0000005", typed="1")
    assert result_of(response) == ("warning", "confirm_barcode")
    assert state_of(response) == {"tube": "", "mode": "confirm", "pending": "GZ0000005"}
    assert not Tube.objects.exists()
    # A typo in the second typing: nothing opens.
    response = station.scan("GZ0000005", typed="1", confirm="GZ0000006")
    assert result_of(response)[0] == "error"
    assert state_of(response)["mode"] == "tube"
    assert not Tube.objects.exists()
    # Full-width digits typed on a phone still match.
    response = station.scan("GZ0000005", typed="1", confirm="ＧＺ０００００05")
    assert result_of(response) == ("ok", "tube_opened")
    assert Tube.objects.filter(barcode="GZ0000005").exists()


def test_a_used_barcode_is_refused_and_an_open_one_is_joined(
    station: Station, gz: Gaozhuang, make_user: Any, client_for: Any
) -> None:
    sampled_tube(gz.round, gz.site, "GZ0000007", gz.jiangtaitun[:2])
    response = station.scan("GZ0000007")
    assert result_of(response)[0] == "error"  # closed: never reopened
    station.scan("GZ0000008")
    station.scan(gz.jiangtaitun[2].id_number)
    # A second sampler at the same site scans the same tube: they continue it together.
    other = Station(client_for(make_user(role=Role.SAMPLER, region=JIANGTAITUN)), gz)
    response = other.scan("gz0000008")
    assert result_of(response) == ("warning", "tube_joined")
    assert other.tube == "GZ0000008"
    other.scan(gz.jiangtaitun[3].id_number)
    response = station.scan(gz.jiangtaitun[4].id_number)
    assert 'data-testid="tube-counter">3/10<' in body_text(response)
    assert Tube.objects.get(barcode="GZ0000008").member_count == 3


def test_two_samplers_cannot_overfill_a_tube(
    station: Station, gz: Gaozhuang, make_user: Any, client_for: Any
) -> None:
    station.scan("GZ0000009", capacity="1")
    other = Station(client_for(make_user(role=Role.SAMPLER, region=JIANGTAITUN)), gz)
    other.tube = station.tube  # joined before either scanned
    first = station.scan(gz.jiangtaitun[2].id_number)
    assert result_of(first) == ("ok", "tube_full_closed")
    assert state_of(first)["tube"] == ""  # the next scan opens a new tube
    second = other.scan(gz.jiangtaitun[3].id_number)
    assert result_of(second)[0] == "error"
    assert result_of(second)[1] in {"tube_closed", "tube_full"}
    assert Tube.objects.get(barcode="GZ0000009").member_count == 1


def test_pool_size_can_be_changed_before_the_tube_opens(station: Station, gz: Gaozhuang) -> None:
    response = station.scan("GZ0000010", capacity="5")
    assert "0/5" in body_text(response)
    for junk in ("abc", "７", "0", "-1", "99999999999999999999"):
        station.tube = ""
        response = station.scan(f"GZ00001{len(junk):02d}{ord(junk[0]) % 10}", capacity=junk)
        assert result_of(response) == ("ok", "tube_opened")
    # Junk capacities fall back to the zone's pool size.
    assert set(Tube.objects.exclude(barcode="GZ0000010").values_list("capacity", flat=True)) == {10}


def test_last_six_digits_and_name(station: Station, gz: Gaozhuang) -> None:
    station.scan("GZ0000011")
    person = gz.jiangtaitun[5]
    response = station.scan(f"{person.id_number[-6:]} {person.name}")
    assert result_of(response) == ("ok", "added")
    other = gz.jiangtaitun[6]
    response = station.scan(f"{other.name}{other.id_number[-6:].lower()}")
    assert result_of(response) == ("ok", "added")
    response = station.scan(gz.jiangtaitun[7].id_number[-6:])
    assert result_of(response)[0] == "error"  # the name is needed with the last 6


def test_split_person_code() -> None:
    assert split_person_code("123456 张伟") == ("123456", "张伟")
    assert split_person_code("张伟12345x") == ("12345X", "张伟")
    assert split_person_code("１２３４５６张伟") == ("123456", "张伟")
    assert split_person_code("410522199001011234") == ("410522199001011234", "")


def test_already_sampled_asks_for_a_reason(station: Station, gz: Gaozhuang) -> None:
    person = gz.jiangtaitun[2]
    sampled_tube(gz.round, gz.site, "GZ0000012", [person])
    station.scan("GZ0000013")
    response = station.scan(person.id_number)
    assert result_of(response) == ("warning", "already_sampled")
    html = body_text(response)
    assert 'data-testid="reason-picker"' in html
    assert f'data-code="{person.id_number}"' in html
    response = station.scan(person.id_number, reason="复检 (Re-test)")
    assert result_of(response) == ("ok", "added")
    assert Sample.objects.filter(tube__barcode="GZ0000013", person=person).get().repeat_reason


def test_out_of_area_person_is_flagged(station: Station, gz: Gaozhuang) -> None:
    station.scan("GZ0000014")
    response = station.scan(gz.outsider.id_number)
    assert result_of(response) == ("warning", "added")
    assert 'data-testid="out-of-area"' in body_text(response)


def test_close_a_tube_by_hand_then_the_next_scan_opens_a_new_one(
    station: Station, gz: Gaozhuang
) -> None:
    station.scan("GZ0000015")
    response = station.post(CLOSE)
    assert result_of(response) == ("error", "invalid")  # an empty tube cannot close
    station.scan(gz.jiangtaitun[2].id_number)
    response = station.post(CLOSE)
    assert result_of(response) == ("ok", "tube_closed")
    assert state_of(response) == {"tube": "", "mode": "tube", "pending": ""}
    assert Tube.objects.get(barcode="GZ0000015").status == TubeStatus.CLOSED
    assert AuditEntry.objects.filter(action="screening.close_tube").count() == 1
    response = station.scan("GZ0000016")
    assert result_of(response) == ("ok", "tube_opened")
    station.tube = "GZ0000015"
    response = station.post(CLOSE)
    assert result_of(response)[0] == "error"
    station.tube = "NOPE"
    assert result_of(station.post(CLOSE)) == ("error", "tube_unknown")


def test_change_the_pool_size_of_the_open_tube(station: Station, gz: Gaozhuang) -> None:
    station.scan("GZ0000031")
    station.scan(gz.jiangtaitun[2].id_number)
    html = body_text(station.scan(gz.jiangtaitun[3].id_number))
    assert 'data-testid="change-capacity"' in html
    response = station.post(CAPACITY, capacity="5")
    assert result_of(response) == ("info", "capacity_changed")
    assert 'data-testid="tube-counter">2/5<' in body_text(response)
    assert Tube.objects.get(barcode="GZ0000031").capacity == 5
    for junk in ("", "abc", "7", "0", "-1", "１"):
        response = station.post(CAPACITY, capacity=junk)
        assert result_of(response)[0] == "error", junk
    assert Tube.objects.get(barcode="GZ0000031").capacity == 5
    station.tube = "NOPE"
    assert result_of(station.post(CAPACITY, capacity="5")) == ("error", "tube_unknown")


def test_remove_a_mis_scanned_member(station: Station, gz: Gaozhuang) -> None:
    station.scan("GZ0000017")
    station.scan(gz.jiangtaitun[2].id_number)
    station.scan(gz.jiangtaitun[3].id_number)
    sample = Sample.objects.get(person=gz.jiangtaitun[3])
    response = station.post(REMOVE, sample=str(sample.pk), reason="")
    assert result_of(response)[0] == "error"  # a reason is required
    response = station.post(REMOVE, sample=str(sample.pk), reason="Scanned by mistake")
    assert result_of(response) == ("info", "removed")
    html = body_text(response)
    assert 'data-testid="tube-counter">1/10<' in html
    assert html.count('data-testid="tube-member"') == 1
    for junk in ("abc", str(sample.pk), str(2**70), ""):
        response = station.post(REMOVE, sample=junk, reason="x")
        assert result_of(response) == ("error", "not_found")


def test_remove_from_another_site_tube_is_refused(
    station: Station, gz: Gaozhuang, make_user: Any, client_for: Any
) -> None:
    tube = sampled_tube(gz.round, gz.other_site, "GZ0000018", gz.dongzhengsi[:1], close=False)
    sample = Sample.objects.get(tube=tube)
    station.tube = tube.barcode
    response = station.post(REMOVE, sample=str(sample.pk), reason="x")
    assert result_of(response) == ("error", "not_found")
    assert Sample.objects.get(pk=sample.pk).removed_at is None


def test_reload_resumes_the_open_tube(station: Station, gz: Gaozhuang) -> None:
    station.scan("GZ0000019")
    station.scan(gz.jiangtaitun[2].id_number)
    response = station.client.get(station_url(gz.round, gz.site))
    html = body_text(response)
    assert 'name="tube" value="GZ0000019"' in html
    assert gz.jiangtaitun[2].name in html
    response = station.client.get(station_url(gz.round, gz.site, tube="NOPE\x00"))
    assert 'name="tube" value=""' in body_text(response)


def test_plain_form_post_without_javascript_renders_the_page(
    station: Station, gz: Gaozhuang
) -> None:
    response = station.client.post(
        SCAN, {"round": gz.round.pk, "site": gz.site.pk, "tube": "", "code": "GZ0000020"}
    )
    html = body_text(response)
    assert response.status_code == 200
    assert 'data-testid="station-input"' in html and 'data-code="tube_opened"' in html


# ----------------------------------------------------------------------------- walk-in


def test_unknown_person_is_registered_as_a_walk_in_and_scanned(
    station: Station, gz: Gaozhuang
) -> None:
    station.scan("GZ0000021")
    new_id = make_id("19990909", "777", "410522")
    response = station.scan(new_id)
    assert result_of(response) == ("error", "unknown_person")
    assert f'data-id-number="{new_id}"' in body_text(response)
    response = station.post(
        WALK_IN,
        name=" 新来的 ",
        id_type="mainland",
        id_number=new_id,
        phone="１３９００００１１１１",
        village=JIANGTAITUN,
    )
    assert response.status_code == 200
    assert result_of(response) == ("ok", "added")
    person = Person.objects.get(id_number=new_id)
    assert person.name == "新来的" and person.region_code == JIANGTAITUN
    assert person.phone == "13900001111"
    assert Sample.objects.filter(person=person, tube__barcode="GZ0000021").exists()
    assert AuditEntry.objects.filter(action="screening.register_walk_in").count() == 1


def test_walk_in_without_an_open_tube_is_only_registered(station: Station) -> None:
    response = station.post(WALK_IN, name="无管者", id_type="none", id_number="", village="")
    assert result_of(response) == ("ok", "registered")
    assert Person.objects.get(name="无管者").region_code == JIANGTAITUN


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "", "id_type": "mainland", "id_number": ""}, "name"),
        ({"name": "张三", "id_type": "mainland", "id_number": "410522199001011230"}, "id_number"),
        ({"name": "张三", "id_type": "mainland", "id_number": "４１０５２２"}, "id_number"),
        ({"name": "张三", "id_type": "spaceship", "id_number": ""}, "id_type"),
        ({"name": "张\x00三", "id_type": "none", "id_number": ""}, "name"),
        ({"name": "张" * 65, "id_type": "none", "id_number": ""}, "name"),
        ({"name": "张三", "id_type": "none", "phone": "12345"}, "phone"),
        ({"name": "张三", "id_type": "none", "village": "410523106201"}, "village"),
    ],
)
def test_walk_in_bad_input(
    station: Station, gz: Gaozhuang, data: dict[str, str], field: str
) -> None:
    station.scan("GZ0000022")
    before = Person.objects.count()
    response = station.post(WALK_IN, **data)
    assert response.status_code == 422
    assert response["X-Station-Part"] == "walkin"
    html = body_text(response)
    assert re.search(rf'name="{field}"[^>]*class="[^"]*is-invalid', html), html
    assert Person.objects.count() == before


def test_walk_in_of_a_registered_person_says_so(station: Station, gz: Gaozhuang) -> None:
    person = gz.jiangtaitun[2]
    response = station.post(
        WALK_IN, name=person.name, id_type="mainland", id_number=person.id_number
    )
    assert response.status_code == 422
    assert re.search(r'name="id_number"[^>]*is-invalid', body_text(response))


# ----------------------------------------------------------------------------- speed


def test_a_scan_round_trip_is_small_and_fast(station: Station, gz: Gaozhuang) -> None:
    station.scan("GZ0000023", capacity="20")
    people = [*gz.jiangtaitun[2:], *gz.dongzhengsi]
    with CaptureQueriesContext(connection) as first:
        station.scan(people[0].id_number)
    with CaptureQueriesContext(connection) as second:
        station.scan(people[1].id_number)
    # The members list is one query however full the tube is.
    assert len(second.captured_queries) == len(first.captured_queries)
    assert len(second.captured_queries) <= 20
    started = time.perf_counter()
    for person in people[2:]:
        response = station.scan(person.id_number)
        assert result_of(response)[0] in {"ok", "warning"}
    average_ms = (time.perf_counter() - started) * 1000 / len(people[2:])
    assert average_ms < 100, f"{average_ms:.1f} ms per scan"


@pytest.mark.parametrize("url", [SCAN, CLOSE, REMOVE, WALK_IN])
def test_control_characters_in_every_field_never_fail(
    station: Station, gz: Gaozhuang, url: str
) -> None:
    station.scan("GZ0000024")
    junk = "\x00\x1b[31m\u200b\ufeff"
    fields = ("tube", "code", "typed", "confirm", "reason", "name", "capacity", "sample")
    data = {name: junk for name in fields}
    data.update({"id_type": junk, "id_number": junk, "phone": junk, "village": junk})
    response = station.client.post(
        url, {"round": gz.round.pk, "site": gz.site.pk, **data}, headers=XHR
    )
    assert response.status_code in (200, 422)
    response = station.client.get(station_url(gz.round, gz.site, tube="\x00"))
    assert response.status_code == 200
