"""`fangkong backup FILE`: a consistent copy of the database, safe while the app runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from fangkong.core.backups import BackupError, backup
from fangkong.core.management.base import OperatorCommand


class Command(OperatorCommand):
    help = (
        "Back up the database to FILE: SQLite through its online backup API, "
        "PostgreSQL with pg_dump -Fc. Safe while the app runs."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="the backup file to write")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            path = backup(Path(options["file"]))
        except BackupError as exc:
            raise CommandError(str(exc), returncode=2) from None
        size = path.stat().st_size
        self.stdout.write(f"backup written: {path} ({size:,} bytes)")
