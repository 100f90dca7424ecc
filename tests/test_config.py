"""Settings come from the environment only."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fangkong import config


def test_sqlite_default_is_in_data_dir(tmp_path: Path) -> None:
    db = config.parse_database_url("", tmp_path / "fangkong.sqlite3")
    assert db["ENGINE"] == "django.db.backends.sqlite3"
    assert db["NAME"] == str(tmp_path / "fangkong.sqlite3")
    assert db["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in db["OPTIONS"]["init_command"]
    assert db["OPTIONS"]["timeout"] >= 5


def test_sqlite_absolute_url(tmp_path: Path) -> None:
    db = config.parse_database_url("sqlite:////srv/fk/db.sqlite3", tmp_path / "x")
    assert db["NAME"] == "/srv/fk/db.sqlite3"


def test_postgres_url() -> None:
    db = config.parse_database_url(
        "postgresql://fk:p%40ss@db.local:5433/fangkong?sslmode=require", Path("x")
    )
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["USER"], db["PASSWORD"], db["HOST"], db["PORT"], db["NAME"]) == (
        "fk",
        "p@ss",
        "db.local",
        "5433",
        "fangkong",
    )
    assert db["OPTIONS"] == {"sslmode": "require"}


def test_unknown_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported scheme"):
        config.parse_database_url("mysql://x/y", Path("x"))


def test_secret_key_generated_once_and_private(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("FANGKONG_SECRET_KEY", raising=False)
    first = config.secret_key(tmp_path)
    assert len(first) >= 50
    assert config.secret_key(tmp_path) == first
    assert oct((tmp_path / "secret_key").stat().st_mode & 0o777) == "0o600"
    monkeypatch.setenv("FANGKONG_SECRET_KEY", "from-env")
    assert config.secret_key(tmp_path) == "from-env"


def test_env_flag(monkeypatch) -> None:
    monkeypatch.setenv("X_FLAG", "yes")
    assert config.env_flag("X_FLAG")
    monkeypatch.setenv("X_FLAG", "0")
    assert not config.env_flag("X_FLAG")
    monkeypatch.setenv("X_FLAG", "")
    assert config.env_flag("X_FLAG", default=True)


def _product_settings(env: dict[str, str], expr: str) -> str:
    """Evaluate an expression over fangkong.settings in a clean interpreter."""
    code = f"import fangkong.settings as s; print({expr})"
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("FANGKONG_")}
    full_env.update(env)
    out = subprocess.run(
        [sys.executable, "-c", code], env=full_env, capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def test_product_defaults(tmp_path: Path) -> None:
    env = {"FANGKONG_DATA_DIR": str(tmp_path)}
    assert _product_settings(env, "s.DEBUG") == "False"
    assert _product_settings(env, "s.LANGUAGE_CODE") == "zh-hans"
    assert _product_settings(env, "s.TIME_ZONE") == "Asia/Shanghai"
    assert _product_settings(env, "s.PORT") == "8000"
    assert _product_settings(env, "s.PASSWORD_HASHERS[0]").endswith("Argon2PasswordHasher")
    assert _product_settings(env, "s.DATABASES['default']['NAME']") == str(
        tmp_path / "fangkong.sqlite3"
    )


def test_product_settings_follow_the_environment(tmp_path: Path) -> None:
    env = {
        "FANGKONG_DATA_DIR": str(tmp_path),
        "FANGKONG_DEBUG": "1",
        "FANGKONG_ALLOWED_HOSTS": "fk.example.cn, 10.0.0.5",
        "FANGKONG_PORT": "9000",
        "FANGKONG_LANGUAGE": "en",
        "FANGKONG_TIME_ZONE": "UTC",
        "FANGKONG_DATABASE_URL": "postgresql://u@h/db",
    }
    assert _product_settings(env, "s.DEBUG") == "True"
    assert _product_settings(env, "s.ALLOWED_HOSTS") == "['fk.example.cn', '10.0.0.5']"
    assert _product_settings(env, "s.PORT") == "9000"
    assert _product_settings(env, "s.LANGUAGE_CODE") == "en"
    assert _product_settings(env, "s.TIME_ZONE") == "UTC"
    assert _product_settings(env, "s.DATABASES['default']['ENGINE']").endswith("postgresql")


def test_sqlite_file_database_runs_in_wal_with_immediate_transactions(
    tmp_path: Path, django_db_blocker
) -> None:
    from django.db.backends.sqlite3.base import DatabaseWrapper

    settings_dict = config.parse_database_url("", tmp_path / "wal.sqlite3")
    settings_dict.update(
        {
            "ATOMIC_REQUESTS": False,
            "AUTOCOMMIT": True,
            "CONN_MAX_AGE": 0,
            "CONN_HEALTH_CHECKS": False,
            "TIME_ZONE": None,
            "USER": "",
            "PASSWORD": "",
            "HOST": "",
            "PORT": "",
            "TEST": {},
        }
    )
    wrapper = DatabaseWrapper(settings_dict, alias="wal_probe")
    try:
        with django_db_blocker.unblock(), wrapper.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode")
            assert cursor.fetchone()[0] == "wal"
            cursor.execute("PRAGMA busy_timeout")
            assert cursor.fetchone()[0] >= 5000
        assert wrapper.transaction_mode == "IMMEDIATE"
    finally:
        wrapper.close()
