"""Re-importing a file checks only its changed rows (core.importing.fingerprints, D20).

A row whose fingerprint a person in the region holds is the row that person was last
imported from: it is counted unchanged without being checked, and a correction made by
hand since then is kept. Every other row goes through the checks as before.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from fangkong.core.models import AuditEntry
from fangkong.people.importers import PeopleImporter
from fangkong.people.importing.checking import RowChecker
from fangkong.people.models import KeyGroup, Person, ReturneeRecord
from tests.conftest import DONGZHENGSI, GAOZHUANG, JIANGTAITUN
from tests.people.import_files import (  # noqa: F401 - checking, english: autouse
    ID1,
    ID2,
    ID3,
    checking,
    english,
    error_rows,
    make_id,
    run,
    write_csv,
    write_xlsx,
)

pytestmark = pytest.mark.django_db


def ledger() -> list[list[Any]]:
    return [
        [1, "张三", ID1, "13800138000", "蒋台屯村", "一组1号", dt.date(2022, 1, 20), "北京市"],
        [2, "李四", ID2, "13900139000", "东正寺", "二组2号", None, None],
        [3, "王五", ID3, "13700137000", "蒋台屯村", "", None, None],
    ]


def counts(summary: dict[str, Any]) -> tuple[int, int, int, int]:
    return (summary["created"], summary["updated"], summary["unchanged"], summary["rejected"])


def reasons(summary: dict[str, Any]) -> list[tuple[Any, str]]:
    """(the row's first cell, the reason) of each row in the error workbook."""
    return [(row[0], row[-1]) for row in error_rows(summary)[1:]]


@pytest.fixture
def no_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any row that is checked fails the import (the forked process inherits this)."""

    def refuse(*_args: Any) -> Any:
        raise AssertionError("a row was checked")

    monkeypatch.setattr(RowChecker, "clean_row", refuse)


def test_every_imported_person_keeps_its_rows_fingerprint(regions: Any, tmp_path: Path) -> None:
    run(write_xlsx(tmp_path / "a.xlsx", ledger()))
    prints = list(Person.objects.values_list("import_fingerprint", flat=True))
    assert len(prints) == 3 and None not in prints and len(set(prints)) == 3


def test_the_same_file_again_checks_no_row(
    regions: Any, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    path = write_xlsx(tmp_path / "a.xlsx", ledger())
    run(path)
    audits = AuditEntry.objects.count()
    request.getfixturevalue("no_checks")
    again = run(path)
    assert counts(again) == (0, 0, 3, 0)
    assert Person.objects.count() == 3 and ReturneeRecord.objects.count() == 1
    assert AuditEntry.objects.count() == audits + 1  # the import's summary only
    summary = AuditEntry.objects.filter(action="people.import").latest("created_at")
    assert summary.after["unchanged"] == 3


def test_a_hand_correction_survives_the_same_file(regions: Any, tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "a.xlsx", ledger())
    run(path)
    zhang = Person.objects.get(id_number=ID1)
    Person.objects.filter(pk=zhang.pk).update(phone="13600136000", phone_reversed="00063100631")
    ReturneeRecord.objects.filter(person=zhang).delete()  # removed by hand, too
    assert counts(run(path)) == (0, 0, 3, 0)
    assert Person.objects.get(pk=zhang.pk).phone == "13600136000"
    assert not ReturneeRecord.objects.filter(person=zhang).exists()


def test_an_id_corrected_by_hand_does_not_come_back_as_a_second_person(
    regions: Any, tmp_path: Path
) -> None:
    path = write_xlsx(tmp_path / "a.xlsx", ledger())
    run(path)
    corrected = make_id(seq=124)
    Person.objects.filter(id_number=ID1).update(id_number=corrected, id_reversed=corrected[::-1])
    assert counts(run(path)) == (0, 0, 3, 0)
    assert Person.objects.count() == 3
    assert not Person.objects.filter(id_number=ID1).exists()


def test_a_changed_row_is_checked_and_applied_then_matches(regions: Any, tmp_path: Path) -> None:
    run(write_xlsx(tmp_path / "a.xlsx", ledger()))
    rows = ledger()
    rows[0][3] = "13500135000"
    path = write_xlsx(tmp_path / "b.xlsx", rows)
    assert counts(run(path)) == (0, 1, 2, 0)
    zhang = Person.objects.get(id_number=ID1)
    assert zhang.phone == "13500135000"
    entry = AuditEntry.objects.get(action="people.import_update", object_id=str(zhang.pk))
    assert entry.after == {"phone": "13500135000", "phone_reversed": "00053100531"}
    # The person now holds the new row's fingerprint: a third import checks nothing.
    assert counts(run(path)) == (0, 0, 3, 0)


def test_a_row_that_changes_nothing_stored_takes_the_new_fingerprint(
    regions: Any, tmp_path: Path
) -> None:
    """A cell that says nothing new (a blank address does not erase) still makes the row
    another row: compared, unchanged, and its fingerprint kept for the next time."""
    run(write_xlsx(tmp_path / "a.xlsx", ledger()))
    before = Person.objects.get(id_number=ID3).import_fingerprint
    rows = ledger()
    rows[2][0] = 30  # the 序号 column, not imported
    path = write_xlsx(tmp_path / "b.xlsx", rows)
    assert counts(run(path)) == (0, 0, 3, 0)
    wang = Person.objects.get(id_number=ID3)
    assert wang.import_fingerprint != before
    assert not AuditEntry.objects.filter(action="people.import_update").exists()


def test_duplicate_rows_are_rejected_again_on_reimport(regions: Any, tmp_path: Path) -> None:
    rows = [*ledger(), [9, *ledger()[0][1:]]]
    path = write_xlsx(tmp_path / "a.xlsx", rows)
    assert counts(run(path)) == (3, 0, 0, 1)
    again = run(path)
    assert counts(again) == (0, 0, 3, 1)
    assert reasons(again) == [(9.0, "The same person as row 3 of this file; this row was skipped.")]


@pytest.mark.parametrize("old_first", [True, False])
def test_an_old_and_a_new_row_for_one_person_the_first_wins(
    regions: Any, tmp_path: Path, old_first: bool
) -> None:
    run(write_xlsx(tmp_path / "a.xlsx", ledger()))
    old = ledger()[0]
    new = [4, *old[1:3], "13500135000", *old[4:]]
    pair = [old, new] if old_first else [new, old]
    result = run(write_xlsx(tmp_path / "b.xlsx", [*pair, *ledger()[1:]]))
    assert result["rejected"] == 1 and result["created"] == 0
    assert reasons(result) == [
        (pair[1][0] * 1.0, "The same person as row 3 of this file; this row was skipped.")
    ]
    phone = Person.objects.get(id_number=ID1).phone
    assert phone == ("13800138000" if old_first else "13500135000")


def test_another_region_or_mapping_checks_every_row(
    regions: Any, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    path = write_xlsx(tmp_path / "a.xlsx", ledger()[:1])
    run(path)
    stored = Person.objects.get().import_fingerprint
    # The same cells imported into the village itself mean something else to the import.
    assert counts(run(path, region=JIANGTAITUN)) == (0, 0, 1, 0)
    assert Person.objects.get().import_fingerprint != stored
    # With the address column left out, the row is checked again (and stays unchanged).
    mapping = {1: "name", 2: "id_number", 3: "phone", 4: "village"}
    assert counts(run(path, region=JIANGTAITUN, mapping=mapping)) == (0, 0, 1, 0)
    request.getfixturevalue("no_checks")
    assert counts(run(path, region=JIANGTAITUN, mapping=mapping)) == (0, 0, 1, 0)


def test_a_key_group_change_checks_every_row_again(regions: Any, tmp_path: Path) -> None:
    header = ["姓名", "身份证号", "村(社区)", "人员类别"]
    path = write_xlsx(tmp_path / "a.xlsx", [["张三", ID1, "蒋台屯村", "独居老人"]], header=header)
    assert counts(run(path)) == (1, 0, 0, 0)
    KeyGroup.objects.filter(code="elderly_alone").update(active=False)
    again = run(path)
    assert counts(again) == (0, 0, 0, 1)
    assert "Unknown key group" in reasons(again)[0][1]


def test_only_people_of_the_region_and_not_merged_are_known(regions: Any, tmp_path: Path) -> None:
    run(write_csv(tmp_path / "a.csv", ledger()))
    merged = Person.objects.get(id_number=ID3)
    keep = Person.objects.create(
        name="王五", id_type="passport", id_number="E1", region_code=JIANGTAITUN
    )
    Person.objects.filter(pk=merged.pk).update(merged_into=keep)
    zhang = Person.objects.get(id_number=ID1).pk
    li = Person.objects.get(id_number=ID2).pk

    def known(region: str) -> set[int]:
        importer = PeopleImporter(actor=None, region_code=region)
        records = importer.known_records(importer.known_records_query(), connection.cursor())
        return {
            records.get(p) for p in Person.objects.values_list("import_fingerprint", flat=True) if p
        } - {None}

    assert known(GAOZHUANG) == {zhang, li}
    assert known(JIANGTAITUN) == {zhang}
    assert known(DONGZHENGSI) == {li}


def test_a_dry_run_reimport_counts_and_writes_nothing(regions: Any, tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "a.xlsx", ledger())
    run(path)
    rows = ledger()
    rows[1][3] = "13300133000"
    changed = write_xlsx(tmp_path / "b.xlsx", rows)
    stored = dict(Person.objects.values_list("id_number", "import_fingerprint"))
    assert counts(run(changed, dry_run=True)) == (0, 1, 2, 0)
    assert dict(Person.objects.values_list("id_number", "import_fingerprint")) == stored
    assert Person.objects.get(id_number=ID2).phone == "13900139000"


def test_a_reimport_shared_by_both_processes_gives_the_same_results(
    regions: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches of two rows, each checked a little slowly: in the checking-process mode the
    writing process takes some batches itself (core.importing.checking_process); the
    counts and the rejected rows are those of the one-process mode."""
    import time

    from fangkong.core.importing import runner

    people = [
        [n, f"测试{n}", make_id(seq=n), "13800138000", "蒋台屯村", "", None, None]
        for n in range(1, 25)
    ]
    run(write_xlsx(tmp_path / "a.xlsx", people))
    monkeypatch.setattr(runner, "FIRST_CHILD_BATCH", 2)
    monkeypatch.setattr(runner, "CHILD_BATCH_ROWS", 2)
    slow = PeopleImporter.check

    def slow_check(self: PeopleImporter, rows: list[Any]) -> Any:
        time.sleep(0.01)
        return slow(self, rows)

    monkeypatch.setattr(PeopleImporter, "check", slow_check)
    again = [*people]
    again[5] = [6, "测试6", make_id(seq=6), "13500135000", "蒋台屯村", "", None, None]
    again[20] = [21, "测试21", "123", "", "蒋台屯村", "", None, None]  # a bad ID
    again.append(list(people[2]))  # 测试3 a second time, identical
    again.append([99, "新人", make_id(seq=99), "", "蒋台屯村", "", None, None])
    result = run(write_xlsx(tmp_path / "b.xlsx", again))
    assert counts(result) == (1, 1, 22, 2)
    rejected = reasons(result)
    assert rejected[0] == (21.0, "A document number has 4 to 32 letters and digits.")
    assert rejected[1] == (3.0, "The same person as row 5 of this file; this row was skipped.")
    assert Person.objects.get(id_number=make_id(seq=6)).phone == "13500135000"
    assert Person.objects.count() == 25
