"""Tracing pages: access matrix for every page and action, masking and logged reveal,
pinned query counts, actions through the page."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from fangkong.core.models import AccessLogEntry
from fangkong.screening.models import CaseStatus, TaskStatus
from tests.conftest import ANYANG_COUNTY, DONGZHENGSI, FUDAO, GAOZHUANG, JIANGTAITUN
from tests.screening.conftest import Gaozhuang
from tests.screening.results_fixtures import make_tube, positive_pool
from tests.support.access import (
    AccessCase,
    assert_absent,
    assert_present,
    check_access_matrix,
    count_queries,
)

pytestmark = pytest.mark.django_db

CASES = "/screening/cases/"
TASKS = "/screening/tasks/"
TRACE = "/screening/trace/"


@pytest.fixture
def case(gz: Gaozhuang) -> Any:
    return positive_pool(gz)


def test_urls(gz: Gaozhuang, case: Any) -> None:
    assert reverse("screening:case_list") == CASES
    assert reverse("screening:task_list") == TASKS
    assert reverse("screening:case_detail", kwargs={"pk": case.pk}) == f"{CASES}{case.pk}/"


@pytest.mark.parametrize(
    ("url", "method"),
    [
        ("{case}", "get"),
        ("{case}reveal/", "post"),
        (TRACE + "?barcode=P001", "get"),
        ("{task}control/", "post"),
        ("{task}resample/", "post"),
        ("{task}result/", "post"),
        ("{task}cancel/", "post"),
        ("{case}close/", "post"),
    ],
)
def test_access_matrix(
    gz: Gaozhuang, case: Any, make_user: Any, client_for: Any, url: str, method: str
) -> None:
    task = case.tasks.get(person=gz.jiangtaitun[0])
    target = url.format(case=f"{CASES}{case.pk}/", task=f"{TASKS}{task.pk}/")
    data = {"measure": "home", "note": "门口贴封条", "result": "negative", "tube": "NONE"}
    check_access_matrix(
        AccessCase(
            url=target,
            role="village_cadre",
            region=JIANGTAITUN,
            other_region=FUDAO,
            wrong_role="sampler",
            method=method,
            data=data if method == "post" else {},
        ),
        make_user,
        client_for,
        wrong_role_statuses=(403,),
    )


@pytest.mark.parametrize("url", [CASES, TASKS, TRACE])
def test_list_pages_access_and_absence(
    gz: Gaozhuang, case: Any, make_user: Any, client_for: Any, url: str
) -> None:
    anonymous = client_for(None).get(url)
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    for role in ("sampler", "inspector"):
        assert client_for(make_user(role=role, region=JIANGTAITUN)).get(url).status_code == 403
    if url != TRACE:
        assert_absent(client_for(make_user(role="village_cadre", region=FUDAO)), url, "P001")
        assert_present(client_for(make_user(role="village_cadre", region=JIANGTAITUN)), url, "P001")


def test_other_township_gets_404_and_cadre_sees_only_own_members(
    gz: Gaozhuang, case: Any, make_user: Any, client_for: Any
) -> None:
    detail = f"{CASES}{case.pk}/"
    assert (
        client_for(make_user(role="township_officer", region=FUDAO)).get(detail).status_code == 404
    )
    cadre = client_for(make_user(role="village_cadre", region=DONGZHENGSI))
    page = cadre.get(detail).content.decode()
    assert "马超" in page and "王秀英" not in page
    tasks = cadre.get(TASKS).content.decode()
    assert "马超" in tasks and "王秀英" not in tasks
    other_task = case.tasks.get(person=gz.jiangtaitun[0])
    response = cadre.post(f"{TASKS}{other_task.pk}/control/", {"measure": "home"})
    assert response.status_code == 404


def test_case_list_for_hq_shows_time_since_result(
    gz: Gaozhuang, case: Any, make_user: Any, client_for: Any
) -> None:
    older = positive_pool(gz, "P002", hours_ago=30, reason="复采")
    hq = client_for(make_user(role="hq", region=ANYANG_COUNTY))
    page = hq.get(CASES).content.decode()
    assert page.index("P002") < page.index("P001")  # oldest first
    assert 'hx-trigger="every 30s"' in page
    assert "1\xa0日，6\xa0小时" in page and "2\xa0小时" in page  # the time since the result
    fragment = hq.get(CASES, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in fragment and "P002" in fragment
    older.status = CaseStatus.CLOSED
    older.save()
    assert "P002" not in hq.get(CASES).content.decode()
    assert "P002" in hq.get(CASES, {"status": "closed"}).content.decode()
    assert hq.get(CASES, {"status": "<script>"}).status_code == 200
    assert hq.get(CASES, {"page": "9999"}).status_code == 200


def test_list_query_counts_are_pinned(
    gz: Gaozhuang, case: Any, make_user: Any, client_for: Any
) -> None:
    hq = client_for(make_user(role="hq", region=ANYANG_COUNTY))
    few_cases, few_tasks = count_queries(hq, CASES), count_queries(hq, TASKS)
    for i in range(3):
        positive_pool(gz, f"P10{i}", reason="复采")
    assert count_queries(hq, CASES) == few_cases
    assert count_queries(hq, TASKS) == few_tasks
    detail = f"{CASES}{case.pk}/"
    assert count_queries(hq, detail) <= 20


def test_masked_then_logged_reveal(
    gz: Gaozhuang, case: Any, make_user: Any, client_for: Any
) -> None:
    person = gz.jiangtaitun[0]
    officer = make_user(role="township_officer", region=GAOZHUANG)
    client = client_for(officer)
    page = client.get(f"{CASES}{case.pk}/").content.decode()
    assert person.id_number not in page and person.phone not in page
    assert person.id_number[-4:] in page and 'data-testid="reveal"' in page
    assert not AccessLogEntry.objects.exists()
    revealed = client.post(f"{CASES}{case.pk}/reveal/").content.decode()
    assert person.id_number in revealed and f"tel:{person.phone}" in revealed
    assert person.address in revealed
    entry = AccessLogEntry.objects.get()
    assert (entry.kind, entry.user, entry.row_count, entry.unmasked) == ("reveal", officer, 4, True)
    assert entry.object_type == "screening.positivecase" and entry.object_id == str(case.pk)
    # Inspectors never trace; a reveal by GET is refused.
    assert client.get(f"{CASES}{case.pk}/reveal/").status_code == 405


def test_actions_through_the_page(
    gz: Gaozhuang, case: Any, make_user: Any, client_for: Any
) -> None:
    cadre = client_for(make_user(role="village_cadre", region=JIANGTAITUN))
    task = case.tasks.get(person=gz.jiangtaitun[0])
    response = cadre.post(f"{TASKS}{task.pk}/control/", {"measure": "in_place", "note": "就地"})
    assert response.status_code == 302 and response["Location"] == f"{CASES}{case.pk}/"
    task.refresh_from_db()
    assert task.control_measure == "in_place"
    bad = cadre.post(f"{TASKS}{task.pk}/control/", {"measure": "jail"}, follow=True)
    assert (
        "Choose how the person is controlled" in bad.content.decode()
        or "管控" in bad.content.decode()
    )
    back = cadre.post(f"{TASKS}{task.pk}/control/", {"measure": "home", "back": "tasks"})
    assert back["Location"] == TASKS
    make_tube(gz.round, gz.site, "R500", gz.jiangtaitun[:1], capacity=1, reason="单采")
    cadre.post(f"{TASKS}{task.pk}/resample/", {"tube": "ｒ500"})  # full-width, lower case
    task.refresh_from_db()
    assert task.status == TaskStatus.RESAMPLED and task.resample_tube is not None
    unknown = cadre.post(f"{TASKS}{task.pk}/resample/", {"tube": "X" * 300}, follow=True)
    assert unknown.status_code == 200
    cadre.post(f"{TASKS}{task.pk}/result/", {"result": "negative"})
    task.refresh_from_db()
    assert task.status == TaskStatus.NEGATIVE
    cancel = case.tasks.get(person=gz.jiangtaitun[1])
    cadre.post(f"{TASKS}{cancel.pk}/cancel/", {"note": ""})
    cancel.refresh_from_db()
    assert cancel.status == TaskStatus.PENDING  # the note is required
    assert cadre.post(f"{TASKS}99999999999999999999/control/", {}).status_code == 404
    officer = client_for(make_user(role="township_officer", region=GAOZHUANG))
    officer.post(f"{CASES}{case.pk}/close/", {"note": ""})
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN
    officer.post(f"{CASES}{case.pk}/close/", {"note": "全部转运隔离"})
    case.refresh_from_db()
    assert case.status == CaseStatus.CLOSED


def test_tube_trace_page(gz: Gaozhuang, case: Any, make_user: Any, client_for: Any) -> None:
    single = make_tube(gz.round, gz.other_site, "S100", gz.dongzhengsi[:1], capacity=1)
    officer = client_for(make_user(role="township_officer", region=GAOZHUANG))
    assert officer.get(TRACE).status_code == 200
    page = officer.get(TRACE, {"barcode": " s100 "}).content.decode()
    assert "孙丽" in page and gz.dongzhengsi[0].phone not in page
    revealed = officer.get(TRACE, {"barcode": "S100", "reveal": "1"}).content.decode()
    assert gz.dongzhengsi[0].phone in revealed
    assert AccessLogEntry.objects.get().object_id == str(single.pk)
    assert officer.get(TRACE, {"barcode": "NOPE"}).status_code == 404
    assert officer.get(TRACE, {"barcode": "<script>alert(1)</script>"}).status_code == 404
    outsider = client_for(make_user(role="township_officer", region=FUDAO))
    assert outsider.get(TRACE, {"barcode": "S100"}).status_code == 404
