"""Job kinds of the geo app."""

from __future__ import annotations

from typing import Any

from fangkong.core.jobs import Progress, job_kind
from fangkong.core.models import Job
from fangkong.geo.divisions import load_divisions


@job_kind("geo.load_divisions")
def load_divisions_job(job: Job, progress: Progress) -> dict[str, Any]:
    """params: {"codes": ["410522", ...] or ["all"]}; result: created/updated/unchanged."""
    codes = [str(code) for code in job.params.get("codes", [])]
    result = load_divisions(codes, progress=progress, actor=job.owner)
    return result.as_dict()
