"""Jobs: the machinery (after commit, progress, failure, stale sweep), pages and API."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from fangkong.accounts.roles import Role
from fangkong.core import jobs
from fangkong.core.models import AuditEntry, Job, JobStatus
from tests.conftest import FUDAO, GAOZHUANG, JIANGTAITUN
from tests.support.access import assert_absent, assert_present, body_text, count_queries

pytestmark = pytest.mark.django_db


def _start(user, *, region: str = "", title: str = "", **params) -> Job:
    job = jobs.start_job(
        "core.selfcheck", actor=user, params=params, region_code=region, title=title
    )
    job.refresh_from_db()
    return job


# Machinery --------------------------------------------------------------------------------


def test_job_runs_only_after_commit(django_capture_on_commit_callbacks, make_user) -> None:
    user = make_user()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = jobs.start_job("core.selfcheck", actor=user, params={"count": 3})
        job.refresh_from_db()
        assert job.status == JobStatus.QUEUED and job.done == 0
    assert len(callbacks) == 1
    callbacks[0]()  # the commit
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert (job.done, job.total) == (3, 3)
    assert job.result == {"counted": 3}
    assert job.started_at and job.finished_at and job.attempts == 1
    assert AuditEntry.objects.filter(action="core.start_job", object_id=str(job.pk)).exists()


def test_rolled_back_job_never_runs(django_capture_on_commit_callbacks, make_user) -> None:
    from django.db import transaction

    user = make_user()
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        jobs.start_job("core.selfcheck", actor=user, params={"count": 3})
        raise RuntimeError("the surrounding action failed")
    assert callbacks == []
    assert not Job.objects.exists()


def test_unknown_kind_is_refused(make_user) -> None:
    with pytest.raises(ValueError):
        jobs.start_job("no.such_kind", actor=make_user())


def test_progress_is_written_while_running(
    django_capture_on_commit_callbacks, make_user, monkeypatch
) -> None:
    monkeypatch.setattr(jobs, "PROGRESS_WRITE_SECONDS", 0)  # write every step
    seen: list[tuple[int, int | None, str]] = []

    @jobs.job_kind("tests.watch")
    def watch(job, progress):
        progress.set_total(4)
        for _ in range(4):
            progress.advance()
            row = Job.objects.get(pk=job.pk)
            seen.append((row.done, row.total, row.status))
        return {"ok": True}

    try:
        with django_capture_on_commit_callbacks(execute=True):
            job = jobs.start_job("tests.watch", actor=make_user())
    finally:
        jobs.JOB_KINDS.pop("tests.watch")
    assert seen == [(n, 4, "running") for n in range(1, 5)]
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.heartbeat_at is not None


def test_failure_is_recorded_with_a_message(django_capture_on_commit_callbacks, make_user) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        job = _start(make_user(), count=10, fail_at=4)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.done == 3
    assert job.finished_at is not None
    assert "4" in job.messages[-1]
    assert job.result["error"] and "traceback" in job.result


def test_stale_running_job_is_swept(make_user, settings) -> None:
    settings.JOB_STALE_SECONDS = 60
    now = timezone.now()
    stale = Job.objects.create(
        kind="core.selfcheck", status=JobStatus.RUNNING, heartbeat_at=now - dt.timedelta(seconds=61)
    )
    fresh = Job.objects.create(
        kind="core.selfcheck", status=JobStatus.RUNNING, heartbeat_at=now - dt.timedelta(seconds=5)
    )
    queued = Job.objects.create(kind="core.selfcheck", status=JobStatus.QUEUED)
    assert jobs.sweep_stale_jobs(now) == 1
    stale.refresh_from_db()
    fresh.refresh_from_db()
    queued.refresh_from_db()
    assert stale.status == JobStatus.FAILED and stale.finished_at == now
    assert stale.messages  # says the worker stopped
    assert fresh.status == JobStatus.RUNNING and queued.status == JobStatus.QUEUED
    assert jobs.sweep_stale_jobs(now) == 0


def test_selfcheck_clamps_odd_params(django_capture_on_commit_callbacks, make_user) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        job = _start(make_user(), count="lots", delay="slow", fail_at="x")
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.result == {"counted": 10}


# Result files -----------------------------------------------------------------------------


def test_result_path_stays_inside_results_dir(settings, tmp_path, make_user) -> None:
    settings.JOB_RESULTS_DIR = tmp_path / "jobs"
    (tmp_path / "secret.txt").write_text("secret")
    job = Job.objects.create(kind="core.selfcheck")
    path = jobs.new_result_file(job, "../../secret.txt")
    assert path.parent == (tmp_path / "jobs" / str(job.pk)).resolve()
    assert path.name == "secret.txt"
    for bad in ("../secret.txt", str(tmp_path / "secret.txt"), "/etc/passwd", ".", "", "x/../.."):
        job.result_file = bad
        assert jobs.result_path(job) is None, bad


# Pages ------------------------------------------------------------------------------------


@pytest.fixture
def job_setup(regions, make_user, django_capture_on_commit_callbacks, settings, tmp_path):
    settings.JOB_RESULTS_DIR = tmp_path / "jobs"
    cadre = make_user("cadre", role=Role.VILLAGE_CADRE, region=JIANGTAITUN)
    other = make_user("other_cadre", role=Role.VILLAGE_CADRE, region=JIANGTAITUN)
    with django_capture_on_commit_callbacks(execute=True):
        mine = _start(cadre, region=JIANGTAITUN, title="蒋台屯村自检", count=5, write_file=True)
        theirs = _start(other, region=JIANGTAITUN, title="另一人的自检", count=5)
        fudao = _start(None, region=FUDAO, title="伏道镇自检", count=5)
    return {"cadre": cadre, "other": other, "mine": mine, "theirs": theirs, "fudao": fudao}


def test_job_list_shows_own_jobs(job_setup, client_for) -> None:
    url = reverse("core:job_list")
    assert client_for(None).get(url).status_code == 302
    client = client_for(job_setup["cadre"])
    assert_present(client, url, "蒋台屯村自检")
    assert_absent(client, url, "另一人的自检")
    assert_absent(client, url, "伏道镇自检")


def test_audit_holders_see_jobs_of_their_scope(job_setup, make_user, client_for) -> None:
    url = reverse("core:job_list")
    officer = client_for(make_user(role=Role.TOWNSHIP_OFFICER, region=GAOZHUANG))
    assert_present(officer, url, "蒋台屯村自检")
    assert_present(officer, url, "另一人的自检")
    assert_absent(officer, url, "伏道镇自检")
    fudao = client_for(make_user(role=Role.TOWNSHIP_OFFICER, region=FUDAO))
    assert_present(fudao, url, "伏道镇自检")
    assert_absent(fudao, url, "蒋台屯村自检")
    detail = reverse("core:job_detail", args=[job_setup["mine"].pk])
    assert officer.get(detail).status_code == 200
    assert fudao.get(detail).status_code == 404


def test_other_users_jobs_are_404(job_setup, make_user, client_for) -> None:
    client = client_for(job_setup["cadre"])
    theirs = job_setup["theirs"].pk
    for name in ("core:job_detail", "core:job_progress", "core:job_download"):
        assert client.get(reverse(name, args=[theirs])).status_code == 404
    assert client.get(reverse("core:job_detail", args=[uuid.uuid4()])).status_code == 404
    assert client.get("/jobs/not-a-uuid/").status_code == 404
    assert client_for(None).get(reverse("core:job_detail", args=[theirs])).status_code == 302


def test_job_detail_shows_result_and_download(job_setup, client_for) -> None:
    client = client_for(job_setup["cadre"])
    job = job_setup["mine"]
    html = body_text(client.get(reverse("core:job_detail", args=[job.pk])))
    assert "蒋台屯村自检" in html and 'data-status="succeeded"' in html
    assert "100%" in html and "counted" in html
    assert 'hx-trigger="every 1s"' not in html  # finished: no polling
    assert reverse("core:job_download", args=[job.pk]) in html
    download = client.get(reverse("core:job_download", args=[job.pk]))
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"counted to 5\n"
    assert "attachment" in download["Content-Disposition"]


def test_download_refuses_traversal(job_setup, client_for, settings, tmp_path) -> None:
    (tmp_path / "secret_key").write_text("s3cret")
    job = job_setup["mine"]
    Job.objects.filter(pk=job.pk).update(result_file="../secret_key")
    client = client_for(job_setup["cadre"])
    assert client.get(reverse("core:job_download", args=[job.pk])).status_code == 404
    html = body_text(client.get(reverse("core:job_detail", args=[job.pk])))
    assert reverse("core:job_download", args=[job.pk]) not in html


def test_running_job_polls_until_finished(job_setup, client_for) -> None:
    cadre = job_setup["cadre"]
    job = Job.objects.create(
        kind="core.selfcheck",
        owner=cadre,
        status=JobStatus.RUNNING,
        total=10,
        done=4,
        heartbeat_at=timezone.now(),
    )
    client = client_for(cadre)
    progress_url = reverse("core:job_progress", args=[job.pk])
    html = body_text(client.get(reverse("core:job_detail", args=[job.pk])))
    assert 'hx-trigger="every 1s"' in html and f'hx-get="{progress_url}"' in html
    fragment = body_text(client.get(progress_url, HTTP_HX_REQUEST="true"))
    assert "<html" not in fragment and "40%" in fragment and "every 1s" in fragment
    Job.objects.filter(pk=job.pk).update(status=JobStatus.SUCCEEDED, done=10)
    fragment = body_text(client.get(progress_url, HTTP_HX_REQUEST="true"))
    assert "100%" in fragment and "hx-trigger" not in fragment


def test_job_page_sweeps_a_dead_workers_job(job_setup, client_for, settings) -> None:
    settings.JOB_STALE_SECONDS = 30
    cadre = job_setup["cadre"]
    job = Job.objects.create(
        kind="core.selfcheck",
        owner=cadre,
        status=JobStatus.RUNNING,
        heartbeat_at=timezone.now() - dt.timedelta(minutes=5),
    )
    html = body_text(client_for(cadre).get(reverse("core:job_detail", args=[job.pk])))
    assert 'data-status="failed"' in html and "every 1s" not in html
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED


def test_job_list_query_count_is_fixed(job_setup, make_user, client_for) -> None:
    officer = make_user(role=Role.TOWNSHIP_OFFICER, region=GAOZHUANG)
    for n in range(30):
        Job.objects.create(
            kind="core.selfcheck", title=f"j{n}", owner=officer, region_code=GAOZHUANG
        )
    client = client_for(officer)
    url = reverse("core:job_list")
    assert count_queries(client, url, per_page=3) == count_queries(client, url, per_page=40)
    assert count_queries(client, "/api/v1/jobs", page_size=3) == count_queries(
        client, "/api/v1/jobs", page_size=40
    )


# API --------------------------------------------------------------------------------------


def test_jobs_api_scoped(job_setup, make_user, client_for) -> None:
    assert client_for(None).get("/api/v1/jobs").status_code == 401
    client = client_for(job_setup["cadre"])
    body = client.get("/api/v1/jobs").json()
    assert [item["title"] for item in body["items"]] == ["蒋台屯村自检"]
    item = body["items"][0]
    assert item["status"] == "succeeded" and item["percent"] == 100
    assert item["download_url"] == reverse("core:job_download", args=[job_setup["mine"].pk])
    assert "traceback" not in item["result"]
    one = client.get(f"/api/v1/jobs/{job_setup['mine'].pk}")
    assert one.status_code == 200 and one.json()["owner"] == "cadre"
    for missing in (job_setup["theirs"].pk, job_setup["fudao"].pk, uuid.uuid4(), "nope"):
        response = client.get(f"/api/v1/jobs/{missing}")
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    officer = client_for(make_user(role=Role.TOWNSHIP_OFFICER, region=GAOZHUANG))
    titles = {i["title"] for i in officer.get("/api/v1/jobs").json()["items"]}
    assert titles == {"蒋台屯村自检", "另一人的自检"}
    assert officer.get("/api/v1/jobs", {"status": "failed"}).json()["count"] == 0
    assert officer.get("/api/v1/jobs", {"status": "bogus"}).status_code == 422


def test_me_still_works(regions, make_user, client_for) -> None:
    cadre = make_user("jtt", role=Role.VILLAGE_CADRE, region=JIANGTAITUN)
    body = client_for(cadre).get("/api/v1/me").json()
    assert body["username"] == "jtt"
    assert body["assignments"] == [{"role": "village_cadre", "region_code": JIANGTAITUN}]
    assert client_for(None).get("/api/v1/me").status_code == 401
