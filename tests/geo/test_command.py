"""`fangkong geo load`: output, and exit code 2 with one line for bad input."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connections

from fangkong import cli
from fangkong.geo.models import Region

pytestmark = pytest.mark.django_db


def test_load_prints_counts_and_is_idempotent() -> None:
    out = StringIO()
    call_command("geo", "load", "410522116", "--no-progress", stdout=out)
    assert out.getvalue().strip() == "regions: created 31, updated 0, unchanged 0"
    out = StringIO()
    call_command("geo", "load", "410522116", "--no-progress", stdout=out)
    assert out.getvalue().strip() == "regions: created 0, updated 0, unchanged 31"
    assert Region.objects.filter(parent_id="410522116").count() == 27


def test_load_with_progress_bar_writes_it_to_stderr(capsys: Any) -> None:
    out = StringIO()
    call_command("geo", "load", "410523106", stdout=out)
    assert "regions: created" in out.getvalue()
    assert "rows" in capsys.readouterr().err  # tqdm's bar


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["geo", "load", "999999"], "no division with code 999999"),
        (["geo", "load", "410522", "999999"], "no division with code 999999"),
        (["geo", "load", "41x"], "not a division code"),
        (["geo", "load", "4105 22"], "not a division code"),
        (["geo", "load"], "required"),
        (["geo"], "required"),
        (["geo", "unload", "41"], "invalid choice"),
    ],
)
def test_bad_arguments_exit_2_without_traceback(
    argv: list[str], needle: str, capsys: Any, monkeypatch: Any
) -> None:
    # run_from_argv closes every connection when done; on PostgreSQL that would close the
    # test's own connection (its transaction holds the test data).
    monkeypatch.setattr(connections, "close_all", lambda: None)
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert needle in err
    assert "Traceback" not in err
    assert not Region.objects.exists()
