"""Job kinds of core: a self-check that counts, used by tests, the demo and operators."""

from __future__ import annotations

import time
from typing import Any

from django.utils.translation import gettext as _

from fangkong.core.jobs import Progress, job_kind, new_result_file
from fangkong.core.models import Job

SELFCHECK_MAX_COUNT = 1_000_000
SELFCHECK_MAX_DELAY = 1.0


def _int_param(params: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    try:
        value = int(params.get(name, default))
    except (TypeError, ValueError):
        value = default
    return max(low, min(high, value))


@job_kind("core.selfcheck")
def selfcheck(job: Job, progress: Progress) -> dict[str, Any]:
    """Count to ``count`` (default 10), sleeping ``delay`` seconds per step.

    ``fail_at`` makes it raise at that step (to see a failure recorded); ``write_file``
    leaves a small text result to download. Both exist so the machinery can be watched
    end to end without touching real data.
    """
    params = job.params or {}
    count = _int_param(params, "count", 10, 0, SELFCHECK_MAX_COUNT)
    try:
        delay = min(SELFCHECK_MAX_DELAY, max(0.0, float(params.get("delay", 0))))
    except (TypeError, ValueError):
        delay = 0.0
    fail_at = _int_param(params, "fail_at", 0, 0, SELFCHECK_MAX_COUNT) or None
    progress.set_total(count)
    progress.message(_("Counting to %(count)d.") % {"count": count})
    for step in range(1, count + 1):
        if delay:
            time.sleep(delay)
        if fail_at is not None and step == fail_at:
            raise RuntimeError(_("Stopped at step %(step)d as asked.") % {"step": step})
        progress.advance()
    if params.get("write_file"):
        path = new_result_file(job, "selfcheck.txt")
        path.write_text(f"counted to {count}\n", encoding="utf-8")
    progress.message(_("Counted to %(count)d.") % {"count": count})
    return {"counted": count}
