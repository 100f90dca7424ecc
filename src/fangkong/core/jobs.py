"""Long-running jobs with progress (DESIGN rule 7).

A job kind is a function ``handler(job, progress) -> dict`` registered with
``@job_kind("app.name")``. ``start_job`` records the Job and enqueues it on django-tasks
(database backend) after commit; a worker (``fangkong worker``) runs it; the job page
polls its progress. The CLI runs the same handler inline with a terminal progress bar.

A worker that dies mid-job stops sending heartbeats; ``sweep_stale_jobs`` (run by every
worker at start and between tasks, and by the job page) marks such jobs failed, so a job
is never left "running" forever.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tasks import task

from fangkong.core import audit
from fangkong.core.models import Job, JobStatus

logger = logging.getLogger("fangkong.jobs")

JobHandler = Callable[[Job, "Progress"], dict[str, Any]]
JOB_KINDS: dict[str, JobHandler] = {}

# Progress is written to the database at most this often; a job may call update() per row.
PROGRESS_WRITE_SECONDS = 0.5
MAX_MESSAGES = 200
# A worker that runs for months still clears old uploads: at most once per interval, from
# the next job it runs (it also cleans at start, see the worker command).
CLEANUP_INTERVAL_SECONDS = 3600
_last_cleanup = {"at": time.monotonic()}


def job_kind(name: str) -> Callable[[JobHandler], JobHandler]:
    def register(handler: JobHandler) -> JobHandler:
        JOB_KINDS[name] = handler
        return handler

    return register


@dataclass
class Progress:
    """What a handler reports through; also drives a tqdm bar when run from the CLI."""

    job: Job
    bar: Any = None
    _last_write: float = field(default=0.0)

    def set_total(self, total: int) -> None:
        self.job.total = total
        if self.bar is not None:
            self.bar.total = total
            self.bar.refresh()
        self._write(force=True)

    def advance(self, count: int = 1) -> None:
        self.job.done += count
        if self.bar is not None:
            self.bar.update(count)
        self._write()

    def message(self, text: str) -> None:
        if len(self.job.messages) < MAX_MESSAGES:
            self.job.messages.append(text)
        if self.bar is not None:
            self.bar.write(text)
        self._write(force=True)

    def _write(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_write < PROGRESS_WRITE_SECONDS:
            return
        self._last_write = now
        if self.job._state.adding:
            return
        self.job.heartbeat_at = timezone.now()
        Job.objects.filter(pk=self.job.pk).update(
            done=self.job.done,
            total=self.job.total,
            messages=self.job.messages,
            heartbeat_at=self.job.heartbeat_at,
        )


def start_job(
    kind: str,
    *,
    actor: Any,
    params: dict[str, Any] | None = None,
    region_code: str = "",
    title: str = "",
) -> Job:
    """Record a job and queue it to run once the surrounding transaction commits."""
    if kind not in JOB_KINDS:
        raise ValueError(f"unknown job kind: {kind}")
    with transaction.atomic():
        job = Job.objects.create(
            kind=kind,
            title=title or kind,
            owner=actor if getattr(actor, "is_authenticated", False) else None,
            params=params or {},
            region_code=region_code,
        )
        audit.record(actor, "core.start_job", job, after={"kind": kind, "params": job.params})
        job_id = str(job.pk)
        transaction.on_commit(lambda: run_job.enqueue(job_id))
    return job


def execute(job: Job, bar: Any = None) -> Job:
    """Run a job's handler now, recording start, progress, outcome and errors."""
    handler = JOB_KINDS[job.kind]
    job.status = JobStatus.RUNNING
    job.started_at = job.heartbeat_at = timezone.now()
    job.attempts += 1
    if not job._state.adding:
        job.save(update_fields=["status", "started_at", "heartbeat_at", "attempts"])
    progress = Progress(job=job, bar=bar)
    try:
        job.result = handler(job, progress) or {}
        job.status = JobStatus.SUCCEEDED
    except Exception as exc:
        logger.exception("job %s (%s) failed", job.pk, job.kind)
        job.status = JobStatus.FAILED
        job.messages.append(_("Failed: %(error)s") % {"error": str(exc) or type(exc).__name__})
        job.result = {"error": str(exc), "traceback": traceback.format_exc(limit=5)}
    job.finished_at = job.heartbeat_at = timezone.now()
    if not job._state.adding:
        job.save()
    return job


@task()
def run_job(job_id: str) -> str:
    """The django-tasks entry point: one job by id."""
    sweep_stale_jobs()
    _clean_now_and_then()
    try:
        job = Job.objects.get(pk=job_id)
    except Job.DoesNotExist:
        return "missing"
    if job.status != JobStatus.QUEUED:
        return str(job.status)
    return str(execute(job).status)


def _clean_now_and_then() -> None:
    if time.monotonic() - _last_cleanup["at"] < CLEANUP_INTERVAL_SECONDS:
        return
    _last_cleanup["at"] = time.monotonic()
    from fangkong.core.importing.retention import clean_old_files  # it imports this module

    try:
        clean_old_files()
    except OSError:  # a full or read-only disk must not fail the job it ran before
        logger.exception("cleaning old uploads failed")


def sweep_stale_jobs(now: dt.datetime | None = None) -> int:
    """Mark running jobs whose worker stopped reporting as failed; returns how many."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(seconds=settings.JOB_STALE_SECONDS)
    stale = list(
        Job.objects.filter(status=JobStatus.RUNNING, heartbeat_at__lt=cutoff).only("pk", "messages")
    )
    for job in stale:
        messages = [*job.messages, _("The worker stopped while running this job.")]
        Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
            status=JobStatus.FAILED, finished_at=now, messages=messages
        )
    return len(stale)


_UNSAFE_NAME = re.compile(r"[^\w.\-]+")


def results_dir() -> Path:
    return Path(settings.JOB_RESULTS_DIR).resolve()


def new_result_file(job: Job, filename: str) -> Path:
    """Where a handler writes the job's downloadable result; the job records it.

    Files live in JOB_RESULTS_DIR/<job id>/; only the last path component of ``filename``
    is kept, so a handler cannot be talked into writing elsewhere.
    """
    name = _UNSAFE_NAME.sub("_", Path(filename).name).lstrip(".") or "result"
    folder = results_dir() / str(job.pk)
    folder.mkdir(parents=True, exist_ok=True)
    job.result_file = f"{job.pk}/{name}"
    return folder / name


def result_path(job: Job) -> Path | None:
    """The job's result file if it exists inside JOB_RESULTS_DIR, else None.

    ``result_file`` is resolved and must stay under the results folder: a value such as
    "../../secret_key" or an absolute path (a bug, or a tampered row) serves nothing.
    """
    if not job.result_file:
        return None
    root = results_dir()
    try:
        path = (root / job.result_file).resolve()
    except (OSError, ValueError):
        return None
    if not path.is_relative_to(root) or path == root or not path.is_file():
        return None
    return path


def run_inline(kind: str, params: dict[str, Any], *, actor: Any, show_bar: bool = True) -> Job:
    """Run a job in this process (CLI), with a terminal progress bar; the Job is recorded."""
    from tqdm import tqdm

    job = Job.objects.create(kind=kind, title=kind, params=params, owner=None)
    audit.record(actor, "core.start_job", job, after={"kind": kind, "params": params})
    # No monitor thread: with a second thread alive, a large import would not fork its
    # checking process (core.importing.checking_process checks for exactly one thread).
    tqdm.monitor_interval = 0
    with tqdm(disable=not show_bar, unit="rows", dynamic_ncols=True, leave=True) as bar:
        return execute(job, bar=bar)
