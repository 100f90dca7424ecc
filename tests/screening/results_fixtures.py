"""Tubes with samples for the result and tracing tests, and result files in every format.

Tubes are made the way a site makes them: ``open_tube`` and one ``scan`` per person
(screening.actions.sampling, screening.actions.scan), then ``close_tube``; ``removed`` people are
scanned and taken out again (a mis-scan). The sample's region is the person's village,
the tube's the site's.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.utils import timezone

from fangkong.geo.models import Site
from fangkong.people.models import Person
from fangkong.screening.actions.sampling import close_tube, open_tube, remove_sample
from fangkong.screening.actions.scan import scan
from fangkong.screening.models import Round, Tube, TubeStatus

HEADER = ["序号", "试管编码", "检测结果", "检测时间", "检测机构"]
LAB = "安阳市疾控中心实验室"


def make_tube(
    round_: Round,
    site: Site,
    barcode: str,
    people: Sequence[Person],
    *,
    status: str = TubeStatus.CLOSED,
    capacity: int | None = None,
    removed: Sequence[Person] = (),
    reason: str = "",
) -> Tube:
    """A tube of ``people`` at ``site``, closed unless ``status`` is open. ``reason`` is
    the repeat reason for people already sampled in the round (a re-sample, 单采)."""
    tube = open_tube(
        actor=None,
        round_=round_,
        site=site,
        barcode=barcode,
        capacity=capacity or max(10, len(people) + len(removed)),
    )
    for person in [*people, *removed]:
        outcome = scan(
            actor=None,
            tube_barcode=barcode,
            person_code=person.id_number,
            reason=reason or "",
        )
        assert outcome.ok, (person.name, outcome.code, outcome.message)
    for person in removed:
        sample = tube.samples.get(person=person, removed_at__isnull=True)
        remove_sample(actor=None, sample=sample, reason="扫错了")
    tube.refresh_from_db()
    if status != TubeStatus.OPEN and tube.status == TubeStatus.OPEN:
        tube = close_tube(actor=None, tube=tube)
    return tube


def local(text: str) -> dt.datetime:
    """A Beijing time as an aware datetime: local("2022-01-20 15:30")."""
    naive = dt.datetime.fromisoformat(text)
    return timezone.make_aware(naive, timezone.get_default_timezone())


def csv_bytes(
    rows: Sequence[Sequence[Any]], *, encoding: str = "utf-8-sig", header: Sequence[str] = HEADER
) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(row)
    return buffer.getvalue().encode(encoding)


def write_csv(path: Path, rows: Sequence[Sequence[Any]], **kwargs: Any) -> Path:
    path.write_bytes(csv_bytes(rows, **kwargs))
    return path


def write_xlsx(
    path: Path,
    rows: Sequence[Sequence[Any]],
    *,
    header: Sequence[str] = HEADER,
    title: str | None = "高庄镇第9轮全员核酸检测结果",
) -> Path:
    import xlsxwriter

    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("结果")
    stamp = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    start = 0
    if title:
        sheet.merge_range(0, 0, 0, len(header) - 1, title)
        start = 1
    for col, text in enumerate(header):
        sheet.write_string(start, col, text)
    for r, row in enumerate(rows, start=start + 1):
        for col, value in enumerate(row):
            if isinstance(value, dt.datetime):
                sheet.write_datetime(r, col, value, stamp)
            elif isinstance(value, (int, float)):
                sheet.write_number(r, col, value)
            else:
                sheet.write_string(r, col, str(value))
    workbook.close()
    return path


def positive_pool(gz: Any, barcode: str = "P001", hours_ago: float = 2.0, reason: str = "") -> Any:
    """A 混管阳性 10:1 tube at 蒋台屯's site: 王秀英, 李桂兰, 张伟 (蒋台屯) and 马超 (东正寺);
    returns its PositiveCase (tasks: three in 蒋台屯, one in 东正寺)."""
    from fangkong.screening.actions.results import record_result
    from fangkong.screening.models import PositiveCase, TestResult

    people = [*gz.jiangtaitun[:3], gz.dongzhengsi[1]]
    tube = make_tube(gz.round, gz.site, barcode, people, reason=reason)
    at = timezone.now() - dt.timedelta(hours=hours_ago)
    record_result(None, tube, TestResult.POOL_POSITIVE, at, lab=LAB)
    return PositiveCase.objects.select_related("tube").get(tube=tube)
