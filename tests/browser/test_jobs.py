"""The job page's progress bar follows the job live and stops polling when it ends."""

from __future__ import annotations

import pytest
from django.utils import timezone

from fangkong.accounts.roles import Role
from fangkong.core.models import Job, JobStatus
from tests.conftest import JIANGTAITUN

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_progress_bar_updates_until_done(live_server, page, log_in, regions, make_user):
    cadre = make_user("jiangtaitun", role=Role.VILLAGE_CADRE, region=JIANGTAITUN)
    job = Job.objects.create(
        kind="core.selfcheck",
        title="自检任务",
        owner=cadre,
        status=JobStatus.RUNNING,
        total=10,
        done=3,
        heartbeat_at=timezone.now(),
    )
    log_in(page, "jiangtaitun")
    page.goto(f"{live_server.url}/jobs/{job.pk}/")
    bar = page.locator("#job-progress .progress-bar")
    assert bar.inner_text() == "30%"

    Job.objects.filter(pk=job.pk).update(done=7, heartbeat_at=timezone.now())
    page.wait_for_function(
        "document.querySelector('#job-progress .progress-bar').innerText.trim() === '70%'"
    )
    Job.objects.filter(pk=job.pk).update(
        done=10, status=JobStatus.SUCCEEDED, finished_at=timezone.now(), result={"counted": 10}
    )
    page.wait_for_selector("#job-progress[data-status=succeeded]")
    assert page.locator("#job-progress .progress-bar").inner_text() == "100%"
    assert page.locator("#job-progress").get_attribute("hx-trigger") is None

    # polling has stopped: a later change is not picked up
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.wait_for_timeout(2500)
    assert not [url for url in requests if "/progress/" in url]
