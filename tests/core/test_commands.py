"""Operator commands: backup/restore round trips, one-line CLI errors, check, serve."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from fangkong.core.checks import database_checks_enabled, database_ready
from fangkong.geo.models import Site
from tests.core.conftest import fangkong, product_env

ON_POSTGRES = connection.vendor == "postgresql"


# In-process round trip (runs on SQLite, and on PostgreSQL when the suite does) ------------


@pytest.mark.django_db(transaction=True)
def test_backup_restore_round_trip(tmp_path) -> None:
    Site.objects.create(name="蒋台屯村东口卡点", kind="checkpoint", region_code="410522116215")
    backup = tmp_path / "fangkong.backup"
    call_command("backup", str(backup))
    assert backup.stat().st_size > 0
    Site.objects.all().delete()
    Site.objects.create(name="备份之后才建的", kind="office", region_code="410522116")
    call_command("restore", str(backup), interactive=False)
    names = set(Site.objects.values_list("name", flat=True))
    assert names == {"蒋台屯村东口卡点"}


@pytest.mark.django_db
def test_restore_refuses_wrong_files(tmp_path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a database")
    other_sqlite = tmp_path / "other.sqlite3"
    with sqlite3.connect(other_sqlite) as conn:
        conn.execute("CREATE TABLE t (x)")
    for path, reason in [
        (tmp_path / "missing.backup", "does not exist"),
        (tmp_path, "not a file"),
        (text, "not a"),
        (other_sqlite, "not a" if ON_POSTGRES else "not one of fangkong"),
    ]:
        with pytest.raises(CommandError, match=reason) as raised:
            call_command("restore", str(path), interactive=False)
        assert raised.value.returncode == 2


@pytest.mark.django_db
def test_backup_refuses_bad_targets(tmp_path) -> None:
    with pytest.raises(CommandError, match="does not exist") as raised:
        call_command("backup", str(tmp_path / "no" / "such" / "dir.backup"))
    assert raised.value.returncode == 2
    with pytest.raises(CommandError, match="directory"):
        call_command("backup", str(tmp_path))


# The real CLI on a SQLite file -------------------------------------------------------------


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.mark.slow
def test_cli_backup_and_restore_sqlite_file(product_dir) -> None:
    db = product_dir / "fangkong.sqlite3"
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO geo_region (code, name, short_name, level) "
            "VALUES ('41', '河南省', '河南省', 1)"
        )
    backup = product_dir / "backup.sqlite3"
    made = fangkong(product_dir, "backup", str(backup))
    assert made.returncode == 0, made.stderr
    assert backup.read_bytes()[:16] == b"SQLite format 3\x00"
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM geo_region")
    restored = fangkong(product_dir, "restore", str(backup), "--noinput")
    assert restored.returncode == 0, restored.stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT name FROM geo_region").fetchall() == [("河南省",)]
    # into itself: refused
    itself = fangkong(product_dir, "backup", str(db))
    assert itself.returncode == 2 and "database itself" in _one_line(itself.stderr)
    # without --noinput and no terminal: nothing happens
    cancelled = fangkong(product_dir, "restore", str(backup))
    assert cancelled.returncode == 2 and "cancelled" in cancelled.stderr


@pytest.mark.parametrize(
    "args,expected",
    [
        (["foo"], "unknown command 'foo'"),
        (["backup"], "the following arguments are required: file"),
        (["restore"], "the following arguments are required: file"),
        (["restore", "/nonexistent"], "/nonexistent does not exist"),
        (["worker", "--count", "0"], "--count must be between 1 and"),
        (["worker", "--count", "many"], "invalid int value"),
        (["serve", "--port", "70000"], "--port must be between 1 and 65535"),
    ],
)
def test_cli_errors_are_one_line_and_exit_2(tmp_path, args, expected) -> None:
    result = fangkong(tmp_path, *args)
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert expected in _one_line(result.stderr)
    assert result.stdout == ""


def test_cli_restore_of_a_text_file(tmp_path) -> None:
    text = tmp_path / "dump.sql"
    text.write_text("SELECT 1;")
    result = fangkong(tmp_path, "restore", str(text), "--noinput")
    assert result.returncode == 2
    assert "is not a SQLite database" in _one_line(result.stderr)


def test_cli_without_arguments_prints_usage(tmp_path) -> None:
    result = fangkong(tmp_path)
    assert result.returncode == 2 and "usage: fangkong" in result.stdout


# check ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_check_reports_unapplied_migrations(tmp_path, product_dir) -> None:
    fresh = fangkong(tmp_path, "check")
    assert fresh.returncode == 0
    assert "fangkong.W004" in fresh.stderr + fresh.stdout
    migrated = fangkong(product_dir, "check")
    assert migrated.returncode == 0
    assert "W004" not in migrated.stderr + migrated.stdout
    assert "no issues" in migrated.stdout


@pytest.mark.django_db
def test_database_check_runs_only_when_asked() -> None:
    assert database_ready() == []  # off: Django runs checks before migrate too
    token = database_checks_enabled.set(True)
    try:
        assert database_ready() == []  # the test database is migrated
    finally:
        database_checks_enabled.reset(token)


# serve ------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
            return response.status
    except OSError:
        return 0


@pytest.mark.slow
def test_serve_runs_web_and_worker_and_stops_on_sigterm(product_dir: Path) -> None:
    port = _free_port()
    serve = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from fangkong.cli import main; main()",
            "serve",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        env=product_env(product_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=product_dir,
    )
    try:
        deadline = time.monotonic() + 30
        while _get(f"http://127.0.0.1:{port}/api/v1/health") != 200:
            assert serve.poll() is None, serve.stderr.read().decode() if serve.stderr else ""
            assert time.monotonic() < deadline, "serve did not answer"
            time.sleep(0.2)
        assert _get(f"http://127.0.0.1:{port}/static/vendor/htmx/htmx.min.js") == 200
        assert (product_dir / "static" / "vendor" / "htmx" / "htmx.min.js").exists()
        children = subprocess.run(
            ["pgrep", "-P", str(serve.pid)], capture_output=True, text=True, check=False
        ).stdout.split()
        assert len(children) == 2, children  # granian and the worker
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=20) == 0
        for pid in children:
            with pytest.raises(ProcessLookupError):
                os.kill(int(pid), 0)
        assert _get(f"http://127.0.0.1:{port}/api/v1/health") == 0
    finally:
        if serve.poll() is None:
            serve.kill()


def test_serve_refuses_a_taken_port(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = fangkong(tmp_path, "serve", "--port", str(port))
    assert result.returncode == 2
    assert "is already in use" in _one_line(result.stderr)


@pytest.mark.slow
def test_serve_stops_when_the_web_server_dies(product_dir: Path) -> None:
    # granian is told to load an app that does not exist, so it exits at once
    port = _free_port()
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import fangkong.core.management.commands.serve as serve; "
            "original = serve.granian_command; "
            "serve.granian_command = lambda *a: [*original(*a)[:-1], 'no_such_module:app']; "
            "from fangkong.cli import main; main()",
            "serve",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        env=product_env(product_dir),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=product_dir,
    )
    assert result.returncode == 1, result.stderr
    assert "the web process exited; stopping the rest" in result.stderr


def test_builtin_commands_also_give_one_line_errors() -> None:
    import subprocess
    import sys

    for args in (["migrate", "--bogus"], ["createuser"]):
        out = subprocess.run(
            [sys.executable, "-m", "fangkong.cli", *args], capture_output=True, text=True
        )
        assert out.returncode == 2, args
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1, out.stderr
        assert "Traceback" not in out.stderr
