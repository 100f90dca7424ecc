"""System checks run by `fangkong check`.

The database checks (reachable, migrations applied) run only under `fangkong check`
(core's ``check`` command turns them on): Django runs system checks before `migrate`
too, where "migrations not applied" would be noise, and before commands that must work
with no database at all (makemessages, collectstatic).
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Warning, register

database_checks_enabled: ContextVar[bool] = ContextVar("fangkong_database_checks", default=False)


@register()
def data_dir_writable(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if not os.access(settings.DATA_DIR, os.W_OK):
        return [Warning(f"data dir {settings.DATA_DIR} is not writable", id="fangkong.W001")]
    return []


@register()
def debug_off(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if settings.DEBUG:
        return [
            Warning(
                "FANGKONG_DEBUG is on: error pages show internals; turn it off in service",
                id="fangkong.W002",
            )
        ]
    return []


def unapplied_migrations(alias: str = "default") -> list[str]:
    """Names ("app.0002_x") of migrations not yet applied to the database."""
    from django.db import connections
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connections[alias])
    targets = executor.loader.graph.leaf_nodes()
    return [f"{m.app_label}.{m.name}" for m, _backwards in executor.migration_plan(targets)]


@register()
def database_ready(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if not database_checks_enabled.get():
        return []
    from django.db import connections

    connection = connections["default"]
    try:
        connection.ensure_connection()
    except Exception as exc:
        return [
            Warning(
                f"the database cannot be reached: {exc}",
                hint="check FANGKONG_DATABASE_URL and that the database server runs",
                id="fangkong.W003",
            )
        ]
    try:
        pending = unapplied_migrations()
    except Exception as exc:
        return [Warning(f"cannot read the migration state: {exc}", id="fangkong.W004")]
    if pending:
        shown = ", ".join(pending[:5]) + (" …" if len(pending) > 5 else "")
        return [
            Warning(
                f"{len(pending)} migration(s) not applied: {shown}",
                hint="run `fangkong migrate`",
                id="fangkong.W004",
            )
        ]
    return []
