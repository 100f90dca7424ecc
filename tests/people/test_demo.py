"""The synthetic population: valid IDs with local codes, households, tags, idempotent."""

from __future__ import annotations

import random
from typing import Any

import pytest
from stdnum.cn import ric

from fangkong.people import demo
from fangkong.people.identity import parse_mainland
from fangkong.people.models import Household, Person, PersonTag, ReturneeRecord
from tests.conftest import DONGZHENGSI, JIANGTAITUN

pytestmark = pytest.mark.django_db


class Ctx:
    def __init__(self) -> None:
        self.rng = random.Random(7)
        self.said: list[str] = []

    def say(self, text: str) -> None:
        self.said.append(text)


def test_populate(regions: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(demo, "WELL_POPULATED", {JIANGTAITUN: 120, DONGZHENGSI: 80})
    ctx = Ctx()
    demo.populate(ctx)
    people = Person.objects.all()
    assert people.filter(region_code=JIANGTAITUN).count() >= 120
    assert people.filter(region_code=DONGZHENGSI).count() >= 80
    assert people.filter(region_code__startswith="410523106").count() >= 60
    assert not set(people.values_list("name", flat=True)) & demo.FORBIDDEN_NAMES
    for person in people.filter(id_type="mainland"):
        # stdnum's is_valid also wants the address code in its own table, which lacks
        # 410522; the check digit and the birth date are what matter here.
        parsed = parse_mainland(person.id_number)
        assert ric.calc_check_digit(person.id_number) == person.id_number[-1]
        assert (parsed.sex, parsed.birth_date) == (person.sex, person.birth_date)
        assert person.id_number[:6] == person.region_code[:6]
    assert people.filter(id_type__in=["none", "passport"]).exists()
    assert Household.objects.filter(head__isnull=False).count() == Household.objects.count()
    assert people.filter(household__isnull=True).count() == 0
    assert ReturneeRecord.objects.exists()
    assert all(
        r.arrival_date.year == 2022 and r.arrival_date.month == 1
        for r in ReturneeRecord.objects.all()
    )
    codes = set(PersonTag.objects.values_list("group__code", flat=True))
    assert {"elderly_alone", "child", "chronic"} <= codes
    count = people.count()
    demo.populate(Ctx())
    assert Person.objects.count() == count
