"""The round dashboard (轮次看板): samples per hour and per site, tubes by state, results
pending, positive cases open. Five queries whatever the round's size, all scoped:

- samples (live rows: ``removed_at`` null) by the person's region_code;
- tubes, boxes' contents and positive cases by the site's region_code.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncHour
from django.utils import timezone

from fangkong.accounts.roles import Perm
from fangkong.core.scoping import restrict
from fangkong.screening.models import (
    CaseStatus,
    PositiveCase,
    Round,
    Sample,
    TestResult,
    Tube,
    TubeStatus,
)

# Tubes waiting for a result: sampled and closed, anywhere between the site and the lab.
PENDING_STATUSES = (TubeStatus.CLOSED, TubeStatus.BOXED, TubeStatus.IN_TRANSIT)


@dataclass
class HourCount:
    hour: dt.datetime  # local time, on the hour
    samples: int


@dataclass
class SiteCount:
    site_id: int
    name: str
    samples: int


@dataclass
class Dashboard:
    round: Round
    samples: int
    per_hour: list[HourCount]
    per_site: list[SiteCount]
    tubes: dict[str, int]  # TubeStatus value → tubes
    people_in_tubes: dict[str, int]  # TubeStatus value → people sampled into them
    results: dict[str, int]  # TestResult value → tubes
    results_pending: int  # tubes
    people_pending: int
    positives_open: int
    computed_at: dt.datetime = field(default_factory=timezone.now)

    @property
    def in_transit(self) -> int:
        return self.tubes.get(TubeStatus.IN_TRANSIT, 0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "round_id": self.round.pk,
            "status": self.round.status,
            "samples": self.samples,
            "per_hour": [{"hour": h.hour.isoformat(), "samples": h.samples} for h in self.per_hour],
            "per_site": [
                {"site_id": s.site_id, "name": s.name, "samples": s.samples} for s in self.per_site
            ],
            "tubes": {status: self.tubes.get(status, 0) for status in TubeStatus.values},
            "tubes_in_transit": self.in_transit,
            "results": {result: self.results.get(result, 0) for result in TestResult.values},
            "results_pending": self.results_pending,
            "people_pending": self.people_pending,
            "positives_open": self.positives_open,
            "computed_at": self.computed_at.isoformat(),
        }


def _live_samples(user: Any, round_: Round) -> Any:
    return restrict(
        Sample.objects.filter(round=round_, removed_at__isnull=True), user, Perm.VIEW_SCREENING
    )


def samples_per_hour(user: Any, round_: Round) -> list[HourCount]:
    """Samples per local clock hour (Asia/Shanghai), hours without samples left out."""
    zone = timezone.get_current_timezone()
    rows = (
        _live_samples(user, round_)
        .annotate(hour=TruncHour("scanned_at", tzinfo=zone))
        .values_list("hour")
        .annotate(n=Count("pk"))
        .order_by("hour")
    )
    return [HourCount(timezone.localtime(hour, zone), n) for hour, n in rows]


def samples_per_site(user: Any, round_: Round) -> list[SiteCount]:
    rows = (
        _live_samples(user, round_)
        .values_list("site_id", "site__name")
        .annotate(n=Count("pk"))
        .order_by("-n", "site__name")
    )
    return [SiteCount(site_id, name, n) for site_id, name, n in rows]


def dashboard(user: Any, round_: Round) -> Dashboard:
    per_hour = samples_per_hour(user, round_)
    per_site = samples_per_site(user, round_)
    tubes: dict[str, int] = {}
    people: dict[str, int] = {}
    results: dict[str, int] = {}
    scoped_tubes = restrict(Tube.objects.filter(round=round_), user, Perm.VIEW_SCREENING)
    grouped = (
        scoped_tubes.values_list("status", "result")
        .annotate(n=Count("pk"), members=Sum("member_count"))
        .order_by()
    )
    pending = people_pending = 0
    for status, result, n, members in grouped:
        tubes[status] = tubes.get(status, 0) + n
        people[status] = people.get(status, 0) + (members or 0)
        if result:
            results[result] = results.get(result, 0) + n
        elif status in PENDING_STATUSES:
            pending += n
            people_pending += members or 0
    positives = restrict(
        PositiveCase.objects.filter(round=round_), user, Perm.VIEW_SCREENING
    ).aggregate(open=Count("pk", filter=Q(status=CaseStatus.OPEN)))
    return Dashboard(
        round=round_,
        samples=sum(h.samples for h in per_hour),
        per_hour=per_hour,
        per_site=per_site,
        tubes=tubes,
        people_in_tubes=people,
        results=results,
        results_pending=pending,
        people_pending=people_pending,
        positives_open=positives["open"] or 0,
    )
