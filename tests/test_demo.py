"""The demo builds the seed's world and a second run reuses it."""

from __future__ import annotations

import pytest

from fangkong.accounts.models import RoleAssignment, User
from fangkong.core.models import AuditEntry
from fangkong.demo import LOGINS, OFFICE_NAME, SITES, build_demo
from fangkong.geo.models import Region, Site
from fangkong.supplies.demo import VILLAGE_POINTS
from fangkong.supplies.models import (
    Balance,
    DeliveryRun,
    Donation,
    Item,
    RequestStatus,
    RunStatus,
    StockCount,
    SupplyRequest,
)
from fangkong.supplies.verify import find_differences

pytestmark = pytest.mark.django_db


def test_demo_builds_and_rebuilds_without_duplicates() -> None:
    said: list[str] = []
    build_demo(say=said.append)
    assert Region.objects.filter(code__startswith="410522116", level=5).count() == 27
    assert Region.objects.get(code="410522116215").short_name == "蒋台屯村"
    assert Region.objects.filter(code__startswith="410523106").exists()
    assert Site.objects.count() == len(SITES) + len(VILLAGE_POINTS)
    assert Site.objects.filter(kind="warehouse", region_code="410523106").exists()
    _check_supplies()
    _check_screening()
    for login in LOGINS:
        user = User.objects.get(username=login.username)
        assert user.check_password("fangkong-demo")
        assert RoleAssignment.objects.filter(
            user=user, role=login.role, region_code=login.region_code
        ).exists()
    assert User.objects.filter(organization=OFFICE_NAME).count() == 8
    audit_count = AuditEntry.objects.count()
    assert audit_count > 0

    build_demo(say=said.append)
    assert Site.objects.count() == len(SITES) + len(VILLAGE_POINTS)
    assert User.objects.count() == len(LOGINS) + 4
    # Only the divisions load is recorded again (every load is an audited action).
    new = AuditEntry.objects.order_by("id")[audit_count:]
    assert [e.action for e in new] == ["geo.load_divisions"]
    assert any("unchanged" in line for line in said)


def _check_supplies() -> None:
    """The seed's depot: its quantities, the 21 Jan donation, a night run, an open request."""
    depot = {
        code: quantity
        for code, quantity in Balance.objects.filter(location__name="伏道镇防疫物资库").values_list(
            "item__code", "quantity"
        )
    }
    assert Item.objects.count() >= 10
    # 1500 suits in, 100 sent on the run; 9761 bags of flour in, 250 on the run.
    assert depot["FHF"] == 1400
    assert depot["MF"] == 9761 - 250
    assert depot["FZ"] == 59  # the stock-take found one box short
    assert Donation.objects.filter(direction="outbound", donor_name__contains="社会科学").exists()
    assert Donation.objects.filter(direction="inbound").exists()
    run = DeliveryRun.objects.get()
    assert run.status == RunStatus.DISPATCHED
    assert SupplyRequest.objects.filter(status=RequestStatus.SUBMITTED).exists()
    assert SupplyRequest.objects.filter(status=RequestStatus.PARTLY_FULFILLED).exists()
    assert StockCount.objects.filter(status="closed").exists()
    assert find_differences() == []


def test_demo_names_are_generated_not_the_seeds() -> None:
    build_demo(say=lambda _: None)
    real_people = {"周春堂", "吴家清", "赵鹏", "唐春艳"}
    names = set(User.objects.values_list("display_name", flat=True))
    assert not names & real_people


def _check_screening() -> None:
    """第9轮 over 高庄镇 in progress: finished and lagging villages, one pool positive traced."""
    from fangkong.screening.models import (
        CaseStatus,
        PositiveCase,
        ResampleTask,
        Round,
        RoundStatus,
        RoundTarget,
        Sample,
        TestResult,
    )

    round_ = Round.objects.get(name="第9轮全员核酸")
    assert round_.status == RoundStatus.SAMPLING
    assert round_.target_count == RoundTarget.objects.filter(round=round_).count() > 1000

    def share(code: str) -> float:
        rows = RoundTarget.objects.filter(round=round_, region_code=code)
        return rows.exclude(first_sampled_at=None).count() / rows.count()

    assert share("410522116215") > 0.95  # 蒋台屯村 finished
    assert share("410522116216") < 0.5  # 遵贵屯村 lags
    assert Sample.objects.filter(round=round_, out_of_area=True).count() == 1
    # Spread over the morning (samples per hour shows several hours), each finished
    # village's tubes closed before its boxes were handed to the lab.
    from django.db.models import F
    from django.db.models.functions import TruncHour

    from fangkong.screening.models import Tube

    hours = Sample.objects.filter(round=round_).annotate(h=TruncHour("scanned_at"))
    assert hours.values("h").distinct().count() >= 3
    shipped = Tube.objects.filter(round=round_, box__handover__isnull=False)
    assert shipped.exists()
    assert not shipped.filter(closed_at__gt=F("box__handover__handed_at")).exists()
    case = PositiveCase.objects.get(round=round_)
    assert case.status == CaseStatus.OPEN
    assert case.result == TestResult.POOL_POSITIVE
    tasks = ResampleTask.objects.filter(case=case)
    assert tasks.count() == case.member_count == 10
    assert set(tasks.values_list("region_code", flat=True)) == {"410522116220"}
    assert tasks.exclude(controlled_at=None).count() == 3
