"""`fangkong createuser`: creates a user with one role; bad arguments exit 2 in one line."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from fangkong.accounts.models import User
from fangkong.core.models import AuditEntry
from tests.conftest import ANYANG_COUNTY, GAOZHUANG

pytestmark = pytest.mark.django_db


def _run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("createuser", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_creates_user_with_given_password(regions) -> None:
    out, _ = _run(
        "zhang_hq",
        "--role",
        "hq",
        "--region",
        ANYANG_COUNTY,
        "--password",
        "Xq7-fangkong-2022",
        "--display-name",
        "张指挥",
        "--organization",
        "县指挥部",
    )
    user = User.objects.get(username="zhang_hq")
    assert user.check_password("Xq7-fangkong-2022")
    assert user.display_name == "张指挥" and user.organization == "县指挥部"
    assert user.region_code == ANYANG_COUNTY
    assert list(user.role_assignments.values_list("role", "region_code")) == [("hq", ANYANG_COUNTY)]
    assert "password" not in out
    assert AuditEntry.objects.get(action="accounts.create_user").actor_name == "system"


def test_generates_and_prints_a_password(regions) -> None:
    out, _ = _run("li_officer", "--role", "township_officer", "--region", "４１０５２２１１６")
    password = out.strip().splitlines()[-1].split(": ", 1)[1]
    user = User.objects.get(username="li_officer")
    assert user.check_password(password)
    assert user.region_code == GAOZHUANG
    assert len(password) >= 12


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["x_user", "--role", "boss", "--region", ANYANG_COUNTY], ["boss", "village_cadre"]),
        (["x_user", "--role", "hq", "--region", "410599"], ["410599"]),
        (["x_user", "--role", "hq", "--region", "41052x"], ["41052x"]),
        (["ab", "--role", "hq", "--region", ANYANG_COUNTY], ["3"]),
        (["x_user", "--role", "hq", "--region", ANYANG_COUNTY, "--password", "123"], []),
    ],
)
def test_bad_arguments_exit_2(regions, args, words) -> None:
    with pytest.raises(CommandError) as info:
        _run(*args)
    assert info.value.returncode == 2
    message = str(info.value)
    assert "\n" not in message
    for word in words:
        assert word in message
    assert not User.objects.exists()


def test_duplicate_name_exit_2(regions, make_user) -> None:
    make_user("Zhang_HQ")
    with pytest.raises(CommandError) as info:
        _run("zhang_hq", "--role", "hq", "--region", ANYANG_COUNTY)
    assert info.value.returncode == 2
    assert "zhang_hq" in str(info.value)


# ---------------------------------------------------------------- through the `fangkong` CLI


def _cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "FANGKONG_DATA_DIR": str(data_dir),
        "DJANGO_SETTINGS_MODULE": "fangkong.settings",
        "FANGKONG_ALLOW_DJANGO_COMMANDS": "1",
        "FANGKONG_LANGUAGE": "en",
    }
    env.pop("FANGKONG_TEST_ON_POSTGRES", None)
    env.pop("FANGKONG_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "fangkong.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_cli_end_to_end(tmp_path: Path) -> None:
    assert _cli(tmp_path, "migrate", "-v0").returncode == 0
    load = (
        "from fangkong.geo.models import Region; "
        "Region.objects.create(code='410522', name='安阳县', short_name='安阳县', level=3)"
    )
    assert _cli(tmp_path, "shell", "-c", load).returncode == 0

    made = _cli(tmp_path, "createuser", "cli_hq", "--role", "hq", "--region", "410522")
    assert made.returncode == 0, made.stderr
    assert "password: " in made.stdout

    for args in (
        ["cli_hq", "--role", "hq", "--region", "410522"],  # duplicate
        ["other", "--role", "boss", "--region", "410522"],
        ["other", "--role", "hq", "--region", "999999"],
        ["other", "--role", "hq", "--region", "12"],
    ):
        failed = _cli(tmp_path, "createuser", *args)
        assert failed.returncode == 2, (args, failed.stderr)
        assert len(failed.stderr.strip().splitlines()) == 1, failed.stderr
        assert "Traceback" not in failed.stderr
