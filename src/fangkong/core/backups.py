"""Database backup and restore for `fangkong backup` / `fangkong restore`.

SQLite uses the online backup API (``sqlite3.Connection.backup``): it copies a consistent
snapshot page by page while the app keeps serving, WAL included, which a plain file copy
does not. PostgreSQL uses pg_dump's custom format and pg_restore.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from django.db import connections

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"


class BackupError(Exception):
    """A refusal with a one-line reason for the operator."""


def _vendor(alias: str) -> str:
    return connections[alias].vendor


def _sqlite_source(alias: str) -> sqlite3.Connection:
    # Django's own connection: also right for the in-memory database of the tests.
    connection = connections[alias]
    connection.ensure_connection()
    return connection.connection  # type: ignore[return-value]


def _database_file(alias: str) -> Path | None:
    name = str(connections[alias].settings_dict["NAME"])
    if name == ":memory:" or name.startswith("file:"):
        return None
    return Path(name).resolve()


def backup(target: Path, alias: str = "default") -> Path:
    """Write a backup of the database to ``target``; returns the path written."""
    target = Path(target)
    if target.is_dir():
        raise BackupError(f"{target} is a directory; give a file name")
    if not target.parent.exists():
        raise BackupError(f"folder {target.parent} does not exist")
    vendor = _vendor(alias)
    if vendor == "sqlite":
        live = _database_file(alias)
        if live is not None and target.resolve() in {
            live,
            Path(f"{live}-wal"),
            Path(f"{live}-shm"),
        }:
            raise BackupError("the backup file must not be the database itself")
        partial = target.with_name(target.name + ".partial")
        partial.unlink(missing_ok=True)
        dest = sqlite3.connect(partial)
        try:
            _sqlite_source(alias).backup(dest)
        finally:
            dest.close()
        os.replace(partial, target)  # a crash mid-backup never leaves a truncated FILE
        return target
    if vendor == "postgresql":
        _run_pg(["pg_dump", "--format=custom", "--no-owner", f"--file={target}"], alias)
        return target
    raise BackupError(f"backups of {vendor} databases are not supported")


def check_backup_file(source: Path, alias: str = "default") -> None:
    """Refuse a missing file, a file of the wrong kind, or a database of another app."""
    source = Path(source)
    if not source.exists():
        raise BackupError(f"{source} does not exist")
    if not source.is_file():
        raise BackupError(f"{source} is not a file")
    with source.open("rb") as handle:
        head = handle.read(16)
    vendor = _vendor(alias)
    if vendor == "sqlite":
        if head != SQLITE_MAGIC:
            raise BackupError(f"{source} is not a SQLite database")
        if not _sqlite_is_fangkong(source):
            raise BackupError(f"{source} is a SQLite database, but not one of fangkong")
        return
    if vendor == "postgresql":
        if not head.startswith(PGDUMP_MAGIC):
            raise BackupError(f"{source} is not a pg_dump custom-format file (pg_dump -Fc)")
        listing = _run_pg(["pg_restore", "--list", str(source)], alias, database=False)
        if " django_migrations " not in listing:
            raise BackupError(f"{source} is a pg_dump file, but not of a fangkong database")
        return
    raise BackupError(f"restores of {vendor} databases are not supported")


def _sqlite_is_fangkong(path: Path) -> bool:
    try:
        probe = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return False
    try:
        rows = probe.execute(
            "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='django_migrations'"
        ).fetchone()
        if not rows or not rows[0]:
            return False
        core = probe.execute("SELECT count(*) FROM django_migrations WHERE app='core'").fetchone()
        return bool(core and core[0])
    except sqlite3.Error:
        return False
    finally:
        probe.close()


def restore(source: Path, alias: str = "default") -> None:
    """Replace the database's content with the backup in ``source`` (checked first)."""
    source = Path(source)
    check_backup_file(source, alias)
    vendor = _vendor(alias)
    if vendor == "sqlite":
        src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
        try:
            src.backup(_sqlite_source(alias))
        finally:
            src.close()
        return
    connections[alias].close()  # our own session would hold locks on the tables dropped
    _run_pg(
        ["pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction", str(source)],
        alias,
    )


def _run_pg(command: list[str], alias: str, database: bool = True) -> str:
    settings_dict: dict[str, Any] = connections[alias].settings_dict
    if shutil.which(command[0]) is None:
        raise BackupError(f"{command[0]} is not installed (PostgreSQL client tools)")
    args = list(command)
    env = dict(os.environ)
    if database:
        for flag, key in (("--host", "HOST"), ("--port", "PORT"), ("--username", "USER")):
            if settings_dict.get(key):
                args.insert(1, f"{flag}={settings_dict[key]}")
        args.insert(1, f"--dbname={settings_dict['NAME']}")
        if settings_dict.get("PASSWORD"):
            env["PGPASSWORD"] = str(settings_dict["PASSWORD"])
        sslmode = (settings_dict.get("OPTIONS") or {}).get("sslmode")
        if sslmode:
            env["PGSSLMODE"] = str(sslmode)
    result = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        lines = (result.stderr or result.stdout or "").strip().splitlines()
        reason = lines[-1] if lines else f"exit code {result.returncode}"
        raise BackupError(f"{command[0]} failed: {reason}")
    return result.stdout
