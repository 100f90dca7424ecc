"""Old import uploads and job result files are deleted unless a live job uses them."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from fangkong.core.importing import retention
from fangkong.core.models import Job, JobStatus

pytestmark = pytest.mark.django_db

DAY = 24 * 3600


@pytest.fixture
def data_dir(tmp_path: Path) -> Any:
    with override_settings(MEDIA_ROOT=tmp_path / "uploads", JOB_RESULTS_DIR=tmp_path / "jobs"):
        yield tmp_path


def _age(folder: Path, days: float) -> None:
    stamp = time.time() - days * DAY
    for path in [folder, *folder.rglob("*")]:
        os.utime(path, (stamp, stamp))


def upload(root: Path, days: float, token: str | None = None) -> Path:
    folder = root / "uploads" / "imports" / (token or uuid.uuid4().hex)
    folder.mkdir(parents=True)
    (folder / "upload.xlsx").write_bytes(b"x" * 1000)
    (folder / "meta.json").write_text("{}")
    _age(folder, days)
    return folder


def result(root: Path, days: float, job_id: str | None = None) -> Path:
    folder = root / "jobs" / (job_id or str(uuid.uuid4()))
    folder.mkdir(parents=True)
    (folder / "errors.xlsx").write_bytes(b"y" * 500)
    _age(folder, days)
    return folder


def job(status: str, token: str = "") -> Job:
    return Job.objects.create(kind="people.import", status=status, params={"token": token})


def test_old_files_go_new_and_live_stay(data_dir: Path) -> None:
    old = upload(data_dir, 8)
    fresh = upload(data_dir, 2)
    queued_token = uuid.uuid4().hex
    queued = upload(data_dir, 30, queued_token)
    job(JobStatus.QUEUED, queued_token)
    running_token = uuid.uuid4().hex
    running_upload = upload(data_dir, 30, running_token)
    running = job(JobStatus.RUNNING, running_token)
    running_result = result(data_dir, 30, str(running.pk))
    finished_token = uuid.uuid4().hex
    finished_upload = upload(data_dir, 30, finished_token)
    finished = job(JobStatus.SUCCEEDED, finished_token)
    finished_result = result(data_dir, 9, str(finished.pk))
    recent_result = result(data_dir, 1)

    done = retention.clean_old_files()

    assert not old.exists() and not finished_upload.exists() and not finished_result.exists()
    assert fresh.exists() and queued.exists() and running_upload.exists()
    assert running_result.exists() and recent_result.exists()
    assert sorted(done.uploads) == sorted([old, finished_upload])
    assert done.results == [finished_result]
    assert done.kept_in_use == 3
    assert done.freed_bytes == 2 * (1000 + 2) + 500  # two uploads (file + meta), one result
    assert "deleted 2 upload(s) and 1 job result folder(s)" in done.summary()


def test_newest_file_counts(data_dir: Path) -> None:
    # A folder whose job wrote a file recently is not old, whatever the folder's own time.
    folder = result(data_dir, 10)
    new_file = folder / "later.xlsx"
    new_file.write_bytes(b"z")
    assert retention.clean_old_files().results == []
    assert folder.exists()


def test_setting_and_days_argument(data_dir: Path) -> None:
    four = upload(data_dir, 4)
    with override_settings(UPLOAD_RETENTION_DAYS=3):
        assert retention.clean_old_files().uploads == [four]
    two = upload(data_dir, 2.5)
    assert retention.clean_old_files(days=2).uploads == [two]
    # Never less than a day: an upload waiting on its preview page survives.
    hour = upload(data_dir, 0.05)
    with override_settings(UPLOAD_RETENTION_DAYS=0):
        assert retention.clean_old_files().uploads == []
    assert retention.clean_old_files(days=-5).uploads == []
    assert hour.exists()


def test_only_our_folders_are_touched(data_dir: Path, tmp_path: Path) -> None:
    imports = data_dir / "uploads" / "imports"
    imports.mkdir(parents=True)
    stray = imports / "README.txt"
    stray.write_text("keep")
    other = imports / "not-a-token"
    other.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("keep")
    link = imports / ("a" * 32)
    link.symlink_to(outside, target_is_directory=True)
    for path in (stray, other, outside, outside / "precious.txt"):
        os.utime(path, (time.time() - 99 * DAY,) * 2)
    os.utime(link, (time.time() - 99 * DAY,) * 2, follow_symlinks=False)
    done = retention.clean_old_files()
    assert done.uploads == [] and done.results == []
    assert stray.exists() and other.exists() and (outside / "precious.txt").exists()


def test_missing_folders_are_fine(data_dir: Path) -> None:
    done = retention.clean_old_files()
    assert (done.uploads, done.results, done.freed_bytes) == ([], [], 0)


def test_dry_run_deletes_nothing(data_dir: Path) -> None:
    old = upload(data_dir, 8)
    done = retention.clean_old_files(dry_run=True)
    assert done.uploads == [old] and old.exists()


def test_cleanup_command(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = upload(data_dir, 8)
    call_command("cleanup", "--dry-run")
    out = capsys.readouterr().out
    assert str(old) in out and "would have deleted 1 upload(s)" in out and old.exists()
    call_command("cleanup", "--days", "10")
    assert old.exists()
    call_command("cleanup")
    assert not old.exists()
    assert "deleted 1 upload(s)" in capsys.readouterr().out
    for bad in ("0", "-1", "99999"):
        with pytest.raises(CommandError):
            call_command("cleanup", "--days", bad)


def test_worker_start_cleans(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fangkong.core.management.commands import worker

    old = upload(data_dir, 8)
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(worker, "call_command", lambda *a, **kw: calls.append(kw))
    call_command("worker", "--batch")
    assert not old.exists() and calls


def test_a_long_running_worker_cleans_from_time_to_time(monkeypatch: pytest.MonkeyPatch) -> None:
    from fangkong.core import jobs

    calls: list[int] = []
    monkeypatch.setattr(
        "fangkong.core.importing.retention.clean_old_files", lambda: calls.append(1)
    )
    monkeypatch.setitem(jobs._last_cleanup, "at", jobs.time.monotonic())
    jobs._clean_now_and_then()
    assert calls == []  # cleaned recently (at start)
    monkeypatch.setitem(
        jobs._last_cleanup, "at", jobs.time.monotonic() - jobs.CLEANUP_INTERVAL_SECONDS - 1
    )
    jobs._clean_now_and_then()
    jobs._clean_now_and_then()
    assert calls == [1]  # once per interval
