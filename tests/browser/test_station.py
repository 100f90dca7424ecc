"""The sampling station in the browser, on a phone-sized screen with a keyboard-wedge
scanner (a scanner "types" a whole code in a burst and presses Enter)."""

from __future__ import annotations

import os
from typing import Any

import pytest

from fangkong.accounts.roles import Role
from fangkong.people.models import KeyGroup
from fangkong.screening.models import Tube
from tests.conftest import JIANGTAITUN
from tests.screening import conftest as screening_fixtures
from tests.screening.conftest import Gaozhuang

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
RESULT = "[data-testid=station-result]"


gz = screening_fixtures.gz  # the screening fixture, for these tests too


@pytest.fixture
def regions(regions: Any) -> Any:
    """Transactional tests flush the key groups the migrations seed; gz tags a bedridden
    person, so the group is made again."""
    KeyGroup.objects.get_or_create(code="bedridden", defaults={"name": "卧床"})
    return regions


def scan(page: Any, text: str, delay: float = 0) -> None:
    """A scanner burst (delay 0) or a person typing (delay in ms between keys), then Enter."""
    page.keyboard.type(text, delay=delay)
    page.keyboard.press("Enter")


def focused(page: Any) -> str:
    return str(page.evaluate("document.activeElement && document.activeElement.dataset.testid"))


def wait_focused(page: Any) -> None:
    """The page focuses its input when its script has run (autofocus, then station.js):
    right after a navigation the element may exist before either has happened."""
    page.wait_for_function(
        "document.activeElement && document.activeElement.dataset.testid === 'station-input'",
        timeout=5000,
    )


def wait_result(page: Any, code: str) -> Any:
    page.wait_for_selector(f"{RESULT}[data-code={code}]")
    return page.locator(RESULT)


def test_open_a_tube_scan_two_people_and_an_invalid_id(
    page: Any, live_server: Any, log_in: Any, make_user: Any, gz: Gaozhuang
) -> None:
    make_user("sampler", role=Role.SAMPLER, region=JIANGTAITUN)
    page.set_viewport_size(PHONE)
    log_in(page, "sampler")
    page.goto(f"{live_server.url}/screening/station/")
    page.locator("[data-testid=start-station]").click()
    page.wait_for_selector("[data-testid=station-input]")
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1, f"the page scrolls sideways by {overflow}px"
    wait_focused(page)

    scan(page, "GZB0001")
    wait_result(page, "tube_opened")
    assert focused(page) == "station-input"
    assert page.locator("[data-testid=tube-counter]").inner_text() == "0/10"

    first, second = gz.jiangtaitun[2], gz.jiangtaitun[3]
    scan(page, first.id_number)
    result = wait_result(page, "added")
    assert "✓" in result.inner_text()
    assert first.name in result.inner_text()
    assert page.locator("[data-testid=result-counter]").inner_text() == "1/10"
    assert focused(page) == "station-input"

    # The second person scanned at once after a stray click outside the input.
    page.locator("h1").click()
    assert focused(page) == "station-input"
    scan(page, second.id_number)
    page.wait_for_function(
        "document.querySelector('[data-testid=result-counter]').innerText === '2/10'"
    )
    result = page.locator(RESULT)
    assert result.get_attribute("data-level") == "ok"
    assert second.name in result.inner_text()
    assert second.id_number not in page.content()  # masked everywhere
    assert page.locator("[data-testid=tube-member]").count() == 2
    assert focused(page) == "station-input"

    bad = first.id_number[:-1] + ("1" if first.id_number[-1] != "1" else "2")
    scan(page, bad)
    result = wait_result(page, "invalid_id")
    assert result.get_attribute("data-level") == "error"
    assert "✗" in result.inner_text()
    color = page.evaluate(f"getComputedStyle(document.querySelector('{RESULT}')).backgroundColor")
    assert color == "rgb(220, 53, 69)"  # red
    assert page.locator("[data-testid=tube-counter]").inner_text() == "2/10"
    assert focused(page) == "station-input"
    assert page.locator("[data-testid=station-input]").input_value() == ""

    rtt = int(page.locator("[data-testid=station]").get_attribute("data-last-rtt"))
    limit = int(os.environ.get("FANGKONG_STATION_RTT_MS", "250"))
    assert rtt < limit, f"round trip {rtt} ms"
    assert Tube.objects.get(barcode="GZB0001").member_count == 2


def test_scans_faster_than_the_server_are_kept_in_order(
    page: Any, live_server: Any, log_in: Any, make_user: Any, gz: Gaozhuang
) -> None:
    make_user("sampler", role=Role.SAMPLER, region=JIANGTAITUN)
    log_in(page, "sampler")
    page.goto(f"{live_server.url}/screening/station/?round={gz.round.pk}&site={gz.site.pk}")
    # A tube and three people in one burst: each scan needs the state the one before set.
    scan(page, "GZB0002")
    for person in gz.jiangtaitun[4:7]:
        scan(page, person.id_number)
    page.wait_for_function(
        "document.querySelector('[data-testid=tube-counter]')"
        " && document.querySelector('[data-testid=tube-counter]').innerText === '3/10'"
    )
    assert focused(page) == "station-input"
    # A smaller pool for this tube: the counter follows, the input gets the focus back.
    page.locator("[data-testid=capacity-toggle]").click()
    page.locator("[data-capacity]").select_option("5")
    page.locator("[data-testid=change-capacity]").click()
    wait_result(page, "capacity_changed")
    assert page.locator("[data-testid=tube-counter]").inner_text() == "3/5"
    assert focused(page) == "station-input"
    assert Tube.objects.get(barcode="GZB0002").capacity == 5
    # Closed by hand; the next tube is typed, so it must be typed twice.
    page.locator("[data-testid=close-tube]").click()
    wait_result(page, "tube_closed")
    assert focused(page) == "station-input"
    scan(page, "GZB0003", delay=90)
    wait_result(page, "confirm_barcode")
    assert page.locator(RESULT).get_attribute("data-level") == "warning"
    assert not Tube.objects.filter(barcode="GZB0003").exists()
    scan(page, "GZB0003", delay=90)
    wait_result(page, "tube_opened")
    assert Tube.objects.filter(barcode="GZB0003").exists()
