"""`fangkong import lab-results FILE` and `fangkong screening trace TUBE [--reveal]`."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from fangkong.core.models import AccessLogEntry
from fangkong.screening.models import PositiveCase
from tests.screening.conftest import Gaozhuang
from tests.screening.results_fixtures import make_tube, positive_pool, write_csv, write_xlsx

pytestmark = pytest.mark.django_db


def run(*args: str) -> list[str]:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip().splitlines()


@pytest.fixture
def tubes(gz: Gaozhuang) -> None:
    make_tube(gz.round, gz.site, "T001", gz.jiangtaitun[:3])
    make_tube(gz.round, gz.site, "T002", gz.jiangtaitun[3:6])


ROWS = [
    [1, "T001", "阴性", "2022-01-20 15:30", "疾控"],
    [2, "T002", "混管阳性", "2022-01-20 15:31", "疾控"],
    [3, "X001", "阴性", "2022-01-20 15:32", "疾控"],
    [4, "T001", "待定", "2022-01-20 15:33", "疾控"],
]


def test_import_lab_results_last_line(tubes: None, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "lab.csv", ROWS, encoding="gb18030")
    errors = tmp_path / "errors.xlsx"
    lines = run("import", "lab-results", str(path), "--no-progress", "--errors", str(errors))
    assert lines[-1] == "results 2, unknown tubes 1, positives 1"
    assert "unchanged 0, rejected 2" in lines[-2]
    assert "unknown tubes: X001" in lines
    assert errors.is_file()
    again = run("import", "lab-results", str(path), "--no-progress")
    assert again[-1] == "results 0, unknown tubes 1, positives 0"
    assert again[-2].startswith("unchanged 2, rejected 2")
    assert PositiveCase.objects.count() == 1


def test_import_lab_results_xlsx_dry_run_and_bad_arguments(tubes: None, tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "lab.xlsx", ROWS[:2])
    lines = run("import", "lab-results", str(path), "--no-progress", "--dry-run")
    assert "dry run: nothing was written" in lines
    assert lines[-1] == "results 2, unknown tubes 0, positives 1"
    assert not PositiveCase.objects.exists()
    with pytest.raises(CommandError):
        run("import", "lab-results", str(path), "--region", "410522116")
    with pytest.raises(CommandError):
        run("import", "lab-results", str(tmp_path / "missing.csv"))
    picture = tmp_path / "photo.xlsx"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    with pytest.raises(CommandError, match="not a spreadsheet"):
        run("import", "lab-results", str(picture), "--no-progress")


def test_trace_prints_members_masked(gz: Gaozhuang) -> None:
    positive_pool(gz)
    lines = run("screening", "trace", "p001")
    assert lines[0].startswith("tube P001: 第9轮全员核酸, 蒋台屯村核酸采样点, Pool positive")
    assert lines[1].startswith("positive case")
    members = lines[2:]
    assert [line.split("\t")[0] for line in members] == ["王秀英", "李桂兰", "张伟", "马超"]
    person = gz.jiangtaitun[0]
    first = members[0].split("\t")
    assert first[1] != person.id_number and first[1].endswith(person.id_number[-4:])
    assert first[2] != person.phone and first[3] == "蒋台屯村"
    assert first[-1] == "To re-sample"
    assert not AccessLogEntry.objects.exists()


def test_trace_reveal_is_logged_as_the_system(gz: Gaozhuang) -> None:
    positive_pool(gz)
    lines = run("screening", "trace", "P001", "--reveal")
    person = gz.jiangtaitun[0]
    assert person.id_number in lines[2] and person.phone in lines[2] and person.address in lines[2]
    entry = AccessLogEntry.objects.get()
    assert (entry.user, entry.kind, entry.row_count, entry.unmasked) == (None, "reveal", 4, True)


def test_trace_unknown_tube_exits_1(gz: Gaozhuang) -> None:
    with pytest.raises(CommandError) as caught:
        run("screening", "trace", "NOPE")
    assert caught.value.returncode == 1
    with pytest.raises(CommandError):
        run("screening", "bogus")


def test_trace_through_the_fangkong_command(gz: Gaozhuang, monkeypatch: Any, capsys: Any) -> None:
    from fangkong.cli import main

    positive_pool(gz)
    monkeypatch.setenv("FANGKONG_ALLOW_DJANGO_COMMANDS", "1")
    with pytest.raises(SystemExit) as caught:
        main(["screening", "trace", "NOPE"])
    assert caught.value.code == 1
    assert "no tube" in capsys.readouterr().err
