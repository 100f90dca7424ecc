"""The round's target population: who is in it, and in which order door-to-door teams go."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from fangkong.screening.actions.rounds import common_region, start_sampling
from fangkong.screening.models import RoundStatus, RoundTarget
from fangkong.screening.targets import PRIORITY_80_PLUS, PRIORITY_BEDRIDDEN, PRIORITY_DEFAULT
from tests.conftest import GAOZHUANG
from tests.screening.conftest import Gaozhuang


def test_target_is_the_area_residents_with_priorities(gz: Gaozhuang) -> None:
    assert gz.round.status == RoundStatus.SAMPLING
    assert gz.round.region_code == GAOZHUANG
    targets = {t.person_id: t for t in RoundTarget.objects.filter(round=gz.round)}
    assert gz.round.target_count == 12 == len(targets)
    assert gz.outsider.pk not in targets
    assert targets[gz.jiangtaitun[0].pk].priority == PRIORITY_BEDRIDDEN
    assert targets[gz.jiangtaitun[1].pk].priority == PRIORITY_80_PLUS
    assert targets[gz.jiangtaitun[5].pk].priority == PRIORITY_DEFAULT
    assert all(t.first_sampled_at is None for t in targets.values())


def test_start_twice_is_refused(gz: Gaozhuang) -> None:
    with pytest.raises(ValidationError):
        start_sampling(actor=None, round_=gz.round)
    assert RoundTarget.objects.filter(round=gz.round).count() == 12


def test_common_region() -> None:
    assert common_region(["410522116215", "410522116220"]) == "410522116"
    assert common_region(["410522116215", "410523106201"]) == "4105"
    assert common_region(["410522116"]) == "410522116"
