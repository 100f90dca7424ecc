"""Helpers for tests that run fangkong in subprocesses against a real SQLite file."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def product_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of an installed fangkong using ``data_dir`` (never the test DB)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FANGKONG_", "DJANGO_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="fangkong.settings",
        FANGKONG_DATA_DIR=str(data_dir),
        FANGKONG_SECRET_KEY="test-only-secret",
        FANGKONG_TASK_BACKEND="django_tasks_db.DatabaseBackend",
        FANGKONG_LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT / "src"),
    )
    env.update(extra)
    return env


def fangkong(data_dir: Path, *args: str, timeout: float = 60, **env: str) -> Any:
    """Run the `fangkong` CLI (cli.main) in a subprocess; returns the CompletedProcess."""
    return subprocess.run(
        [sys.executable, "-c", "from fangkong.cli import main; main()", *args],
        env=product_env(data_dir, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=data_dir,
    )


def django_shell(data_dir: Path, code: str, **env: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "django", "shell", "--no-imports", "-c", code],
        env=product_env(data_dir, **env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=data_dir,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def copy_sqlite(source: Path, target: Path) -> None:
    src = sqlite3.connect(source)
    dest = sqlite3.connect(target)
    try:
        src.backup(dest)
    finally:
        dest.close()
        src.close()


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fully migrated fangkong SQLite database, built once per test process."""
    data_dir = tmp_path_factory.mktemp("template")
    result = subprocess.run(
        [sys.executable, "-m", "django", "migrate", "--verbosity=0"],
        env=product_env(data_dir),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return data_dir / "fangkong.sqlite3"


@pytest.fixture
def product_dir(tmp_path: Path, migrated_template: Path) -> Path:
    """A data dir holding a fresh copy of the migrated database."""
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    copy_sqlite(migrated_template, data_dir / "fangkong.sqlite3")
    shutil.copymode(migrated_template, data_dir / "fangkong.sqlite3")
    return data_dir
