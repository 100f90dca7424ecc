"""Loading the packaged division data: subtrees, ancestors, idempotence, bad codes."""

from __future__ import annotations

import csv
import lzma
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied

from fangkong.accounts.roles import Role
from fangkong.core.jobs import run_inline
from fangkong.core.models import AuditEntry, JobStatus
from fangkong.geo import actions, divisions
from fangkong.geo.divisions import (
    DATA_DIR,
    EDITION_ROWS,
    LEVEL_FILES,
    LoadResult,
    iter_rows,
    load_divisions,
    select,
)
from fangkong.geo.models import Region

pytestmark = pytest.mark.django_db

GAOZHUANG = "410522116"


class FakeProgress:
    def __init__(self) -> None:
        self.total: int | None = None
        self.done = 0

    def set_total(self, total: int) -> None:
        self.total = total

    def advance(self, count: int = 1) -> None:
        self.done += count


def test_load_anyang_county_from_packaged_data() -> None:
    progress = FakeProgress()
    result = load_divisions(["410522"], progress=progress)
    count = Region.objects.count()
    assert result == LoadResult(created=count, updated=0, unchanged=0)
    assert progress.total == progress.done == count

    gaozhuang = Region.objects.get(code=GAOZHUANG)
    assert (gaozhuang.name, gaozhuang.short_name, gaozhuang.level) == ("高庄镇", "高庄镇", 4)
    assert gaozhuang.parent_id == "410522"
    villages = Region.objects.filter(parent_id=GAOZHUANG)
    assert villages.count() == 27
    jiangtaitun = Region.objects.get(code="410522116215")
    assert (jiangtaitun.name, jiangtaitun.short_name) == ("蒋台屯村民委员会", "蒋台屯村")
    assert (jiangtaitun.level, jiangtaitun.parent_id) == (5, GAOZHUANG)
    assert Region.objects.get(code="410522116220").short_name == "东正寺村"
    assert {"遵贵屯村", "伯台村"} <= set(villages.values_list("short_name", flat=True))


def test_ancestors_are_loaded_and_nothing_else() -> None:
    load_divisions(["410522"])
    assert Region.objects.get(code="41").name == "河南省"
    assert Region.objects.get(code="4105").name == "安阳市"
    assert Region.objects.get(code="410522").parent_id == "4105"
    assert Region.objects.get(code="4105").parent_id == "41"
    assert Region.objects.get(code="41").parent_id is None
    # Siblings of the ancestors are not loaded: only the requested subtree.
    assert not Region.objects.filter(code="410523").exists()
    assert not Region.objects.filter(code="42").exists()
    assert set(Region.objects.filter(level__lte=2).values_list("code", flat=True)) == {"41", "4105"}
    # Every row's parent is present (the tree is complete).
    codes = set(Region.objects.values_list("code", flat=True))
    parents = set(Region.objects.exclude(parent=None).values_list("parent_id", flat=True))
    assert parents <= codes


def test_second_run_changes_nothing() -> None:
    first = load_divisions(["410522", "410523"])
    second = load_divisions(["410522", "410523"])
    assert second == LoadResult(created=0, updated=0, unchanged=first.created)
    entries = list(AuditEntry.objects.filter(action="geo.load_divisions").order_by("id"))
    assert len(entries) == 2
    assert entries[1].actor_name == "system"
    assert entries[1].after["unchanged"] == first.created
    assert entries[1].after["codes"] == ["410522", "410523"]


def test_changed_and_missing_rows_are_put_right() -> None:
    first = load_divisions([GAOZHUANG])
    Region.objects.filter(code="410522116215").update(name="旧名", short_name="旧名")
    Region.objects.filter(code="410522116220").delete()
    again = load_divisions([GAOZHUANG])
    assert again == LoadResult(created=1, updated=1, unchanged=first.created - 2)
    assert Region.objects.get(code="410522116215").short_name == "蒋台屯村"


def test_loading_over_the_test_fixture_rows(regions: Any) -> None:
    # The fixture holds the same rows as the data: loading finds them unchanged.
    result = load_divisions(["410522116215"])
    assert result == LoadResult(created=0, updated=0, unchanged=5)


def test_small_blocks_mixing_stored_and_new_rows(monkeypatch: Any) -> None:
    monkeypatch.setattr(divisions, "CHUNK", 7)
    load_divisions([GAOZHUANG])
    Region.objects.filter(code="410522116215").update(short_name="旧名")
    result = load_divisions(["410522"])
    total = Region.objects.count()
    assert result == LoadResult(created=total - 31, updated=1, unchanged=30)
    assert load_divisions(["410522"]) == LoadResult(created=0, updated=0, unchanged=total)


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_blocks_commit_as_they_go(monkeypatch: Any) -> None:
    """The production path: no caller transaction, a commit every COMMIT_SECONDS."""
    monkeypatch.setattr(divisions, "CHUNK", 100)
    monkeypatch.setattr(divisions, "COMMIT_SECONDS", 0.0)
    commits: list[int] = []
    real_atomic = divisions.transaction.atomic

    def counting_atomic(*args: Any, **kwargs: Any) -> Any:
        commits.append(1)
        return real_atomic(*args, **kwargs)

    monkeypatch.setattr(divisions.transaction, "atomic", counting_atomic)
    first = load_divisions(["410522"])
    assert first.created == Region.objects.count() > 100
    assert len(commits) >= first.created // 100
    assert load_divisions(["410522"]) == LoadResult(created=0, updated=0, unchanged=first.created)


def test_township_and_village_codes() -> None:
    assert load_divisions([GAOZHUANG]).created == 4 + 27
    assert load_divisions(["410523106201"]).created == 3  # 汤阴县, 伏道镇, the village


def test_overlapping_codes_load_once() -> None:
    result = load_divisions(["410522", GAOZHUANG, " 410522116215 "])
    assert result.created == Region.objects.count()
    assert Region.objects.filter(parent_id=GAOZHUANG).count() == 27


@pytest.mark.parametrize(
    ("codes", "message"),
    [
        (["999999"], "no division with code 999999"),
        (["410599"], "no division with code 410599"),
        (["410522999"], "no division with code 410522999"),
        (["410522116999"], "no division with code 410522116999"),
        (["41x"], "not a division code: '41x'"),
        (["41052"], "not a division code: '41052'"),
        (["４１０５２x"], "not a division code"),
        (["٤١"], "not a division code"),  # other scripts' digits are not codes
        (["410522116215001"], "not a division code"),
        ([], "no division code given"),
        ([" "], "no division code given"),
    ],
)
def test_bad_codes_raise_before_writing(codes: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_divisions(codes)
    assert Region.objects.count() == 0
    assert not AuditEntry.objects.filter(action="geo.load_divisions").exists()


def test_full_width_digits_are_read_as_digits() -> None:
    assert select(["４１０５２２"]).prefixes == ("410522",)


def test_all_is_case_insensitive_and_wins() -> None:
    assert select(["ALL"]).everything
    assert select(["410522", "all"]).everything


def test_village_groups_are_left_alone() -> None:
    load_divisions([GAOZHUANG])
    group = actions.add_village_group(actor=None, village_code="410522116215", name="第一组")
    again = load_divisions([GAOZHUANG])
    assert again.created == again.updated == 0
    assert again.unchanged == 31
    assert Region.objects.filter(code=group.code).exists()


def test_actor_needs_load_permission(make_user: Any) -> None:
    cadre = make_user(role=Role.VILLAGE_CADRE, region="410522")
    with pytest.raises(PermissionDenied):
        load_divisions(["410522"], actor=cadre)
    hq = make_user(role=Role.HQ_COMMANDER, region="4105")
    assert load_divisions(["410522116"], actor=hq).created == 31
    with pytest.raises(PermissionDenied):
        load_divisions(["410523106"], actor=make_user(role=Role.HQ_COMMANDER, region="410522"))
    with pytest.raises(PermissionDenied):  # all needs an unrestricted user
        load_divisions(["all"], actor=hq)
    entry = AuditEntry.objects.get(action="geo.load_divisions")
    assert entry.actor_id == hq.pk


def test_job_kind_runs_with_progress() -> None:
    job = run_inline("geo.load_divisions", {"codes": [GAOZHUANG]}, actor=None, show_bar=False)
    assert job.status == JobStatus.SUCCEEDED
    assert job.result == {"created": 31, "updated": 0, "unchanged": 0}
    assert job.total == job.done == 31


def test_job_with_a_bad_code_fails_cleanly() -> None:
    job = run_inline("geo.load_divisions", {"codes": ["999999"]}, actor=None, show_bar=False)
    assert job.status == JobStatus.FAILED
    assert "no division with code 999999" in job.result["error"]


def test_packaged_data_matches_the_edition() -> None:
    """The files hold the edition's row counts, sorted, with parents one level up."""
    assert {p.name for p in DATA_DIR.iterdir()} >= {f for _, f, _ in LEVEL_FILES} | {"LICENSE"}
    previous_codes: set[str] = set()
    for level, filename, length in LEVEL_FILES:
        with lzma.open(DATA_DIR / filename, "rt", encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle))[1:]
        codes = [row[0] for row in rows]
        assert len(codes) == EDITION_ROWS[level], filename
        assert codes == sorted(codes) and len(set(codes)) == len(codes)
        assert {len(code) for code in codes} == {length}
        if previous_codes:
            parent_length = len(next(iter(previous_codes)))
            assert {code[:parent_length] for code in codes} <= previous_codes
        # COPY's text format and the CSV reader need no escaping in these names.
        assert not any(ch in row[1] for row in rows for ch in "\t\\\n\r")
        previous_codes = set(codes)
    assert sum(EDITION_ROWS.values()) == 665_276


def test_iter_rows_of_a_township_in_parent_order() -> None:
    rows = list(iter_rows(select([GAOZHUANG])))
    assert [r[0] for r in rows[:4]] == ["41", "4105", "410522", GAOZHUANG]
    assert len(rows) == 31
    assert all(r[4] == GAOZHUANG for r in rows[4:])


@pytest.mark.slow
def test_load_all() -> None:
    progress = FakeProgress()
    result = load_divisions(["all"], progress=progress)
    assert result == LoadResult(created=665_276, updated=0, unchanged=0)
    assert progress.total == progress.done == 665_276
    assert Region.objects.filter(level=5).count() == 620_573
    assert Region.objects.get(code="410522116215").short_name == "蒋台屯村"
    again = load_divisions(["all"])
    assert again == LoadResult(created=0, updated=0, unchanged=665_276)
