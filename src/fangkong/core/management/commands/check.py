"""`fangkong check`: Django's system checks plus the database checks of core/checks.py."""

from __future__ import annotations

from typing import Any

from django.core.management.commands.check import Command as DjangoCheckCommand

from fangkong.core.checks import database_checks_enabled


class Command(DjangoCheckCommand):
    help = "Check the installation: settings, data dir, database reachable, migrations applied."

    def handle(self, *app_labels: Any, **options: Any) -> None:
        token = database_checks_enabled.set(True)
        try:
            super().handle(*app_labels, **options)
        finally:
            database_checks_enabled.reset(token)
