"""Deleting old import uploads and job result files (they hold people's data).

Every upload is kept under MEDIA_ROOT/imports/<token>/ and every job's downloadable result
(an error workbook...) under JOB_RESULTS_DIR/<job id>/. Nothing needs them once the import
is done and the user has had time to download the errors, so folders older than
FANGKONG_UPLOAD_RETENTION_DAYS (7 by default) are deleted, except those of a job still
queued or running. Run by every job worker at start and by `fangkong cleanup`.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from fangkong.core.importing.uploads import imports_dir
from fangkong.core.jobs import results_dir
from fangkong.core.models import Job, JobStatus

logger = logging.getLogger("fangkong.retention")

# Never less than a day: an upload waiting on its preview page must survive a worker start.
MIN_DAYS = 1
_UPLOAD_NAME = re.compile(r"[0-9a-f]{32}")
_JOB_NAME = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass
class Cleanup:
    uploads: list[Path] = field(default_factory=list)
    results: list[Path] = field(default_factory=list)
    kept_in_use: int = 0
    freed_bytes: int = 0

    def summary(self) -> str:
        return (
            f"deleted {len(self.uploads)} upload(s) and {len(self.results)} job result "
            f"folder(s), {self.freed_bytes / 1024 / 1024:.1f} MB; kept {self.kept_in_use} "
            "in use"
        )


def retention_days() -> int:
    return max(MIN_DAYS, int(getattr(settings, "UPLOAD_RETENTION_DAYS", 7)))


def _in_use() -> tuple[set[str], set[str]]:
    """(upload tokens, job ids) of jobs still queued or running."""
    tokens: set[str] = set()
    job_ids: set[str] = set()
    active = Job.objects.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING])
    for pk, params in active.values_list("pk", "params"):
        job_ids.add(str(pk))
        token = params.get("token") if isinstance(params, dict) else None
        if isinstance(token, str):
            tokens.add(token)
    return tokens, job_ids


def _newest_mtime(folder: Path) -> float:
    """The folder's last change: its own time or its newest file's (a job may add files)."""
    newest = folder.stat().st_mtime
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            newest = max(newest, path.stat().st_mtime)
    return newest


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def _old_folders(root: Path, pattern: re.Pattern[str], cutoff: float) -> Iterable[Path]:
    """Folders directly under ``root`` named like ours and untouched since ``cutoff``.
    Anything else there (a symlink, a stray file, another name) is left alone."""
    if not root.is_dir():
        return
    for path in sorted(root.iterdir()):
        if path.is_symlink() or not path.is_dir() or not pattern.fullmatch(path.name):
            continue
        try:
            if _newest_mtime(path) < cutoff:
                yield path
        except OSError:  # removed meanwhile by another worker
            continue


def clean_old_files(
    days: int | None = None, *, now: dt.datetime | None = None, dry_run: bool = False
) -> Cleanup:
    """Delete upload and job-result folders older than ``days`` (default: the setting)
    that no queued or running job refers to. Returns what was (or would be) deleted."""
    days = retention_days() if days is None else max(MIN_DAYS, days)
    cutoff = ((now or timezone.now()) - dt.timedelta(days=days)).timestamp()
    tokens, job_ids = _in_use()
    done = Cleanup()
    for kind, root, pattern, busy in (
        ("upload", imports_dir(), _UPLOAD_NAME, tokens),
        ("result", results_dir(), _JOB_NAME, job_ids),
    ):
        for folder in _old_folders(root, pattern, cutoff):
            if folder.name in busy:
                done.kept_in_use += 1
                continue
            try:
                size = _size(folder)
                if not dry_run:
                    shutil.rmtree(folder)
            except OSError as exc:
                logger.warning("could not delete %s: %s", folder, exc)
                continue
            done.freed_bytes += size
            (done.uploads if kind == "upload" else done.results).append(folder)
    if done.uploads or done.results:
        logger.info("retention: %s", done.summary())
    return done
